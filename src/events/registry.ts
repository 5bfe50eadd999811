/**
 * The one place that builds the schema registry client, with exact Avro longs (see pg-types.ts).
 * Every HTTP request it makes has a timeout and goes through the 'registry' circuit breaker.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type avsc from 'avsc';
import type { Config } from '../config/schema.js';
import { DsrCdcError } from '../errors.js';
import { breakers } from '../resilience.js';
import { FOREIGN_KEYS_PROPERTY, type ForeignKey } from './envelope.js';
import { avroTypeOptions } from './pg-types.js';

/** `avro`: avsc options for every Avro schema; anything else must keep avroTypeOptions()' longs. */
export function createRegistry(
  config: Config['registry'],
  avro: Partial<avsc.ForSchemaOptions> = avroTypeOptions(),
): SchemaRegistry {
  const auth = config.auth && { username: config.auth.username, password: config.auth.password.reveal() };
  return new SchemaRegistry(
    { host: config.url, ...(auth ? { auth } : {}), clientId: 'dsr-cdc', middlewares: [guardedByBreaker] },
    {
      [SchemaType.AVRO]: avro,
      // JSON Schema contracts are registered, not used to encode: messages are validated by the
      // zod schemas they were generated from, so the client's own ajv need not know formats
      [SchemaType.JSON]: { strict: false, validateFormats: false },
    },
  );
}

type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

/** Per HTTP request to the registry: connect, send and read the answer. */
export const REGISTRY_TIMEOUT_MS = 10_000;

