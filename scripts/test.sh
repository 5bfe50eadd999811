#!/usr/bin/env bash
# `npm test`: every test, unit and integration. Integration tests talk to the real local stack,
# so this brings the stack up first (idempotent: a running stack is reused, a missing one is
# downloaded, installed and started). Extra arguments go to vitest, e.g. `npm test -- --project unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsx stack/cli.ts up
npx vitest run "$@"
