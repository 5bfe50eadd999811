/**
 * Config of the incremental pollers: `sources.<name>` with kind `postgres-poller`, `mysql-poller`
 * or `rest-poller`. Composed into the `sources` discriminated union of config/schema.ts; secrets
 * come in as the config's Secret schema, so plaintext is refused there as everywhere.
 */
import { Cron } from 'croner';
import { z } from 'zod';
import { batchSchema } from '../../config/batch.js';
import type { Config, Secret } from '../../config/schema.js';
import { pgConnection } from '../../config/tls.js';

const nonEmpty = z.string().min(1);

/** A cron expression croner accepts (5 fields, or 6 with seconds first). */
const schedule = z
  .string()
  .refine((pattern) => {
    try {
      new Cron(pattern, { paused: true }).stop();
      return true;
    } catch {
      return false;
    }
  }, 'expected a cron expression, e.g. "*/5 * * * *" or with seconds "*/10 * * * * *"')
  .meta({ description: 'When the poller runs (cron; 6 fields = with seconds). Runs never overlap.' });

const qualifiedTable = z
  .string()
  .regex(/^[^.\s]+\.[^.\s]+$/, "expected 'schema.table' (for MySQL/MariaDB 'database.table')");

const deletes = z
  .strictObject({
    softDeleteColumn: nonEmpty.optional().meta({
      description:
        'A column that marks a row deleted when it is true or not null (e.g. deleted_at): such a row is emitted as op d.',
    }),
    compareKeysEvery: z.number().int().min(1).optional().meta({
      description:
        'Every N-th run, compare the table’s primary keys with the keys this process has emitted and emit op d for the missing.',
    }),
  })
  .optional();

const sqlTable = z.strictObject({
  table: qualifiedTable,
  mode: z
    .enum(['timestamp', 'incrementing'])
    .default('timestamp')
    .meta({
      description:
        'timestamp: rows whose cursor (a timestamp or date column set on every write) moved; an ' +
        'integer cursor is refused here, since the poll bound is the clock; ' +
        'incrementing: append-only rows by an increasing integer key.',
    }),
  cursor: nonEmpty.optional().meta({
    description:
      'Cursor column: a timestamp or date column in timestamp mode (required), the integer key in incrementing mode.',
  }),
  key: z.array(nonEmpty).min(1).optional().meta({ description: 'Key columns (default: the primary key).' }),
  deletes,
});

const sqlPoller = {
  schedule: schedule.default('*/10 * * * * *'),
  tables: z.array(sqlTable).min(1),
  pageRows: z.number().int().min(1).max(100_000).default(5_000),
  batch: batchSchema,
};

const connection = (secret: z.ZodType<Secret, string>, defaultPort: number) => ({
  host: nonEmpty,
  port: z.number().int().min(1).max(65535).default(defaultPort),
  database: nonEmpty,
  user: nonEmpty,
  password: secret,
});

const cursorType = z.enum(['timestamp', 'long']);
const restColumnType = z.enum(['string', 'long', 'double', 'boolean', 'timestamp', 'json']);

const pagination = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('offset'),
    offsetParam: nonEmpty.default('offset'),
    limitParam: nonEmpty.default('limit'),
    limit: z.number().int().min(1).default(100),
  }),
  z.strictObject({
    type: z.literal('page'),
    pageParam: nonEmpty.default('page'),
    sizeParam: nonEmpty.default('per_page'),
    size: z.number().int().min(1).default(100),
    firstPage: z.number().int().min(0).default(1),
  }),
  z.strictObject({
    type: z.literal('cursor'),
    param: nonEmpty.default('cursor').meta({ description: 'Query parameter that carries the next cursor.' }),
    cursorPath: nonEmpty.meta({
      description: 'Dotted path of the next cursor in the body; absent/null ends.',
    }),
  }),
  z.strictObject({ type: z.literal('link') }),
]);

const restEndpoint = z.strictObject({
  table: qualifiedTable.meta({ description: "'schema.table' of the topic cdc.<source>.<schema>.<table>." }),
  path: nonEmpty.meta({ description: 'Path (or absolute URL) of the collection, relative to baseUrl.' }),
  query: z.record(z.string(), z.string()).default({}),
  recordsPath: z.string().default('').meta({
    description: "Dotted path of the record array in the body ('' when the body is the array).",
  }),
  key: z.array(nonEmpty).min(1),
  columns: z.record(nonEmpty, restColumnType).meta({
    description: 'Fields of a record and their types; fields not listed are not published.',
  }),
  cursor: z.strictObject({
    field: nonEmpty,
    type: cursorType.default('timestamp'),
    param: nonEmpty
      .optional()
      .meta({ description: 'Query parameter sent with the watermark (e.g. updated_since); inclusive.' }),
  }),
  pagination: pagination.default({ type: 'none' }),
});

