import type { Logger } from '../observability/logger.js';

/**
 * Runs `task` until it ends or SIGTERM/SIGINT arrives. The first signal aborts the task's signal,
 * and the task stops cleanly (logging `stopping` first); a second signal exits at once with 130.
 * With `exitAfterMs`, a process still alive that long after the first signal exits with 1 (what
 * was not acknowledged yet is sent again after a restart).
 */
export async function runUntilSignal(
  logger: Logger,
  stopping: string,
  task: (signal: AbortSignal) => Promise<void>,
  { exitAfterMs }: { exitAfterMs?: number } = {},
): Promise<void> {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    logger.info(`${stopping} (signal again to exit at once)`);
    controller.abort();
    if (exitAfterMs !== undefined) {
      setTimeout(() => {
        logger.error(`still running ${exitAfterMs} ms after the stop signal; exiting`);
        process.exit(1);
      }, exitAfterMs).unref();
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  try {
    await task(controller.signal);
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
  }
}
