import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { ContractCatalog } from '../../../../src/events/contracts.js';
import { createLogger } from '../../../../src/observability/logger.js';
import type { RestPollerConfig } from '../../../../src/sources/poller/config.js';
import type { PollerPublisher } from '../../../../src/sources/poller/publisher.js';
import { retryAfterMs, TokenBucket } from '../../../../src/sources/poller/rate-limit.js';
import { atPath, nextLink, RestPoller, restValueText } from '../../../../src/sources/poller/rest.js';

describe('TokenBucket', () => {
  it('lets a burst through, then paces requests at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 3, () => now);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBe(500);
    expect(bucket.reserve()).toBe(1000);
    now = 2_000; // 4 tokens refilled, 2 owed
    expect(bucket.reserve()).toBe(0);
  });

  it('holds every request until a Retry-After pause ends', () => {
    let now = 1_000;
    const bucket = new TokenBucket(100, 100, () => now);
    bucket.pauseUntil(4_000);
    expect(bucket.reserve()).toBe(3_000);
    now = 4_500;
    expect(bucket.reserve()).toBe(0);
  });
});

describe('retryAfterMs', () => {
  it('reads delta-seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('2', now)).toBe(2_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });
});

describe('REST helpers', () => {
  it('follows dotted record paths', () => {
    expect(atPath({ data: { items: [1] } }, 'data.items')).toEqual([1]);
    expect(atPath([1, 2], '')).toEqual([1, 2]);
    expect(atPath({ data: null }, 'data.items')).toBeUndefined();
  });

  it('finds rel="next" among Link relations', () => {
    expect(nextLink('<https://a/x?p=1>; rel="prev", <https://a/x?p=3>; rel="next"')).toBe('https://a/x?p=3');
    expect(nextLink('<https://a/x?p=3>; rel="last next"')).toBe('https://a/x?p=3');
    expect(nextLink('<https://a/x?p=1>; rel="prev"')).toBeUndefined();
    expect(nextLink(null)).toBeUndefined();
  });

  it('turns JSON values into the Postgres text form of the column type', () => {
    expect(restValueText('long', 42, 'id')).toBe('42');
    expect(restValueText('long', '9007199254740993', 'id')).toBe('9007199254740993');
    expect(restValueText('boolean', false, 'b')).toBe('f');
    expect(restValueText('timestamp', '2026-01-01T02:00:00.000001+02:00', 't')).toBe(
      '2026-01-01 00:00:00.000001+00',
    );
    expect(restValueText('timestamp', '1969-12-31T23:59:59.5Z', 't')).toBe('1969-12-31 23:59:59.500000+00');
    expect(restValueText('json', { a: [1] }, 'j')).toBe('{"a":[1]}');
    expect(restValueText('string', 7, 's')).toBe('7');
    expect(restValueText('double', 0.1, 'd')).toBe('0.1');
    expect(restValueText('string', null, 's')).toBeNull();
  });

  it('names the field, never the value, when the API sends another type', () => {
    expect(() => restValueText('long', 'alice@example.test', 'id')).toThrow(
      'field "id" (long): the API sent a value of another type',
    );
    expect(() => restValueText('boolean', 'yes', 'active')).toThrow('field "active"');
  });
});

describe('RestPoller requests', () => {
  /** An API whose first `broken` answers end mid-body (the connection drops), then serve `[]`. */
  async function flakyApi(broken: number) {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      if (requests <= broken) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
        res.write('[{"id":');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('[]');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, requests: () => requests, stop: () => new Promise((r) => server.close(r)) };
  }

  const poller = (baseUrl: string, maxAttempts: number) =>
    new RestPoller(
      `flaky${maxAttempts}`,
      {
        kind: 'rest-poller',
        baseUrl,
        auth: { type: 'none' },
        endpoints: [{ table: 'api.users', path: '/users', query: {}, recordsPath: '' }],
        rateLimit: { requestsPerSecond: 1_000, burst: 10 },
        retry: { maxAttempts, initialDelayMs: 1, maxDelayMs: 5 },
        timeoutMs: 5_000,
      } as unknown as RestPollerConfig,
      {} as ContractCatalog,
      {} as PollerPublisher,
      createLogger({ level: 'silent', component: 'test' }),
    );

  it('retries a body cut off mid-read like any network error (a retryable CONNECTION_FAILED)', async () => {
    const api = await flakyApi(1);
    try {
      expect(await poller(api.url, 2).test()).toEqual([{ name: 'GET /users', ok: true }]);
      expect(api.requests()).toBe(2);
    } finally {
      await api.stop();
    }
    const down = await flakyApi(10);
    try {
      const [check] = await poller(down.url, 0).test();
      expect(check).toMatchObject({ ok: false, detail: expect.stringContaining('reading the body failed') });
    } finally {
      await down.stop();
    }
  });
});
