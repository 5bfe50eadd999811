/**
 * A local HTTP API for the REST poller's tests: a collection of records served with each pagination
 * style, auth by bearer / API key / basic / OAuth2 client credentials (tokens that expire), a
 * server-side rate limit answering 429 with Retry-After, and failures on demand (a 500, a non-JSON
 * body). It records every request, so tests can check what the poller did, not just the result.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ApiRecord {
  id: number;
  email: string;
  updated_at: string;
  score: number;
  active: boolean;
  tags: string[];
}

export interface ServedRequest {
  path: string;
  query: Record<string, string>;
  status: number;
  at: number;
}

export interface ApiOptions {
  /** Seconds an OAuth2 token claims to live (expires_in). */
  tokenTtlSeconds?: number;
  /** Ends tokens this long after issue regardless of what expires_in said (mid-run expiry). */
  tokenRevokeAfterMs?: number;
  /** Requests per second before the server answers 429 (none when undefined). */
  rateLimitPerSecond?: number;
  /** Retry-After (seconds) sent with a 429. */
  retryAfterSeconds?: number;
}

export class TestApi {
  readonly records: ApiRecord[] = [];
  readonly requests: ServedRequest[] = [];
  tokensIssued = 0;
  /** Statuses to answer the next collection requests with, in order; null serves normally. */
  failNext: (number | null)[] = [];
  /** Answer collection requests with an HTML page. */
  htmlBody = false;
  private server: Server | undefined;
  private readonly tokens = new Map<string, number>();
  private windowStart = 0;
  private windowCount = 0;

  constructor(private readonly options: ApiOptions = {}) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('the test API is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  static readonly CLIENT = { id: 'test-client', secret: 'test-client-secret' };
  static readonly API_KEY = 'test-api-key';
  static readonly BEARER = 'test-static-token';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** Adds records id from..to (inclusive), all stamped `updatedAt`. */
  add(from: number, to: number, updatedAt: string): void {
    for (let id = from; id <= to; id++) {
      this.records.push({
        id,
        email: `user${id}@example.test`,
        updated_at: updatedAt,
        score: id / 2,
        active: id % 2 === 0,
        tags: ['a'],
      });
    }
  }

  touch(id: number, updatedAt: string): void {
    const record = this.records.find((r) => r.id === id);
    if (record) record.updated_at = updatedAt;
  }

  /** Requests to collection paths with a given status. */
  count(status: number): number {
    return this.requests.filter((r) => r.path !== '/oauth/token' && r.status === status).length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const query = Object.fromEntries(url.searchParams);
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ path: url.pathname, query, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    if (url.pathname === '/oauth/token') {
      let form = '';
      for await (const chunk of req) form += chunk;
      const basic = Buffer.from(
        (req.headers.authorization ?? '').replace(/^Basic /, ''),
        'base64',
      ).toString();
      if (
        basic !== `${TestApi.CLIENT.id}:${TestApi.CLIENT.secret}` ||
        !form.includes('grant_type=client_credentials')
      ) {
        return reply(401, { error: 'invalid_client' });
      }
      const token = `token-${++this.tokensIssued}`;
      this.tokens.set(token, Date.now());
      return reply(200, {
        access_token: token,
        token_type: 'bearer',
        expires_in: this.options.tokenTtlSeconds ?? 3600,
      });
    }
    if (!this.authorized(req)) return reply(401, { error: 'unauthorized' });
    if (this.options.rateLimitPerSecond !== undefined) {
      const now = Date.now();
      if (now - this.windowStart >= 1000) {
        this.windowStart = now;
        this.windowCount = 0;
      }
      if (++this.windowCount > this.options.rateLimitPerSecond) {
        return reply(
          429,
          { error: 'slow down' },
          { 'retry-after': String(this.options.retryAfterSeconds ?? 1) },
        );
      }
    }
    const failure = this.failNext.shift();
    if (failure !== undefined && failure !== null) return reply(failure, { error: 'injected' });
    if (this.htmlBody) {
      this.requests.push({ path: url.pathname, query, status: 200, at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>maintenance</body></html>');
      return;
    }
    const since = query.updated_since;
    const matching = this.records
      .filter((r) => since === undefined || r.updated_at >= since)
      .sort((a, b) => (a.updated_at < b.updated_at ? -1 : a.updated_at > b.updated_at ? 1 : a.id - b.id));
    switch (url.pathname) {
      case '/offset/users': {
        const offset = Number(query.offset ?? 0);
        const limit = Number(query.limit ?? 10);
        return reply(200, { data: { items: matching.slice(offset, offset + limit) } });
      }
      case '/page/users': {
        const page = Number(query.page ?? 1);
        const size = Number(query.per_page ?? 10);
        return reply(200, { results: matching.slice((page - 1) * size, page * size) });
      }
      case '/cursor/users': {
        const start = Number(query.cursor ?? 0);
        const items = matching.slice(start, start + 7);
        return reply(200, { items, next: start + 7 < matching.length ? String(start + 7) : null });
      }
      case '/link/users': {
        const start = Number(query.start ?? 0);
        const items = matching.slice(start, start + 9);
        const next = new URL(`${this.url}/link/users`);
        for (const [k, v] of Object.entries(query)) next.searchParams.set(k, v);
        next.searchParams.set('start', String(start + 9));
        return reply(200, items, start + 9 < matching.length ? { link: `<${next.href}>; rel="next"` } : {});
      }
      default:
        return reply(404, { error: 'not found' });
    }
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    if (req.headers['x-api-key'] === TestApi.API_KEY) return true;
    if (header === `Bearer ${TestApi.BEARER}`) return true;
    if (header === `Basic ${Buffer.from('user:pass').toString('base64')}`) return true;
    const issued = this.tokens.get(header.replace(/^Bearer /, ''));
    if (issued === undefined) return false;
    const lifetime = Math.min(
      (this.options.tokenTtlSeconds ?? 3600) * 1000,
      this.options.tokenRevokeAfterMs ?? Number.POSITIVE_INFINITY,
    );
    return Date.now() - issued < lifetime;
  }
}
