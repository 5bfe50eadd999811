import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { supervise } from '../../../src/sources/supervise.js';

const silent = createLogger({ level: 'silent' });

describe('supervise', () => {
  it('restarts after a retryable failure and ends at once when stopped during the backoff delay', async () => {
    let runs = 0;
    const controller = new AbortController();
    const done = supervise(
      async () => {
        runs += 1;
        throw new DsrCdcError('CONNECTION_FAILED', 'lost', { retryable: true });
      },
      silent,
      controller.signal,
      { initialDelayMs: 60_000, maxDelayMs: 60_000 },
    );
    await new Promise((r) => setTimeout(r, 20));
    const stoppedAt = Date.now();
    controller.abort();
    await done;
    expect(Date.now() - stoppedAt).toBeLessThan(1_000);
    expect(runs).toBe(1);
  });

  it('a stop during a run waits for the run to end cleanly', async () => {
    const controller = new AbortController();
    let finished = false;
    const done = supervise(
      () =>
        new Promise<void>((resolve) =>
          controller.signal.addEventListener('abort', () =>
            setTimeout(() => {
              finished = true;
              resolve();
            }, 50),
          ),
        ),
      silent,
      controller.signal,
    );
    controller.abort();
    await done;
    expect(finished).toBe(true);
  });

  it('a failure that is not retryable ends it', async () => {
    const error = new DsrCdcError('PREREQUISITE_MISSING', 'no slot');
    await expect(
      supervise(
        async () => {
          throw error;
        },
        silent,
        new AbortController().signal,
      ),
    ).rejects.toBe(error);
  });
});
