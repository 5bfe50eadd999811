/**
 * The `runtime` config section of `dsr-cdc run`: the shutdown bound and the circuit breakers.
 * Composed into the config schema in config/schema.ts.
 */
import { z } from 'zod';
import { DEFAULT_BREAKER } from '../resilience.js';

export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

const DEFAULTS = { shutdownTimeoutMs: DEFAULT_SHUTDOWN_TIMEOUT_MS, breaker: DEFAULT_BREAKER };

export function runtimeSectionSchema() {
  return z
    .strictObject({
      shutdownTimeoutMs: z
        .number()
        .int()
        .min(1_000)
        .default(DEFAULT_SHUTDOWN_TIMEOUT_MS)
        .meta({
          description:
            'After SIGTERM/SIGINT: how long components may take to stop intake, flush and commit before the ' +
            'process exits anyway (what was not acknowledged is sent again after a restart).',
        }),
      breaker: z
        .strictObject({
          consecutiveFailures: z.number().int().min(1).default(DEFAULT_BREAKER.consecutiveFailures).meta({
            description: 'Network failures in a row that open the circuit breaker of an external system.',
          }),
          halfOpenAfterMs: z.number().int().min(100).default(DEFAULT_BREAKER.halfOpenAfterMs).meta({
            description: 'How long an open breaker fails calls at once before it lets a trial call through.',
          }),
        })
        .default(DEFAULT_BREAKER),
    })
    .default(DEFAULTS);
}
