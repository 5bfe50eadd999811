#!/usr/bin/env bash
# `npm test`: every test, unit and integration. Integration tests talk to the real local stack,
# so this brings the stack up first (idempotent: a running stack is reused, a missing one is
# downloaded, installed and started). DSR_CDC_STACK=external skips that, for services you run
# yourself (docker compose, or servers named by the DSR_CDC_* connection variables).
# Extra arguments go to vitest, e.g. `npm test -- --project unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${DSR_CDC_STACK:-local}" != external ]; then
  npx tsx stack/cli.ts up
fi
npx vitest run "$@"