const restAuth = (secret: z.ZodType<Secret, string>) =>
  z.discriminatedUnion('type', [
    z.strictObject({ type: z.literal('none') }),
    z.strictObject({ type: z.literal('bearer'), token: secret }),
    z.strictObject({ type: z.literal('apiKey'), header: nonEmpty, key: secret }),
    z.strictObject({ type: z.literal('basic'), username: nonEmpty, password: secret }),
    z.strictObject({
      type: z.literal('oauth2'),
      tokenUrl: z.url(),
      clientId: nonEmpty,
      clientSecret: secret,
      scope: nonEmpty.optional(),
    }),
  ]);

/** The three poller source schemas, members of the `sources` union (discriminated on `kind`). */
export function pollerSourceSchemas(secret: z.ZodType<Secret, string>) {
  return [
    z.strictObject({
      kind: z.literal('postgres-poller'),
      // the replication source's connection and TLS rules: unverified sslmodes need insecure: true
      connection: pgConnection(connection(secret, 5432)),
      ...sqlPoller,
      safetyLagMs: z
        .number()
        .int()
        .min(0)
        .optional()
        .meta({
          description:
            'Timestamp mode: rows newer than now − lag wait for the next run. On a primary (default 200) ' +
            'open transactions already hold rows back (the transaction horizon); the lag covers the instant ' +
            'between a transaction taking its timestamp and showing as open, and cursors set by a client ' +
            'clock. On a hot standby the primary’s transactions are invisible, so only the lag protects ' +
            'late commits: it is required there and must exceed the longest write transaction plus the ' +
            'replay lag (it then also holds back incrementing ids).',
        }),
    }),
    z.strictObject({
      kind: z.literal('mysql-poller'),
      connection: z.strictObject({ ...connection(secret, 3306), ssl: z.boolean().optional() }),
      ...sqlPoller,
      safetyLagMs: z
        .number()
        .int()
        .min(0)
        .default(10_000)
        .meta({
          description:
            'Rows whose cursor is newer than now − lag wait for the next run: must exceed the longest ' +
            'write transaction, since MySQL exposes no transaction horizon.',
        }),
    }),
    z.strictObject({
      kind: z.literal('rest-poller'),
      baseUrl: z.url(),
      schedule: schedule.default('*/30 * * * * *'),
      auth: restAuth(secret).default({ type: 'none' }),
      endpoints: z.array(restEndpoint).min(1),
      rateLimit: z
        .strictObject({
          requestsPerSecond: z.number().positive().default(10),
          burst: z.number().int().min(1).default(10),
        })
        .default({ requestsPerSecond: 10, burst: 10 }),
      retry: z
        .strictObject({
          maxAttempts: z.number().int().min(0).default(5),
          initialDelayMs: z.number().int().min(1).default(500),
          maxDelayMs: z.number().int().min(1).default(30_000),
        })
        .default({ maxAttempts: 5, initialDelayMs: 500, maxDelayMs: 30_000 }),
      timeoutMs: z.number().int().min(100).default(30_000),
      safetyLagMs: z.number().int().min(0).default(0).meta({
        description: 'The watermark never passes now − lag (timestamp cursors), for APIs that index late.',
      }),
      batch: batchSchema,
    }),
  ] as const;
}

/** The loaded (validated, frozen) config of each poller kind. */
type SourceConfig = Config['sources'][string];
export type PostgresPollerConfig = Extract<SourceConfig, { kind: 'postgres-poller' }>;
export type MysqlPollerConfig = Extract<SourceConfig, { kind: 'mysql-poller' }>;
export type RestPollerConfig = Extract<SourceConfig, { kind: 'rest-poller' }>;
export type SqlTableConfig = PostgresPollerConfig['tables'][number];
export type RestEndpointConfig = RestPollerConfig['endpoints'][number];
export type RestColumnType = z.output<typeof restColumnType>;

export const POLLER_KINDS = ['postgres-poller', 'mysql-poller', 'rest-poller'] as const;
