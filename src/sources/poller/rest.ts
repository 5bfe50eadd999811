/**
 * The REST API poller: for each endpoint, every page of records changed since the watermark
 * (the watermark's cursor sent as the incremental parameter, e.g. `updated_since`, inclusive),
 * each record published as a change event (op `u`: the API shows states, not changes).
 *
 * Watermark: pages of an API need not be ordered by the cursor, so the watermark — the largest
 * (cursor, key) published — is stored only after every page of the run was fetched and Kafka
 * acknowledged every event: a failed run leaves it unchanged. Records at or below the stored
 * watermark (the inclusive parameter returns the boundary again) are skipped.
 *
 * HTTP: a token bucket paces requests; 429 pauses the bucket for Retry-After and retries; 5xx and
 * network errors retry with exponential backoff and jitter (cockatiel); other 4xx fail the run, except
 * a 401 under OAuth2, which refreshes the token once. OAuth2 client-credentials tokens are refreshed
 * before they expire.
 */
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { DsrCdcError } from '../../errors.js';
import type { ContractCatalog, TableEncoder } from '../../events/contracts.js';
import type { PgType } from '../../events/pg-types.js';
import type { Logger } from '../../observability/logger.js';
import { breakers } from '../../resilience.js';
import type { TestReport } from '../../runtime/component.js';
import type { Relation } from '../postgres/pgoutput.js';
import type { Poller } from './component.js';
import type { RestColumnType, RestEndpointConfig, RestPollerConfig } from './config.js';
import type { PollerPublisher } from './publisher.js';
import { retryAfterMs, TokenBucket } from './rate-limit.js';
import { comparePositions, cursorOrdinal, type Watermark } from './watermark.js';

/** The Postgres type (and so the Avro mapping) of each REST column type. */
const COLUMN_TYPES: Record<RestColumnType, PgType> = {
  string: { oid: 25, name: 'text', kind: 'base' },
  long: { oid: 20, name: 'int8', kind: 'base' },
  double: { oid: 701, name: 'float8', kind: 'base' },
  boolean: { oid: 16, name: 'bool', kind: 'base' },
  timestamp: { oid: 1184, name: 'timestamptz', kind: 'base' },
  json: { oid: 3802, name: 'jsonb', kind: 'base' },
};

/** Refresh an OAuth2 token this long before it expires (or at 10 % of its life, if sooner). */
const REFRESH_MARGIN_MS = 30_000;

/** A dotted path into parsed JSON ('' is the value itself). */
export function atPath(value: unknown, path: string): unknown {
  if (path === '') return value;
  let node = value;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** The URL of rel="next" in a Link header, if any. */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(',')) {
    const match = /<([^>]*)>\s*;(.*)/.exec(part.trim());
    if (match && /\brel="?([^";]*\s)?next(\s[^";]*)?"?/i.test(match[2] ?? '')) return match[1];
  }
  return undefined;
}

/** A JSON value as the Postgres text form of the column's type; EVENT_INVALID names the column. */
export function restValueText(type: RestColumnType, value: unknown, column: string): string | null {
  if (value === null || value === undefined) return null;
  const invalid = () =>
    new DsrCdcError('EVENT_INVALID', `field "${column}" (${type}): the API sent a value of another type`, {
      field: column,
    });
  switch (type) {
    case 'string':
      return typeof value === 'string'
        ? value
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    case 'long':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
      if (typeof value === 'string' && /^-?\d+$/.test(value)) return value;
      throw invalid();
    case 'double':
      if (typeof value === 'number') return String(value);
      if (typeof value === 'string' && value.trim() !== '' && !Number.isNaN(Number(value))) return value;
      throw invalid();
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid();
      return value ? 't' : 'f';
    case 'timestamp': {
      if (typeof value !== 'string') throw invalid();
      const micros = cursorOrdinal('timestamp', value, column);
      return formatMicros(micros);
    }
    case 'json':
      return JSON.stringify(value);
  }
}

