import type { Logger } from '../observability/logger.js';

/**
 * Runs `task` until it ends or SIGTERM/SIGINT arrives. The first signal aborts the task's signal,
 * and the task stops cleanly (logging `stopping` first); a second signal exits at once with 130.
 */
export async function runUntilSignal(
  logger: Logger,
  stopping: string,
  task: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const controller = new AbortController();
  const stop = () => {
    if (controller.signal.aborted) process.exit(130);
    logger.info(`${stopping} (signal again to exit at once)`);
    controller.abort();
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
