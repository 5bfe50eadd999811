import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../src/errors.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { Breakers } from '../../src/resilience.js';

const outage = () =>
  Promise.reject(new DsrCdcError('CONNECTION_FAILED', 'ECONNREFUSED', { retryable: true }));

describe('Breakers', () => {
  it('opens after consecutive outages, fails fast while open, closes after a good trial call', async () => {
    const metrics = createMetrics();
    const breakers = new Breakers({ consecutiveFailures: 2, halfOpenAfterMs: 50 }, metrics);
    const state = async () =>
      (await metrics.breakerState.get()).values.find((v) => v.labels.system === 'registry')?.value;

    await expect(breakers.call('registry', async () => 'ok')).resolves.toBe('ok');
    expect(await state()).toBe(0);
    // an answer (not retryable) is not an outage and does not count
    for (let i = 0; i < 3; i++) {
      await expect(
        breakers.call('registry', () => Promise.reject(new DsrCdcError('REQUEST_REJECTED', '404'))),
      ).rejects.toThrow('404');
    }
    expect(breakers.states()).toEqual({ registry: 'closed' });

    await expect(breakers.call('registry', outage)).rejects.toThrow('ECONNREFUSED');
    await expect(breakers.call('registry', outage)).rejects.toThrow('ECONNREFUSED');
    expect(breakers.states()).toEqual({ registry: 'open' });
    expect(await state()).toBe(1);

    let called = false;
    const refused = await breakers
      .call('registry', async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(refused).toMatchObject({
      code: 'CONNECTION_FAILED',
      retryable: true,
      message: 'registry is unavailable: its circuit breaker is open after repeated network failures',
    });

    await new Promise((r) => setTimeout(r, 60));
    await expect(breakers.call('registry', async () => 'back')).resolves.toBe('back');
    expect(breakers.states()).toEqual({ registry: 'closed' });
    expect(await state()).toBe(0);
  });

  it('keeps one breaker per system', async () => {
    const breakers = new Breakers({ consecutiveFailures: 1, halfOpenAfterMs: 10_000 }, createMetrics());
    await expect(breakers.call('kafka', outage)).rejects.toThrow();
    expect(breakers.states()).toEqual({ kafka: 'open' });
    await expect(breakers.call('postgres', async () => 1)).resolves.toBe(1);
    expect(breakers.states()).toEqual({ kafka: 'open', postgres: 'closed' });
  });
});
