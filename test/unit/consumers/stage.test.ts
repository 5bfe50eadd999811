/** runStage: how a part's fatal error ends the stage (restart, or stop with the error). */
import { describe, expect, it } from 'vitest';
import { runStage, type StagePart, stageFailure } from '../../../src/consumers/stage.js';
import { DsrCdcError, decide } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';

const silent = createLogger({ level: 'silent', component: 'test' });

/** Runs a stage whose one part reports `error` as fatal once started; resolves with what it ended with. */
async function endedWith(error: Error): Promise<unknown> {
  const part: StagePart = {
    name: 'part',
    start: async () => {
      setImmediate(() => part.onFatal?.(error));
    },
    stop: async () => undefined,
  };
  return runStage('stage', [part], silent, new AbortController().signal).then(
    () => 'no error',
    (failure: unknown) => failure,
  );
}

describe('runStage', () => {
  it('ends with a permanent error as it is, so the supervisor does not restart into it', async () => {
    const rejected = new DsrCdcError(
      'REQUEST_REJECTED',
      'Snowflake statement failed (003001): insufficient privileges',
    );
    const failure = await endedWith(rejected);
    expect(failure).toBe(rejected);
    expect(decide(failure)).toBe('halt');
  });

  it('ends with a retryable error after a retryable failure', async () => {
    const failure = await endedWith(new DsrCdcError('CONNECTION_FAILED', 'network', { retryable: true }));
    expect(decide(failure)).toBe('retry');
    expect((failure as Error).message).toBe('stage stopped: network');
  });

  it('restarts after a kafkajs consumer crash (a foreign error)', () => {
    expect(decide(stageFailure('stage', new Error('The group is rebalancing')))).toBe('retry');
  });
});
