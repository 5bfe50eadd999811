import { describe, expect, it } from 'vitest';
import { buildAdminApp, SHUTTING_DOWN } from '../../../src/admin/server.js';
import { Secret } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { Breakers } from '../../../src/resilience.js';
import type { Component } from '../../../src/runtime/component.js';
import { Host } from '../../../src/runtime/host.js';

const TOKEN = 'admin-token-for-this-test';
const silent = createLogger({ level: 'silent' });

/** A source that, once aborted, keeps flushing until `finish` is called (a slow, clean stop). */
function slowSource() {
  let finish: () => void = () => undefined;
  const component: Component = {
    id: 'source:app',
    run: (signal) =>
      new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          finish = resolve;
        });
      }),
    test: async () => ({ ok: true, checks: [] }),
  };
  return { component, finish: () => finish() };
}

describe('admin API during shutdown', () => {
  it('refuses new work with 503 from the moment the runtime stops, while reads keep answering', async () => {
    const source = slowSource();
    const host = new Host([source.component], { logger: silent, shutdownTimeoutMs: 10_000 });
    const submitted: unknown[] = [];
    const app = buildAdminApp({
      host: '127.0.0.1',
      port: 0,
      token: new Secret('test', TOKEN),
      bodyLimit: 4096,
      runtime: host,
      readiness: async () => ({ ready: true, checks: {} }),
      dsr: {
        submit: async (input) => {
          submitted.push(input);
          return { requestId: `r-${submitted.length}`, submittedAt: '2025-03-01T10:00:00.000Z' } as never;
        },
        result: async () => undefined,
        close: async () => undefined,
      },
      breakers: new Breakers(),
      metrics: createMetrics(),
      logger: silent,
    });
    const request = { type: 'access', identifiers: [{ type: 'email', value: 'a@example.test' }] };
    const call = (method: 'GET' | 'POST', url: string) =>
      app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${TOKEN}` },
        ...(method === 'POST' ? { payload: request } : {}),
      });

    const controller = new AbortController();
    const running = host.run(controller.signal);
    expect((await call('POST', '/dsr/requests')).statusCode).toBe(202);
    expect((await call('GET', '/readyz')).statusCode).toBe(200);

    controller.abort(); // SIGTERM: the source is still flushing
    for (const url of ['/dsr/requests', '/sources/app/test']) {
      const refused = await call('POST', url);
      expect({ url, status: refused.statusCode }).toEqual({ url, status: 503 });
      expect(refused.json()).toEqual({ error: SHUTTING_DOWN });
      expect(refused.headers['retry-after']).toBe('10');
    }
    expect(submitted).toHaveLength(1);
    const ready = await call('GET', '/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, stopping: true });
    const status = await call('GET', '/status');
    expect(status.statusCode).toBe(200);
    expect(status.json()).toMatchObject({ components: { 'source:app': { state: 'stopping' } } });

    source.finish();
    await running;
    await app.close();
  });
});
