import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { DsrCdcError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import type { Component, ComponentId } from '../../../src/runtime/component.js';
import { Host, selectComponents } from '../../../src/runtime/host.js';
import { checkReadiness } from '../../../src/runtime/readiness.js';
import { memoryLogger } from '../../support/logger.js';

const silent = createLogger({ level: 'silent' });

/** A component that runs until aborted (taking `stopMs` to stop), or fails after `failAfterMs`. */
function fake(id: ComponentId, { stopMs = 0, failAfterMs }: { stopMs?: number; failAfterMs?: number } = {}) {
  const log: string[] = [];
  const component: Component = {
    id,
    run: (signal) =>
      new Promise<void>((resolve, reject) => {
        log.push('started');
        if (failAfterMs !== undefined) {
          setTimeout(
            () => reject(new DsrCdcError('PREREQUISITE_MISSING', 'the slot was invalidated')),
            failAfterMs,
          );
        }
        signal.addEventListener('abort', () => {
          log.push('stopping');
          setTimeout(() => {
            log.push('stopped');
            resolve();
          }, stopMs);
        });
      }),
  };
  return { component, log };
}

describe('Host', () => {
  it('stops every component when the signal aborts and resolves once all have stopped', async () => {
    const a = fake('source:a', { stopMs: 20 });
    const b = fake('group:b', { stopMs: 5 });
    const metrics = createMetrics();
    const host = new Host([a.component, b.component], { logger: silent, shutdownTimeoutMs: 5_000, metrics });
    const controller = new AbortController();
    const running = host.run(controller.signal);
    await new Promise((r) => setTimeout(r, 10));
    expect(host.states.get('source:a')).toBe('running');
    expect((await metrics.componentUp.get()).values.map((v) => v.value)).toEqual([1, 1]);
    controller.abort();
    await running;
    expect(a.log).toEqual(['started', 'stopping', 'stopped']);
    expect(b.log).toEqual(['started', 'stopping', 'stopped']);
    expect([...host.states.values()]).toEqual(['stopped', 'stopped']);
    expect((await metrics.componentUp.get()).values.map((v) => v.value)).toEqual([0, 0]);
  });

  it('a component that fails for good stops the others and the host rejects naming it', async () => {
    const bad = fake('source:bad', { failAfterMs: 10 });
    const good = fake('group:good', { stopMs: 5 });
    const { logger, lines } = memoryLogger();
    const host = new Host([bad.component, good.component], { logger, shutdownTimeoutMs: 5_000 });
    const error = await host.run(new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DsrCdcError);
    expect(error).toMatchObject({
      code: 'PREREQUISITE_MISSING',
      message: 'component source:bad failed: the slot was invalidated',
    });
    expect(good.log).toEqual(['started', 'stopping', 'stopped']);
    expect(host.states.get('source:bad')).toBe('failed');
    expect(lines.join('')).toContain(
      'component source:bad failed: the slot was invalidated; stopping the others',
    );
  });

  it('gives up on components that do not stop within shutdownTimeoutMs, naming them', async () => {
    const slow = fake('source:slow', { stopMs: 10_000 });
    const quick = fake('group:quick');
    const host = new Host([slow.component, quick.component], { logger: silent, shutdownTimeoutMs: 50 });
    const controller = new AbortController();
    const running = host.run(controller.signal).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    const started = Date.now();
    controller.abort();
    const error = await running;
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((error as Error).message).toMatch(
      /^shutdown took longer than runtime.shutdownTimeoutMs \(50 ms\); still stopping: source:slow\./,
    );
  });
});

describe('selectComponents', () => {
  const text = [
    'pipeline: { name: p }',
    'kafka: { brokers: ["127.0.0.1:1"], clientId: p }',
    'registry: { url: "http://127.0.0.1:2" }',
    'sources:',
    '  app:',
    '    kind: postgres',
    '    connection: { host: h, port: 5432, database: d, user: u, password: "${env:PG}" }',
    '    publication: pub',
    '    slot: slot',
    '    tables: { include: [public.t] }',
  ].join('\n');
  const load = (yaml: string) =>
    loadConfig({ path: 'dsr-cdc.yaml', env: { PG: 'pw' }, readFile: () => yaml });
  const config = load(text);

  it('hosts every source and only the groups the config asks for', () => {
    expect(selectComponents({ config, logger: silent }, []).map((c) => c.id)).toEqual(['source:app']);
    expect(selectComponents({ config, logger: silent }, ['source:app']).map((c) => c.id)).toEqual([
      'source:app',
    ]);
  });

  it('hosts type-coercion once the config has a warehouse section', () => {
    const withWarehouse = load(`${text}\nwarehouse: {}\n`);
    expect(selectComponents({ config: withWarehouse, logger: silent }, []).map((c) => c.id)).toEqual([
      'source:app',
      'group:type-coercion',
    ]);
  });

  it('refuses an unknown or unconfigured --only, naming what is configured', () => {
    for (const only of [['source:nope'], ['group:pii-discovery'], ['app']]) {
      expect(() => selectComponents({ config, logger: silent }, only)).toThrow(
        expect.objectContaining({
          code: 'CONFIG_INVALID',
          field: '--only',
          message: expect.stringContaining('configured: source:app'),
        }),
      );
    }
  });
});

describe('checkReadiness', () => {
  it('is ready only when every check answered within the timeout, and says why not', async () => {
    const result = await checkReadiness(
      [
        { name: 'kafka', check: async () => undefined },
        { name: 'registry', check: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) },
        { name: 'postgres:app', check: () => new Promise(() => undefined) },
      ],
      50,
    );
    expect(result).toEqual({
      ready: false,
      checks: {
        kafka: { ok: true },
        registry: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:1' },
        'postgres:app': { ok: false, error: 'no answer within 50 ms' },
      },
    });
    expect((await checkReadiness([{ name: 'kafka', check: async () => undefined }])).ready).toBe(true);
  });
});
