import { bulkhead } from 'cockatiel';
import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../../src/errors.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { type Poller, PollerComponent } from '../../../../src/sources/poller/component.js';

const logger = createLogger({ level: 'silent', component: 'test' });

/** A poller whose runs take `ms` and then do what `outcome` says; counts runs in flight. */
function fakePoller(ms: number, outcome: () => number = () => 1, shared = { inFlight: 0, maxInFlight: 0 }) {
  const state = { inFlight: 0, maxInFlight: 0, runs: 0, closed: 0 };
  const poller: Poller = {
    runOnce: async () => {
      state.inFlight += 1;
      shared.inFlight += 1;
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
      shared.maxInFlight = Math.max(shared.maxInFlight, shared.inFlight);
      state.runs += 1;
      try {
        await new Promise((r) => setTimeout(r, ms));
        return outcome();
      } finally {
        state.inFlight -= 1;
        shared.inFlight -= 1;
      }
    },
    test: async () => [{ name: 'connect', ok: true }],
    close: async () => {
      state.closed += 1;
    },
    positions: () => ({ cursors: {} }),
  };
  return { poller, state };
}

describe('PollerComponent', () => {
  it('runs at most the shared limit of polls at once across pollers', async () => {
    const limit = bulkhead(2, 100);
    const shared = { inFlight: 0, maxInFlight: 0 };
    const fakes = [0, 1, 2].map(() => fakePoller(30, () => 1, shared));
    const components = fakes.map(
      (fake, i) => new PollerComponent(`p${i}`, 'rest-poller', '* * * * * *', fake.poller, logger, limit),
    );
    const records = await Promise.all(components.flatMap((c) => [c.sync(), c.sync()]));
    expect(records.every((r) => r.status === 'succeeded')).toBe(true);
    expect(shared.maxInFlight).toBe(2);
    // one component never overlaps its own runs
    expect(fakes.every((f) => f.state.maxInFlight === 1)).toBe(true);
  });

  it('keeps a run history with scrubbed errors, newest first', async () => {
    let fail = false;
    const { poller, state } = fakePoller(1, () => {
      if (fail) throw new DsrCdcError('CONNECTION_FAILED', 'Postgres poll failed', { retryable: true });
      return 3;
    });
    const component = new PollerComponent('p', 'postgres-poller', '* * * * * *', poller, logger);
    await component.sync();
    fail = true;
    const failed = await component.sync();
    expect(failed).toMatchObject({ status: 'failed', rows: 0, error: 'Postgres poll failed' });
    expect(state.closed).toBe(1); // connections are reopened by the next run
    const status = component.status() as { runs: { status: string; rows: number }[] };
    expect(status.runs.map((r) => [r.status, r.rows])).toEqual([
      ['failed', 0],
      ['succeeded', 3],
    ]);
  });

  it('keeps polling on its schedule after a retryable failure and stops run() on any other', async () => {
    let calls = 0;
    const { poller } = fakePoller(1, () => {
      calls += 1;
      if (calls === 1) throw new DsrCdcError('CONNECTION_FAILED', 'lost', { retryable: true });
      throw new DsrCdcError('CONFIG_INVALID', 'table app.t does not exist');
    });
    const component = new PollerComponent('p', 'postgres-poller', '* * * * * *', poller, logger);
    const controller = new AbortController();
    await expect(component.run(controller.signal)).rejects.toThrow('table app.t does not exist');
    expect(calls).toBe(2);
  });

  it('stops when its signal aborts', async () => {
    const { poller, state } = fakePoller(1);
    const component = new PollerComponent('p', 'postgres-poller', '* * * * * *', poller, logger);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 1_200);
    await component.run(controller.signal);
    expect(state.runs).toBeGreaterThanOrEqual(1);
    expect(state.closed).toBeGreaterThanOrEqual(1);
  });
});