/** µs since the epoch as Postgres' timestamptz text in UTC. */
function formatMicros(micros: bigint): string {
  const floor = (micros >= 0n ? micros : micros - 999_999n) / 1_000_000n;
  const fraction = micros - floor * 1_000_000n;
  const iso = new Date(Number(floor) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction.toString().padStart(6, '0')}+00`;
}

/** An HTTP failure, translated: retryable for 429, 5xx and the network; not for other 4xx. */
function httpError(status: number, path: string): DsrCdcError {
  const retryable = status === 429 || status >= 500;
  return new DsrCdcError(
    retryable ? 'CONNECTION_FAILED' : 'REQUEST_REJECTED',
    `the API answered ${status} for ${path}` +
      (status === 401 || status === 403
        ? '; check the credentials in auth'
        : status === 404
          ? '; check baseUrl and path'
          : ''),
    { retryable },
  );
}

/** The body of a response; a connection lost while reading it is retryable like any network error. */
async function bodyText(response: Response, what: string): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    throw new DsrCdcError(
      'CONNECTION_FAILED',
      `${what}: reading the body failed: ${(error as Error).message}`,
      {
        retryable: true,
        cause: error,
      },
    );
  }
}

interface EndpointRuntime {
  config: RestEndpointConfig;
  schema: string;
  table: string;
  encoder: TableEncoder;
  columns: string[];
}

export class RestPoller implements Poller {
  /** The TypeCatalog of a REST poller's ContractCatalog. */
  static async types(oids: number[]): Promise<Map<number, PgType>> {
    const all = Object.values(COLUMN_TYPES);
    return new Map(oids.flatMap((oid) => all.filter((t) => t.oid === oid).map((t) => [oid, t] as const)));
  }

  private readonly bucket: TokenBucket;
  private token: { value: string; refreshAt: number } | undefined;
  private endpoints: EndpointRuntime[] | undefined;

  constructor(
    private readonly name: string,
    private readonly config: RestPollerConfig,
    private readonly contracts: ContractCatalog,
    private readonly publisher: PollerPublisher,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.bucket = new TokenBucket(config.rateLimit.requestsPerSecond, config.rateLimit.burst, now);
  }

  async open(): Promise<void> {
    if (!this.publisher.opened) await this.publisher.open();
    if (this.endpoints) return;
    const endpoints: EndpointRuntime[] = [];
    for (const config of this.config.endpoints) {
      const dot = config.table.indexOf('.');
      const [schema, table] = [config.table.slice(0, dot), config.table.slice(dot + 1)];
      const columns = Object.keys(config.columns);
      for (const key of [...config.key, config.cursor.field]) {
        if (!columns.includes(key)) {
          const field = `sources.${this.name}.endpoints[${config.table}].columns`;
          throw new DsrCdcError(
            'CONFIG_INVALID',
            `${field}: "${key}" (a key or cursor field) must be listed with its type`,
            { field },
          );
        }
      }
      const relation: Relation = {
        oid: 0,
        schema,
        name: table,
        replicaIdentity: 'default',
        columns: columns.map((name) => ({
          name,
          typeOid: COLUMN_TYPES[config.columns[name] as RestColumnType].oid,
          typeMod: -1,
          isKey: config.key.includes(name),
        })),
      };
      endpoints.push({ config, schema, table, encoder: await this.contracts.forRelation(relation), columns });
    }
    await this.publisher.ensureTopics(endpoints.map((e) => e.encoder.topic));
    this.endpoints = endpoints;
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }

  positions(): unknown {
    return { cursors: this.publisher.cursors };
  }

  async runOnce(signal?: AbortSignal): Promise<number> {
    await this.open();
    let rows = 0;
    for (const endpoint of this.endpoints ?? []) {
      if (signal?.aborted) break;
      rows += await this.pollEndpoint(endpoint, signal);
    }
    return rows;
  }

  async test(): Promise<TestReport['checks']> {
    const checks: TestReport['checks'] = [];
    if (this.config.auth.type === 'oauth2') {
      checks.push(
        await this.authorization().then(
          () => ({ name: 'oauth2 token', ok: true }),
          (error: Error) => ({ name: 'oauth2 token', ok: false, detail: error.message }),
        ),
      );
    }
    for (const endpoint of this.config.endpoints) {
      const url = this.url(endpoint.path, endpoint.query);
      const check = await this.getJson(url, endpoint.path).then(
        ({ body }) =>
          Array.isArray(atPath(body, endpoint.recordsPath))
            ? { ok: true }
            : { ok: false, detail: `recordsPath '${endpoint.recordsPath}' does not lead to an array` },
        (error: Error) => ({ ok: false, detail: error.message }),
      );
      checks.push({ name: `GET ${endpoint.path}`, ...check });
    }
    return checks;
  }

  private url(path: string, query: Readonly<Record<string, string>>): URL {
    const url = new URL(
      path,
      this.config.baseUrl.endsWith('/') ? this.config.baseUrl : `${this.config.baseUrl}/`,
    );
    if (path.startsWith('/')) url.pathname = new URL(this.config.baseUrl).pathname.replace(/\/$/, '') + path;
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    return url;
  }

  private async pollEndpoint(endpoint: EndpointRuntime, signal?: AbortSignal): Promise<number> {
    const { config, encoder, columns } = endpoint;
    const id = `${endpoint.schema}.${endpoint.table}`;
    const kind = config.cursor.type === 'long' ? 'integer' : 'timestamp';
    const stored = this.publisher.watermark(id);
    const query: Record<string, string> = { ...config.query };
    if (stored && config.cursor.param) query[config.cursor.param] = stored.cursor;
    const horizon = BigInt(this.now() - this.config.safetyLagMs) * 1000n;
    let highest: Watermark | undefined = stored;
    let published = 0;
    let url: URL | undefined = this.url(config.path, query);
    let page = 0;
    let offset = 0;
    const pagination = config.pagination;
    if (pagination.type === 'offset') {
      url.searchParams.set(pagination.offsetParam, '0');
      url.searchParams.set(pagination.limitParam, String(pagination.limit));
    } else if (pagination.type === 'page') {
      page = pagination.firstPage;
      url.searchParams.set(pagination.pageParam, String(page));
      url.searchParams.set(pagination.sizeParam, String(pagination.size));
    }
    while (url && !signal?.aborted) {
      const { body, link } = await this.getJson(url, config.path);
      const records = atPath(body, config.recordsPath);
      if (!Array.isArray(records)) {
        throw new DsrCdcError(
          'REQUEST_REJECTED',
          `the body of ${config.path} has no array at recordsPath '${config.recordsPath}'; fix sources.${this.name}.endpoints[${config.table}].recordsPath`,
          { field: `sources.${this.name}.endpoints[${config.table}].recordsPath` },
        );
      }
      for (const record of records) {
        const text = columns.map((c) =>
          restValueText(config.columns[c] as RestColumnType, atPath(record, c), c),
        );
        const cursorText = text[columns.indexOf(config.cursor.field)];
        const rawCursor = atPath(record, config.cursor.field);
        const keyText = config.key.map((k) => text[columns.indexOf(k)]);
        if (cursorText === null || cursorText === undefined || keyText.some((k) => k === null)) {
          throw new DsrCdcError('EVENT_INVALID', `a record of ${config.path} has no cursor or key value`, {
            field: config.cursor.field,
          });
        }
        const position: Watermark = { cursor: String(rawCursor), key: keyText as string[] };
        if (stored && comparePositions(kind, position, stored) <= 0) continue;
        const seq = cursorOrdinal(kind, position.cursor, config.cursor.field);
        await this.publisher.publish(encoder, {
          op: 'u',
          before: null,
          after: text,
          lsn: null,
          commitLsn: null,
          txId: null,
          commitTs: kind === 'timestamp' ? seq : null,
          seq,
          snapshot: false,
        });
        published += 1;
        const safe = kind === 'integer' || seq < horizon;
        if (safe && (!highest || comparePositions(kind, position, highest) > 0)) highest = position;
      }
      url = this.nextPage(url, pagination, body, link, records.length, { page, offset });
      page += 1;
      offset += records.length;
    }
    if (signal?.aborted) return published;
    await this.publisher.commit(highest ? { [id]: highest } : {});
    return published;
  }

  private nextPage(
    url: URL,
    pagination: RestEndpointConfig['pagination'],
    body: unknown,
    link: string | null,
    count: number,
    at: { page: number; offset: number },
  ): URL | undefined {
    const next = new URL(url);
    switch (pagination.type) {
      case 'none':
        return undefined;
      case 'offset':
        if (count < pagination.limit) return undefined;
        next.searchParams.set(pagination.offsetParam, String(at.offset + count));
        return next;
      case 'page':
        if (count < pagination.size) return undefined;
        next.searchParams.set(pagination.pageParam, String(at.page + 1));
        return next;
      case 'cursor': {
        const cursor = atPath(body, pagination.cursorPath);
        if (cursor === null || cursor === undefined || cursor === '') return undefined;
        next.searchParams.set(pagination.param, String(cursor));
        return next;
      }
      case 'link': {
        const href = nextLink(link);
        return href === undefined ? undefined : new URL(href, url);
      }
    }
  }

  /** GET with rate limit, auth and retries; the parsed JSON body and the Link header. */
  private async getJson(url: URL, path: string): Promise<{ body: unknown; link: string | null }> {
    const { maxAttempts, initialDelayMs, maxDelayMs } = this.config.retry;
    const policy = retry(
      handleWhen((error) => error instanceof DsrCdcError && error.retryable),
      {
        maxAttempts,
        backoff: new ExponentialBackoff({ initialDelay: initialDelayMs, maxDelay: maxDelayMs }),
      },
    );
    policy.onRetry(({ delay, ...reason }) =>
      this.logger.warn(
        {
          delayMs: Math.round(delay),
          reason: 'error' in reason ? (reason.error as Error).message : undefined,
        },
        'API request failed; retrying',
      ),
    );
    let refreshedAfter401 = false;
    // each attempt goes through the API's circuit breaker: an API that is down fails fast
    return policy.execute(() =>
      breakers.call(`rest:${this.name}`, () =>
        this.attempt(url, path, () => {
          if (refreshedAfter401) return false;
          refreshedAfter401 = true;
          return true;
        }),
      ),
    );
  }

  /** One GET; `mayRefreshToken()` says whether a 401 may be answered with a fresh OAuth2 token. */
  private async attempt(
    url: URL,
    path: string,
    mayRefreshToken: () => boolean,
  ): Promise<{ body: unknown; link: string | null }> {
    const wait = this.bucket.reserve();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: 'application/json', ...(await this.authorization()) },
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
    } catch (error) {
      if (error instanceof DsrCdcError) throw error;
      throw new DsrCdcError('CONNECTION_FAILED', `GET ${path} failed: ${(error as Error).message}`, {
        retryable: true,
        cause: error,
      });
    }
    if (response.status === 401 && this.config.auth.type === 'oauth2' && mayRefreshToken()) {
      // the server may end a token before its stated expiry: one fresh token, then the verdict
      await response.body?.cancel();
      this.token = undefined;
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `the API refused the OAuth2 token for ${path}; refreshing it`,
        { retryable: true },
      );
    }
    if (response.status === 429) {
      await response.body?.cancel();
      const after = retryAfterMs(response.headers.get('retry-after'), this.now());
      if (after !== undefined) this.bucket.pauseUntil(this.now() + after);
      throw httpError(429, path);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw httpError(response.status, path);
    }
    const text = await bodyText(response, `GET ${path}`);
    try {
      return { body: JSON.parse(text) as unknown, link: response.headers.get('link') };
    } catch {
      throw new DsrCdcError(
        'REQUEST_REJECTED',
        `the API answered ${path} with a body that is not JSON (content-type ${response.headers.get('content-type') ?? 'none'}); check baseUrl and path`,
      );
    }
  }

  private async authorization(): Promise<Record<string, string>> {
    const auth = this.config.auth;
    switch (auth.type) {
      case 'none':
        return {};
      case 'bearer':
        return { authorization: `Bearer ${auth.token.reveal()}` };
      case 'apiKey':
        return { [auth.header]: auth.key.reveal() };
      case 'basic':
        return {
          authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`,
        };
      case 'oauth2': {
        if (!this.token || this.now() >= this.token.refreshAt) this.token = await this.fetchToken(auth);
        return { authorization: `Bearer ${this.token.value}` };
      }
    }
  }

  private async fetchToken(
    auth: Extract<RestPollerConfig['auth'], { type: 'oauth2' }>,
  ): Promise<{ value: string; refreshAt: number }> {
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      ...(auth.scope ? { scope: auth.scope } : {}),
    });
    let response: Response;
    try {
      response = await fetch(auth.tokenUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret.reveal())}`).toString('base64')}`,
        },
        body: form,
        signal: AbortSignal.timeout(this.config.timeoutMs),
      });
    } catch (error) {
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `the OAuth2 token endpoint could not be reached: ${(error as Error).message}`,
        {
          retryable: true,
          cause: error,
        },
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      const retryable = response.status === 429 || response.status >= 500;
      throw new DsrCdcError(
        retryable ? 'CONNECTION_FAILED' : 'REQUEST_REJECTED',
        `the OAuth2 token endpoint answered ${response.status}` +
          (retryable ? '' : '; check auth.clientId and auth.clientSecret'),
        { retryable },
      );
    }
    const text = await bodyText(response, 'the OAuth2 token request');
    let body: { access_token?: unknown; expires_in?: unknown } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    if (typeof body?.access_token !== 'string') {
      throw new DsrCdcError('REQUEST_REJECTED', 'the OAuth2 token endpoint answered without an access_token');
    }
    const lifetimeMs = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 3_600_000;
    return {
      value: body.access_token,
      refreshAt: this.now() + lifetimeMs - Math.min(REFRESH_MARGIN_MS, lifetimeMs / 10),
    };
  }
}
