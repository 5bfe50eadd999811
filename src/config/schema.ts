/**
 * The pipeline config: one zod schema that is both the validator and, through `configJsonSchema()`,
 * the published JSON Schema. Pure: resolving secret references needs env and files, so the schema
 * is built around a resolver that `loadConfig()` (the only reader of both) hands in.
 */
import { isSupportedCountry } from 'libphonenumber-js/max';
import { z } from 'zod';
import { adminSectionSchema } from '../admin/config.js';
import { MIN_PEPPER_BYTES } from '../consumers/pii-discovery/tokens.js';
import { warehouseSchema } from '../consumers/warehouse-config.js';
import { runtimeSectionSchema } from '../runtime/config.js';
import { pollerSourceSchemas } from '../sources/poller/config.js';
import { batchSchema } from './batch.js';
import { kafkaTlsSchema, pgConnection } from './tls.js';

/** `${env:NAME}` or `${file:/absolute/path}`: the only accepted form of a secret in the config. */
export const SECRET_REFERENCE = /^\$\{(env):([A-Za-z_][A-Za-z0-9_]*)\}$|^\$\{(file):(\/[^}]*)\}$/;

export type SecretReference = { kind: 'env'; name: string } | { kind: 'file'; path: string };

/** Returns the secret's value, or what went wrong naming the variable or path (never a value). */
export type SecretResolver = (reference: SecretReference) => { value: string } | { problem: string };

/**
 * A resolved secret. The value is reachable only through `reveal()`; serialising or printing a
 * Secret (JSON, util.inspect, template strings, pino) yields the masked form naming its reference.
 */
export class Secret {
  readonly reference: string;
  readonly #value: string;