/** Network failures as the client reports them: status 400 and the socket error as message. */
const NETWORK_FAILURE = /ECONN|EPIPE|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|socket|Timeout \(/;

/** A registry outage carried through the breaker, so that it counts; rethrown as it was. */
class Outage extends DsrCdcError {
  constructor(readonly original: unknown) {
    super('CONNECTION_FAILED', 'the schema registry is unreachable', { retryable: true });
  }
}

/**
 * Runs each registry call (after the client's own retries and error mapping, which this outermost
 * middleware wraps) through the process's 'registry' breaker, each HTTP request with a timeout.
 * Outages are network failures, timeouts and 5xx answers; 4xx answers come from a working registry.
 * An open breaker fails the call at once with a retryable CONNECTION_FAILED whose message says
 * "network", which decodeWire() and ContractCatalog read as retryable.
 */
const guardedByBreaker: Middleware = () => ({
  prepareRequest: async (next) => (await next()).enhance({ timeout: REGISTRY_TIMEOUT_MS }),
  response: async (next) => {
    try {
      return await breakers.call('registry', () =>
        next().catch((error: { status?: number; message?: string }) => {
          const status = error.status;
          const outage =
            status === undefined ||
            status >= 500 ||
            status === 408 ||
            (status === 400 && NETWORK_FAILURE.test(error.message ?? ''));
          throw outage ? new Outage(error) : error;
        }),
      );
    } catch (error) {
      throw error instanceof Outage ? error.original : error;
    }
  },
});

/** The foreign keys a value contract declares (envelope property FOREIGN_KEYS_PROPERTY), by schema id. */
export function foreignKeysByContract(
  config: Config['registry'],
): (schemaId: number) => Promise<readonly ForeignKey[]> {
  const contractOf = contractById(config);
  return async (schemaId) =>
    ((await contractOf(schemaId))[FOREIGN_KEYS_PROPERTY] as ForeignKey[] | undefined) ?? [];
}

/**
 * Decodes a message in the registry's wire format (magic byte 0, schema id, payload) and names the
 * schema id. Bytes that are not the wire format, name a schema the registry does not have (404,
 * 422) or do not decode with their schema throw EVENT_INVALID (poison). Any other failure to fetch
 * the schema (unreachable, a timeout, 5xx, an open breaker) throws a retryable CONNECTION_FAILED:
 * the event may be fine, and must not be parked in a DLQ for the registry's trouble.
 */
/** How often an unknown schema id is asked for again (100 ms doubling: about 6 s in all). */
export const UNKNOWN_SCHEMA_RETRIES = 6;

export async function decodeWire(
  registry: SchemaRegistry,
  bytes: Buffer,
): Promise<{ value: unknown; schemaId: number }> {
  if (bytes.length < 5 || bytes[0] !== 0) {
    throw new DsrCdcError(
      'EVENT_INVALID',
      'not in the schema registry wire format (magic byte 0 + schema id)',
    );
  }
  const schemaId = bytes.readInt32BE(1);
  // fetched (and cached by the client) first, so that a failure to decode below is the event's
  for (let attempt = 0; ; attempt++) {
    try {
      await registry.getSchema(schemaId);
      break;
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status !== 404 && status !== 422) {
        throw new DsrCdcError(
          'CONNECTION_FAILED',
          `the schema registry did not give schema ${schemaId}: ${(error as Error).message}`,
          { retryable: true, cause: error },
        );
      }
      // a producer registers a schema before using it, and Apicurio has answered 404 for an id
      // registered a moment earlier: asked again for a few seconds before the event is poison
      if (attempt >= UNKNOWN_SCHEMA_RETRIES) {
        throw new DsrCdcError('EVENT_INVALID', `the schema registry has no schema ${schemaId}`, {
          cause: error,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
  try {
    return { value: await registry.decode(bytes), schemaId };
  } catch (error) {
    throw new DsrCdcError(
      'EVENT_INVALID',
      `cannot decode with schema ${schemaId} (${(error as Error).name})`,
      {
        cause: error,
      },
    );
  }
}

/**
 * The contract (schema JSON with its custom properties) registered under an id, cached: schemas
 * under an id never change. Read from the registry's REST API because the Avro client keeps no
 * custom schema properties.
 */
export function contractById(
  config: Config['registry'],
): (schemaId: number) => Promise<Record<string, unknown>> {
  const cache = new Map<number, Promise<Record<string, unknown>>>();
  const headers: Record<string, string> = config.auth
    ? {
        authorization: `Basic ${Buffer.from(`${config.auth.username}:${config.auth.password.reveal()}`).toString('base64')}`,
      }
    : {};
  return (schemaId) => {
    let contract = cache.get(schemaId);
    if (!contract) {
      contract = fetch(`${config.url}/schemas/ids/${schemaId}`, {
        headers,
        signal: AbortSignal.timeout(10_000),
      })
        .then(async (response) => {
          if (!response.ok)
            throw new Error(`the registry answered ${response.status} for schema ${schemaId}`);
          const { schema } = (await response.json()) as { schema: string };
          return JSON.parse(schema) as Record<string, unknown>;
        })
        .catch((error: unknown) => {
          cache.delete(schemaId);
          throw new DsrCdcError(
            'CONNECTION_FAILED',
            `cannot read contract ${schemaId}: ${(error as Error).message}`,
            {
              retryable: true,
              cause: error,
            },
          );
        });
      cache.set(schemaId, contract);
    }
    return contract;
  };
}

/** Encodes one value of a registered Avro schema into the registry's wire format. */
export type WireEncoder = (value: unknown) => Buffer;

/**
 * Scratch space shared by every WireEncoder (encoding is synchronous). It grows for a large event
 * (a TOAST value, up to 64 MB) and shrinks back after it, so one such row does not pin its size.
 */
const SCRATCH_BYTES = 64 * 1024;
let scratch = Buffer.allocUnsafe(SCRATCH_BYTES);

/**
 * The encoder of a registered Avro schema: the same bytes as `SchemaRegistry.encode` (magic byte 0,
 * schema id, Avro payload), written straight into one buffer. The client's `encode` looks the
 * schema up per call, writes a zero-filled copy and concatenates it with the header: about a fifth
 * of the replication source's CPU (bench/README.md). A value that does not fit the schema throws
 * EVENT_INVALID naming its fields, never their values.
 */
export async function wireEncoder(registry: SchemaRegistry, schemaId: number): Promise<WireEncoder> {
  const type = (await registry.getSchema(schemaId)) as avsc.Type;
  return (value) => {
    for (;;) {
      scratch[0] = 0;
      scratch.writeInt32BE(schemaId, 1);
      let end: number;
      try {
        end = type.encode(value, scratch, 5);
      } catch {
        const fields: string[] = [];
        type.isValid(value, { errorHook: (path) => fields.push(path.join('.') || '(root)') });
        throw new DsrCdcError(
          'EVENT_INVALID',
          `a value does not fit contract ${schemaId} at ${fields.join(', ') || 'an unknown field'}`,
        );
      }
      if (end >= 0) {
        const out = Buffer.allocUnsafe(end);
        scratch.copy(out, 0, 0, end);
        if (scratch.length > 16 * SCRATCH_BYTES) scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
        return out;
      }
      // avsc reports the missing bytes as a negative end
      scratch = Buffer.allocUnsafe(2 * (scratch.length - end));
    }
  };
}
