/**
 * The admin API of `dsr-cdc run` on the real stack: the runtime hosts a Postgres source and the
 * pii-discovery group from one config file (its own pipeline name, so its own consumer groups,
 * on the shared dsr.* topics), and every endpoint is exercised over HTTP, including a DSR
 * submitted with POST /dsr/requests and answered end to end.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTTING_DOWN } from '../../src/admin/server.js';
import { loadConnections } from '../../src/config/connections.js';
import { loadConfig } from '../../src/config/load.js';
import { parseDsrResult } from '../../src/dsr/contracts.js';
import { createLogger } from '../../src/observability/logger.js';
import { runRuntime } from '../../src/runtime/index.js';
import { CdcFixture } from '../support/cdc.js';
import { uniqueName } from '../support/names.js';
import { waitFor, writeSourceConfig } from '../support/source-process.js';

describe('admin API of dsr-cdc run', () => {
  const fx = new CdcFixture();
  const pipeline = uniqueName('admin_api');
  const email = `Ada.${pipeline}@Example.test`;
  const token = randomBytes(32).toString('base64url');
  const env = {
    DSR_CDC_TEST_PEPPER: randomBytes(32).toString('base64'),
    DSR_CDC_TEST_ADMIN_TOKEN: token,
    DSR_CDC_TEST_PG_PASSWORD: loadConnections().postgres.password,
  };
  const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-admin-'));
  const controller = new AbortController();
  let table: string;
  let running: Promise<void>;
  let url = '';

  const call = (path: string, init: RequestInit & { auth?: string | null } = {}) => {
    const { auth = `Bearer ${token}`, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (auth !== null) headers.set('authorization', auth);
    return fetch(`${url}${path}`, { ...rest, headers });
  };
  const post = (path: string, body: unknown) =>
    call(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    await fx.open();
    table = await fx.table('customers', 'id int PRIMARY KEY, email text, plan text');
    await fx.admin.query(`INSERT INTO ${table} VALUES (1, $1, 'gold'), (2, NULL, 'free')`, [email]);
    await fx.publish();
    const configPath = writeSourceConfig(fx, dir, [table], {
      pipeline: { name: pipeline },
      kafka: { brokers: loadConnections().kafka.brokers, clientId: pipeline },
      dsr: { pepper: '${env:DSR_CDC_TEST_PEPPER}', answerWaitMs: 60_000 },
      admin: {
        listen: { host: '127.0.0.1', port: 0 },
        token: '${env:DSR_CDC_TEST_ADMIN_TOKEN}',
        bodyLimit: 4096,
      },
      runtime: { shutdownTimeoutMs: 30_000 },
      log: { level: 'warn' },
    });
    const config = loadConfig({ path: configPath, env });
    running = runRuntime(
      config,
      createLogger({ level: 'warn', component: 'test-admin-api' }),
      controller.signal,
      {
        only: [],
        onListening: (listening) => {
          url = listening;
        },
      },
    );
    running.catch(() => undefined);
    await waitFor(async () => url !== '', 60_000, 'the admin API did not start');
    await fx.waitStreaming(60_000);
  }, 120_000);

  afterAll(async () => {
    controller.abort();
    await running;
    const admin = fx.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${pipeline}.pii-discovery`, `${pipeline}.dsr-answer`]).catch(() => undefined);
    await admin.disconnect();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('GET /healthz answers without a token', async () => {
    const response = await call('/healthz', { auth: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('every other route needs the bearer token: missing, wrong, other scheme or length are 401', async () => {
    for (const path of ['/readyz', '/metrics', '/status', '/sources', '/dsr/requests/x', '/no-such-route']) {
      for (const auth of [
        null,
        `Bearer ${token}x`,
        `Bearer ${'a'.repeat(token.length)}`,
        `Basic ${token}`,
        'Bearer',
      ]) {
        const response = await call(path, { auth });
        expect({ path, auth, status: response.status }).toEqual({ path, auth, status: 401 });
        expect(response.headers.get('www-authenticate')).toBe('Bearer');
      }
    }
    const denied = await post('/dsr/requests', {});
    expect(denied.status).not.toBe(401);
    expect((await call('/no-such-route')).status).toBe(404);
  });

  it('GET /readyz reports Kafka, the registry and the source database reachable', async () => {
    const response = await call('/readyz');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      ready: true,
      checks: { kafka: { ok: true }, registry: { ok: true }, [`postgres:${fx.source}`]: { ok: true } },
    });
  });

  it('GET /status and GET /sources show the hosted components; POST test and sync act on sources', async () => {
    await waitFor(
      async () => {
        const body = (await (await call('/status')).json()) as {
          components: Record<string, { state: string; status?: { events?: number } }>;
        };
        return (body.components[`source:${fx.source}`]?.status?.events ?? 0) >= 2;
      },
      60_000,
      'the source did not report its snapshot events',
    );
    const status = (await (await call('/status')).json()) as Record<string, Record<string, unknown>>;
    expect(status.components?.['group:pii-discovery']).toMatchObject({
      state: 'running',
      status: { groups: [`${pipeline}.pii-discovery`, `${pipeline}.dsr-answer`] },
    });
    expect(status.components?.[`source:${fx.source}`]).toMatchObject({
      state: 'running',
      status: { kind: 'postgres', slot: fx.slot, publication: fx.publication },
    });
    expect(status.breakers).toMatchObject({ registry: 'closed' });

    expect(await (await call('/sources')).json()).toEqual({
      sources: [{ name: fx.source, state: 'running', actions: ['test'] }],
    });
    const test = await call(`/sources/${fx.source}/test`, { method: 'POST' });
    expect(test.status).toBe(200);
    const report = (await test.json()) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.name)).toEqual([
      'connect',
      'wal_level',
      'replication role',
      'publication',
      'slot',
    ]);

    expect((await call(`/sources/${fx.source}/sync`, { method: 'POST' })).status).toBe(409);
    expect((await call('/sources/nope/test', { method: 'POST' })).status).toBe(404);
    const bad = await call('/sources/Not-A-Name/test', { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'name' });
  });

  it('POST /dsr/requests: bad bodies get 400 naming the field, never echoing it; oversized 413', async () => {
    const cases: [unknown, string][] = [
      [{ identifiers: [{ type: 'email', value: email }] }, 'type'],
      [
        { type: 'access', identifiers: [{ type: 'email', value: `not-an-email ${email}` }] },
        'identifiers[0].value',
      ],
      [{ type: 'access', identifiers: [] }, 'identifiers'],
      [{ type: 'access', identifiers: [{ type: 'email', value: email }], color: 'red' }, 'color'],
      [[{ type: 'access' }], '(root)'],
      [{ type: 'access', identifiers: [null] }, 'identifiers[0]'],
      [{ type: 'access', identifiers: [email] }, 'identifiers[0]'],
    ];
    for (const [body, field] of cases) {
      const response = await post('/dsr/requests', body);
      const text = await response.text();
      expect({ field, status: response.status }).toEqual({ field, status: 400 });
      expect(JSON.parse(text)).toMatchObject({ field });
      expect(text).not.toContain(email);
    }
    const notJson = await call('/dsr/requests', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"type": "access", "identifiers": [${email}]}`,
    });
    expect(notJson.status).toBe(400);
    expect(await notJson.text()).not.toContain(email);
    const big = await post('/dsr/requests', {
      type: 'access',
      identifiers: [{ type: 'email', value: email }],
      pad: 'x'.repeat(5000),
    });
    expect(big.status).toBe(413);
    const text = await call('/dsr/requests', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: 'x',
    });
    expect(text.status).toBe(415);
  });

  it('a DSR submitted with POST /dsr/requests is answered by the hosted pii-discovery group', async () => {
    const submitted = await post('/dsr/requests', {
      type: 'access',
      identifiers: [{ type: 'email', value: email.toUpperCase() }],
    });
    expect(submitted.status).toBe(202);
    const { requestId } = (await submitted.json()) as { requestId: string };
    expect(submitted.headers.get('location')).toBe(`/dsr/requests/${requestId}`);

    let body: unknown;
    await waitFor(
      async () => {
        const response = await call(`/dsr/requests/${requestId}`);
        if (response.status === 404) return false;
        body = await response.json();
        return true;
      },
      150_000,
      'no result over HTTP',
    );
    const result = parseDsrResult(body);
    expect(result).toMatchObject({ requestId, type: 'access', status: 'complete', caughtUp: true });
    expect(result.locations.filter((l) => l.table === table).map((l) => l.primaryKey)).toEqual([{ id: '1' }]);
    expect(JSON.stringify(body)).not.toContain(email.toLowerCase());

    expect((await call(`/dsr/requests/${pipeline}.never-submitted`)).status).toBe(404);
    const bad = await call('/dsr/requests/has%20space');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'id' });

    // the group's status shows its lag on the partitions it consumed
    const status = (await (await call('/status')).json()) as {
      components: Record<string, { status: { lag: Record<string, number> } }>;
    };
    const lag = status.components['group:pii-discovery']?.status.lag ?? {};
    expect(
      Object.entries(lag).filter(([partition]) => partition.startsWith(`${fx.topic(table)}/`)),
    ).not.toEqual([]);

    const metrics = await (await call('/metrics')).text();
    expect(metrics).toContain('dsr_cdc_dsr_requests_total{type="access",outcome="submitted"} 1');
    expect(metrics).toMatch(/dsr_cdc_dsr_requests_total\{type="access",outcome="complete"\} [1-9]/);
    expect(metrics).toMatch(new RegExp(`dsr_cdc_events_out_total\\{topic="${fx.topic(table)}"\\} 2`));
    expect(metrics).toMatch(
      new RegExp(`dsr_cdc_events_in_total\\{stage="pii-discovery",topic="${fx.topic(table)}"\\} [1-9]`),
    );
    expect(metrics).toContain(`dsr_cdc_component_up{component="source:${fx.source}"} 1`);
    expect(metrics).toContain('dsr_cdc_circuit_breaker_state{system="registry"} 0');
    expect(metrics).toContain('dsr_cdc_circuit_breaker_state{system="kafka"} 0');
    expect(metrics).not.toContain(email.toLowerCase());
  }, 180_000);

  // last: it stops the runtime
  it('on shutdown, POST /dsr/requests is refused with 503 while the components stop', async () => {
    controller.abort();
    const refused = await post('/dsr/requests', {
      type: 'access',
      identifiers: [{ type: 'email', value: email }],
    });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toEqual({ error: SHUTTING_DOWN });
    await running;
  }, 120_000);
});
