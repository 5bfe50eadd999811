/**
 * The REST poller against a local API of ours (test/support/rest-server.ts) and the real Kafka and
 * registry: every pagination style, incremental runs from the watermark, OAuth2 tokens that expire
 * mid-run, 429 with Retry-After, a 500 then success, and the failures that must not move the
 * watermark (a 404, a non-JSON body).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadTopicFamilies, topicSpec } from '../../src/kafka/topics.js';
import { CdcFixture } from '../support/cdc.js';
import { pollerComponent, pollerEnv, writePollerConfig } from '../support/poller.js';
import { TestApi } from '../support/rest-server.js';

const COLUMNS =
  '{ id: long, email: string, updated_at: timestamp, score: double, active: boolean, tags: json }';
const T1 = '2026-01-01T00:00:00.000001Z';
const T2 = '2026-01-02T00:00:00Z';

describe('REST poller', () => {
  let fx: CdcFixture;
  let dir: string;
  let api: TestApi;

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-rest-poller-'));
  });

  afterEach(async () => {
    await api?.stop();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function topic(table: string): string {
    const name = topicSpec(loadTopicFamilies(), 'cdc', { source: fx.source, schema: 'crm', table }).name;
    if (!fx.extraTopics.includes(name)) fx.extraTopics.push(name);
    return name;
  }

  function config(endpoint: string[], auth: string, extra: string[] = []): string {
    return writePollerConfig(dir, fx.source, [
      'kind: rest-poller',
      `baseUrl: ${api.url}`,
      `auth: ${auth}`,
      'endpoints:',
      ...endpoint.map((line, i) => `${i === 0 ? '  - ' : '    '}${line}`),
      ...extra,
    ]);
  }

  const endpoint = (path: string, table: string, pagination: string, recordsPath: string) => [
    `table: crm.${table}`,
    `path: ${path}`,
    `recordsPath: '${recordsPath}'`,
    'key: [id]',
    `columns: ${COLUMNS}`,
    'cursor: { field: updated_at, type: timestamp, param: updated_since }',
    `pagination: ${pagination}`,
  ];

  it.each([
    // each style with another kind of auth (OAuth2 has its own tests below)
    ['offset', '/offset/users', '{ type: offset, limit: 10 }', 'data.items', 'bearer'],
    ['page', '/page/users', '{ type: page, size: 8 }', 'results', 'basic'],
    ['cursor', '/cursor/users', '{ type: cursor, cursorPath: next }', 'items', 'apiKey'],
    ['link', '/link/users', '{ type: link }', '', 'bearer'],
  ])(
    'pages by %s, then publishes only what changed since the watermark',
    async (style, path, pagination, recordsPath, auth) => {
      api = new TestApi();
      await api.start();
      api.add(1, 45, T1); // one timestamp across several pages
      const table = `users_${style}`;
      const file = config(
        endpoint(path, table, pagination, recordsPath),
        {
          bearer: `{ type: bearer, token: "\${env:API_SECRET}" }`,
          basic: `{ type: basic, username: user, password: "\${env:API_SECRET}" }`,
          apiKey: `{ type: apiKey, header: x-api-key, key: "\${env:API_SECRET}" }`,
        }[auth] as string,
      );
      const secret = { bearer: TestApi.BEARER, basic: 'pass', apiKey: TestApi.API_KEY }[auth] as string;
      const env = pollerEnv({ API_SECRET: secret });
      const poller = pollerComponent(file, fx.source, env);
      expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 45 });
      api.touch(7, T2);
      api.add(46, 47, T2);
      expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 3 });
      // the inclusive updated_since returns the boundary records again: they are not republished
      expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 0 });
      await poller.close();
      expect(api.requests.at(-1)?.query.updated_since).toBe(T2);

      const events = await fx.readAllEvents(topic(table));
      expect(events).toHaveLength(48);
      const seven = events.filter((e) => e.key?.id === 7n);
      expect(seven.map((e) => e.value.source.seq)).toEqual([1767225600000001n, 1767312000000000n]);
      expect(seven[1]?.value).toMatchObject({
        op: 'u',
        before: null,
        after: {
          id: 7n,
          email: 'user7@example.test',
          updated_at: 1767312000000000n,
          score: 3.5,
          active: false,
          tags: '["a"]',
        },
        source: { connector: 'poller', name: fx.source, schema: 'crm', table },
      });
    },
  );

  it('refreshes OAuth2 tokens that expire mid-run, waits out 429 Retry-After, and retries a 500', async () => {
    api = new TestApi({ tokenTtlSeconds: 1, rateLimitPerSecond: 4, retryAfterSeconds: 1 });
    await api.start();
    api.add(1, 60, T1);
    const file = config(
      endpoint('/offset/users', 'users_oauth', '{ type: offset, limit: 5 }', 'data.items'),
      `{ type: oauth2, tokenUrl: "${api.url}/oauth/token", clientId: ${TestApi.CLIENT.id}, clientSecret: "\${env:CLIENT_SECRET}" }`,
      [
        'rateLimit: { requestsPerSecond: 20, burst: 5 }',
        'retry: { maxAttempts: 8, initialDelayMs: 50, maxDelayMs: 500 }',
      ],
    );
    const poller = pollerComponent(file, fx.source, pollerEnv({ CLIENT_SECRET: TestApi.CLIENT.secret }));
    const report = await poller.test();
    expect(report).toEqual({
      ok: true,
      checks: [
        { name: 'oauth2 token', ok: true },
        { name: 'GET /offset/users', ok: true },
      ],
    });
    api.failNext = [500];
    const run = await poller.sync();
    await poller.close();
    expect(run).toMatchObject({ status: 'succeeded', rows: 60 });
    // 13 pages at 4 requests/s take > 3 s: 1 s tokens were refreshed along the way, before they
    // expired (refreshing only after a 401 would also end with several tokens issued)
    expect(api.tokensIssued).toBeGreaterThan(2);
    expect(api.count(401)).toBe(0);
    expect(api.count(500)).toBe(1);
    expect(api.count(429)).toBeGreaterThan(0);
    // after each 429 the next request waited for Retry-After
    api.requests.forEach((request, i) => {
      const next = api.requests.slice(i + 1).find((r) => r.path !== '/oauth/token');
      if (request.status === 429 && next) expect(next.at - request.at).toBeGreaterThanOrEqual(950);
    });
    const events = await fx.readAllEvents(topic('users_oauth'));
    expect(new Set(events.map((e) => e.key?.id)).size).toBe(60);
  });

  it('refreshes a token the server ended before its stated expiry', async () => {
    api = new TestApi({ tokenTtlSeconds: 3600, tokenRevokeAfterMs: 300 });
    await api.start();
    api.add(1, 20, T1);
    const file = config(
      endpoint('/page/users', 'users_revoked', '{ type: page, size: 5 }', 'results'),
      `{ type: oauth2, tokenUrl: "${api.url}/oauth/token", clientId: ${TestApi.CLIENT.id}, clientSecret: "\${env:CLIENT_SECRET}" }`,
      ['rateLimit: { requestsPerSecond: 5, burst: 1 }'],
    );
    const poller = pollerComponent(file, fx.source, pollerEnv({ CLIENT_SECRET: TestApi.CLIENT.secret }));
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 20 });
    await poller.close();
    expect(api.count(401)).toBeGreaterThan(0);
    expect(api.tokensIssued).toBeGreaterThan(1);
  });

  it('fails a run on a 404 without retrying and on a non-JSON body, and never moves the watermark', async () => {
    api = new TestApi();
    await api.start();
    api.add(1, 30, T1);
    const file = config(
      endpoint('/offset/users', 'users_bad', '{ type: offset, limit: 10 }', 'data.items'),
      `{ type: apiKey, header: x-api-key, key: "\${env:API_KEY}" }`,
    );
    const poller = pollerComponent(file, fx.source, pollerEnv({ API_KEY: TestApi.API_KEY }));
    api.htmlBody = true;
    const html = await poller.sync();
    expect(html.status).toBe('failed');
    expect(html.error).toContain('with a body that is not JSON (content-type text/html)');
    api.htmlBody = false;

    // page one succeeds (its events reach Kafka), page two is a 404: the run fails, unretried
    api.failNext = [null, 404];
    const before = api.requests.length;
    const notFound = await poller.sync();
    expect(notFound.status).toBe('failed');
    expect(notFound.error).toContain('the API answered 404 for /offset/users; check baseUrl and path');
    expect(api.requests.length - before).toBe(2);

    // nothing was stored: the next run starts from the beginning (no updated_since)
    const from = api.requests.length;
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 30 });
    expect(api.requests[from]?.query.updated_since).toBeUndefined();
    // and the one after it from the watermark
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 0 });
    expect(api.requests.at(-1)?.query.updated_since).toBe(T1);
    await poller.close();
  });
});
