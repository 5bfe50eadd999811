/**
 * Keeps a source or consumer group running: a failure the error policy calls retryable (a lost connection to
 * Postgres or Kafka, an unreachable registry) restarts it after an exponential backoff with
 * jitter; any other failure ends it. The source resumes from its durable position each time.
 */
import { ExponentialBackoff, handleWhen, retry, TaskCancelledError } from 'cockatiel';
import { decide, isDsrCdcError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

export interface SuperviseOptions {
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** Runs `runOnce` until it returns, fails for good, or `signal` aborts (then resolves). */
export async function supervise(
  runOnce: () => Promise<void>,
  logger: Logger,
  signal: AbortSignal,
  { initialDelayMs = 500, maxDelayMs = 30_000 }: SuperviseOptions = {},
): Promise<void> {
  const policy = retry(
    handleWhen((error) => decide(error) === 'retry'),
    {
      maxAttempts: Number.MAX_SAFE_INTEGER,
      backoff: new ExponentialBackoff({ initialDelay: initialDelayMs, maxDelay: maxDelayMs }),
    },
  );
  policy.onRetry(({ delay, ...reason }) => {
    const error = 'error' in reason ? reason.error : undefined;
    logger.warn(
      {
        delayMs: Math.round(delay),
        code: isDsrCdcError(error) ? error.code : undefined,
        reason: (error as Error)?.message,
      },
      'failed; restarting after backoff',
    );
  });
  // cockatiel's backoff delay does not end on abort: a stop during it must not wait for it (up to
  // maxDelayMs, beyond a shutdown bound), while a stop during a run waits for its clean end
  let running = false;
  const execution = policy.execute(async () => {
    if (signal.aborted) return;
    running = true;
    try {
      await runOnce();
    } finally {
      running = false;
    }
  }, signal);
  const stoppedInBackoff = new Promise<void>((resolve) => {
    const check = () => {
      if (!running) resolve();
    };
    if (signal.aborted) check();
    else signal.addEventListener('abort', check, { once: true });
  });
  try {
    await Promise.race([execution, stoppedInBackoff]);
  } catch (error) {
    if (error instanceof TaskCancelledError && signal.aborted) return;
    throw error;
  } finally {
    execution.catch(() => undefined);
  }
}