  constructor(reference: string, value: string) {
    this.reference = reference;
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get masked(): string {
    return `*** (${this.reference})`;
  }

  toString(): string {
    return this.masked;
  }

  toJSON(): string {
    return this.masked;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.masked;
  }
}

export function parseSecretReference(text: string): SecretReference | undefined {
  const match = SECRET_REFERENCE.exec(text);
  if (!match) return undefined;
  return match[1] === 'env' ? { kind: 'env', name: match[2] ?? '' } : { kind: 'file', path: match[4] ?? '' };
}

const nonEmpty = z.string().min(1);
/** Postgres folds unquoted names to lower case; slot names allow only these characters anyway. */
const pgName = z
  .string()
  .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lower-case Postgres name (a-z, 0-9, _; at most 63)');

const SECRET_FORMS = '${env:NAME} or ${file:/path}';

/** dsr.answerWaitMs when not set; exported for clients that wait for answers without a dsr section. */
export const DEFAULT_ANSWER_WAIT_MS = 30_000;

function secretSchema(resolve: SecretResolver) {
  return z
    .string()
    .regex(SECRET_REFERENCE, `plaintext secrets are refused; use ${SECRET_FORMS}`)
    .meta({ description: `A secret reference, ${SECRET_FORMS}; plaintext is refused.` })
    .transform((text, ctx) => {
      const reference = parseSecretReference(text) as SecretReference;
      const resolved = resolve(reference);
      if ('problem' in resolved) {
        ctx.issues.push({ code: 'custom', message: resolved.problem, input: text });
        return z.NEVER;
      }
      return new Secret(text, resolved.value);
    });
}

/**
 * The config schema. Objects are strict, so a misspelt key is an error rather than silently ignored.
 * Later issues extend it; keep every field documented with `.meta({ description })` where its
 * meaning is not obvious, since that text ends up in the JSON Schema.
 */
export function configSchema(resolve: SecretResolver) {
  const secret = secretSchema(resolve);
  return z.strictObject({
    pipeline: z.strictObject({
      name: z
        .string()
        .regex(/^[A-Za-z0-9._-]+$/, "expected letters, digits, '.', '_' or '-'")
        .meta({ description: 'Names this pipeline in client ids, consumer groups and logs.' }),
    }),
    kafka: z.strictObject({
      brokers: z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port')).min(1),
      clientId: nonEmpty,
      ssl: kafkaTlsSchema(secret),
      sasl: z
        .strictObject({
          mechanism: z.enum(['scram-sha-256', 'scram-sha-512']),
          username: nonEmpty,
          password: secret,
        })
        .optional(),
    }),
    registry: z.strictObject({
      url: z.url().meta({ description: 'Base URL of the Confluent-compatible Schema Registry API.' }),
      auth: z.strictObject({ username: nonEmpty, password: secret }).optional(),
    }),
    sources: z.record(
      z
        .string()
        .regex(/^[a-z][a-z0-9_]*$/, 'expected a source name of a-z, 0-9 and _ (it appears in topic names)'),
      z.discriminatedUnion('kind', [
        z.strictObject({
          kind: z.literal('postgres'),
          connection: pgConnection({
            host: nonEmpty,
            port: z.number().int().min(1).max(65535),
            database: nonEmpty,
            user: nonEmpty,
            password: secret,
          }),
          publication: pgName,
          slot: pgName,
          tables: z.strictObject({
            include: z
              .array(nonEmpty)
              .min(1)
              .meta({ description: "Tables to capture: 'schema.table' or 'schema.*'." }),
            exclude: z.array(nonEmpty).default([]),
          }),
          snapshot: z
            .strictObject({
              mode: z.enum(['initial', 'never', 'initial_only']).default('initial').meta({
                description:
                  'initial: read existing rows once, then stream; never: stream only; initial_only: read and stop.',
              }),
              chunkRows: z.number().int().min(100).max(1_000_000).default(10_000),
            })
            .default({ mode: 'initial', chunkRows: 10_000 }),
          heartbeatIntervalMs: z.number().int().min(100).default(10_000).meta({
            description: 'How often an idle stream confirms the server position, so WAL does not pile up.',
          }),
          batch: batchSchema,
        }),
        ...pollerSourceSchemas(secret),
      ]),
    ),
    dsr: z
      .strictObject({
        pepper: secret
          .refine((pepper) => Buffer.byteLength(pepper.reveal(), 'utf8') >= MIN_PEPPER_BYTES, {
            message: `expected a secret of at least ${MIN_PEPPER_BYTES} bytes (e.g. openssl rand -base64 48)`,
          })
          .meta({
            description:
              'HMAC key that turns subject identifiers into tokens, its UTF-8 bytes as written. The same ' +
              'in every pii-discovery process, and never changed: a new pepper orphans the whole index.',
          }),
        classification: nonEmpty.optional().meta({
          description:
            'Path of a YAML column classification file (absolute, or relative to the working directory).',
        }),
        answerWaitMs: z.number().int().min(0).default(DEFAULT_ANSWER_WAIT_MS).meta({
          description: 'How long a DSR request waits for the index to catch up before an incomplete answer.',
        }),
        linkDepth: z.number().int().min(0).max(3).default(1).meta({
          description: 'Hops of linked identifiers a DSR answer follows (0: only the identifiers asked for).',
        }),
        defaultRegion: z
          .string()
          .refine(isSupportedCountry, 'expected a two-letter ISO 3166 country code in upper case, e.g. GB')
          .optional()
          .meta({ description: 'Country of phone numbers written without a +country code.' }),
      })
      .optional()
      .meta({ description: 'PII discovery and DSR answers; required by `consumer run pii-discovery`.' }),
    admin: adminSectionSchema(secret),
    runtime: runtimeSectionSchema(),
    warehouse: warehouseSchema(secret),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .default({ level: 'info' }),
  });
}

export type ConfigSchema = ReturnType<typeof configSchema>;
/** The loaded config: validated, secrets resolved into `Secret`s, deeply frozen. */
export type Config = DeepReadonly<z.output<ConfigSchema>>;

type DeepReadonly<T> = T extends Secret
  ? T
  : T extends readonly (infer E)[]
    ? readonly DeepReadonly<E>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/** JSON Schema (draft 2020-12) of the config file as written, i.e. with secret references. */
export function configJsonSchema(): Record<string, unknown> {
  const neverCalled: SecretResolver = () => ({ problem: 'not resolved' });
  return z.toJSONSchema(configSchema(neverCalled), { io: 'input' });
}
