/**
 * The admin HTTP API of `dsr-cdc run` (fastify). Every route but `GET /healthz` needs
 * `Authorization: Bearer <admin.token>`, compared in constant time. Errors are JSON
 * `{ error, field? }`: 400 names the bad field, 401 a missing or wrong token, 404 an unknown
 * source or result, 409 an action the component does not have, 413 a body over admin.bodyLimit,
 * 503 a dependency that is down, or any POST once the runtime is shutting down (intake stopped).
 * Responses and logs never echo request bodies (they hold identifiers); each request is logged
 * once with its id (also sent as x-request-id), route pattern, status and duration.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Secret } from '../config/schema.js';
import { requestIdSchema } from '../dsr/contracts.js';
import { DsrCdcError, type ErrorCode, isDsrCdcError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Metrics } from '../observability/metrics.js';
import type { Breakers } from '../resilience.js';
import type { Component } from '../runtime/component.js';
import type { Host } from '../runtime/host.js';
import type { Readiness } from '../runtime/readiness.js';
import { parseWith } from '../validation.js';
import type { DsrService } from './dsr.js';

export interface AdminServerOptions {
  host: string;
  port: number;
  token: Secret;
  bodyLimit: number;
  runtime: Host;
  readiness: () => Promise<Readiness>;
  dsr: DsrService;
  breakers: Breakers;
  metrics: Metrics;
  logger: Logger;
}

export interface AdminServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  close(): Promise<void>;
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  EVENT_INVALID: 400,
  CONFIG_INVALID: 400,
  CONNECTION_FAILED: 503,
};

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The answer (503) to a request that would start work while the runtime shuts down. */
export const SHUTTING_DOWN =
  'shutting down: new requests are not accepted; send it again to a running instance or after the restart';
const RETRY_AFTER_SECONDS = 10;

const pathOf = <T extends z.ZodType>(schema: T, params: unknown) =>
  parseWith(schema, params, { code: 'EVENT_INVALID', heading: 'invalid request path', vocabulary: 'json' });

export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const app = buildAdminApp(options);
  try {
    await app.listen({ host: options.host, port: options.port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `admin.listen: cannot listen on ${options.host}:${options.port} (${code}); choose another host or port`,
      { field: 'admin.listen', cause: error },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`;
  if (!LOOPBACK.has(options.host)) {
    options.logger.warn({ host: options.host }, 'admin API listens beyond loopback: put TLS in front of it');
  }
  options.logger.info({ url }, 'admin API listening');
  return { url, close: () => app.close() };
}

/** The fastify app, not yet listening. */
export function buildAdminApp(options: AdminServerOptions): FastifyInstance {
  const { logger, runtime } = options;
  const app = Fastify({
    logger: false,
    bodyLimit: options.bodyLimit,
    genReqId: () => randomUUID(),
    return503OnClosing: true,
  });
  const expected = digest(options.token.reveal());

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    request.startedAt = process.hrtime.bigint();
    if (request.method === 'GET' && request.routeOptions.url === '/healthz') return;
    const given = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), expected)) {
      reply.header('www-authenticate', 'Bearer');
      return reply.code(401).send({ error: 'missing or wrong bearer token' });
    }
    // shutdown stops intake: once the runtime is stopping (its components flush and commit), no
    // request that starts work (a DSR request, a sync, a test) is taken; reads keep answering
    if (request.method === 'POST' && runtime.stopping) {
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.code(503).send({ error: SHUTTING_DOWN });
    }
  });
  app.addHook('onResponse', async (request, reply) => {
    logger.info(
      {
        requestId: request.id,
        method: request.method,
        route: request.routeOptions.url ?? '(unknown)',
        status: reply.statusCode,
        ms: Math.round(Number(process.hrtime.bigint() - (request.startedAt ?? 0n)) / 1e6),
      },
      'admin request',
    );
  });

  app.setErrorHandler((error: FastifyError | DsrCdcError, request, reply) => {
    if (isDsrCdcError(error)) {
      const status = STATUS_OF[error.code] ?? 500;
      if (status >= 500)
        logger.warn(
          { requestId: request.id, code: error.code, reason: error.message },
          'admin request failed',
        );
      return reply
        .code(status)
        .send({ error: error.message, ...(error.field ? { field: error.field } : {}) });
    }
    const status = error.statusCode ?? 500;
    if (status === 413) return reply.code(413).send({ error: `body larger than ${options.bodyLimit} bytes` });
    // JSON parse errors quote the body, which may hold identifiers: say only what is wrong
    if (error.code === 'FST_ERR_CTP_INVALID_JSON' || error instanceof SyntaxError) {
      return reply.code(400).send({ error: 'body is not valid JSON', field: '(root)' });
    }
    if (status < 500) return reply.code(status).send({ error: error.message });
    logger.error({ requestId: request.id, err: error }, 'admin request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: 'no such route' }));

  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    // a stopping process takes no new work: a load balancer should stop sending it any
    if (runtime.stopping) return reply.code(503).send({ ready: false, stopping: true, checks: {} });
    const readiness = await options.readiness();
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await options.metrics.registry.metrics();
    return reply.type(options.metrics.registry.contentType).send(text);
  });

  app.get('/status', async () => ({
    components: Object.fromEntries(
      await Promise.all(runtime.components.map(async (c) => [c.id, await describe(runtime, c)] as const)),
    ),
    breakers: options.breakers.states(),
  }));

  const sources = () => runtime.components.filter((c) => c.id.startsWith('source:'));
  app.get('/sources', async () => ({
    sources: sources().map((c) => ({
      name: c.id.slice('source:'.length),
      state: runtime.states.get(c.id),
      actions: [...(c.test ? ['test'] : []), ...(c.sync ? ['sync'] : [])],
    })),
  }));

  const sourceParams = z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'expected a source name'),
  });
  for (const action of ['test', 'sync'] as const) {
    app.post(`/sources/:name/${action}`, async (request, reply) => {
      const { name } = pathOf(sourceParams, request.params);
      const component = sources().find((c) => c.id === `source:${name}`);
      if (!component) return reply.code(404).send({ error: `no source '${name}' is hosted here` });
      const run = component[action]?.bind(component);
      if (!run) return reply.code(409).send({ error: `source '${name}' has no ${action} action` });
      return run();
    });
  }

  app.post('/dsr/requests', async (request, reply) => {
    const submitted = await options.dsr.submit(request.body);
    return reply
      .code(202)
      .header('location', `/dsr/requests/${submitted.requestId}`)
      .send({ requestId: submitted.requestId, submittedAt: submitted.submittedAt });
  });

  const requestParams = z.strictObject({ id: requestIdSchema });
  app.get('/dsr/requests/:id', async (request, reply) => {
    const { id } = pathOf(requestParams, request.params);
    const result = await options.dsr.result(id);
    if (!result) return reply.code(404).send({ error: `no result for DSR request ${id} yet` });
    return result;
  });

  return app;
}

async function describe(runtime: Host, component: Component): Promise<unknown> {
  let status: unknown;
  try {
    status = await component.status?.();
  } catch (error) {
    status = { error: (error as Error).message };
  }
  return { state: runtime.states.get(component.id), ...(status === undefined ? {} : { status }) };
}

/** Equal-length digests, so timingSafeEqual compares tokens of any length in constant time. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

declare module 'fastify' {
  interface FastifyRequest {
    startedAt?: bigint;
  }
}
