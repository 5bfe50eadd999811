/**
 * Connection settings for the four external systems, in one place.
 *
 * Every value comes from an environment variable whose default points at the local stack that
 * `npm run stack -- up` starts (see stack/). Tests, the demo and the pipeline all read these,
 * so pointing the whole project at other services is a matter of exporting variables.
 *
 * The local-stack passwords are fixtures of a throwaway cluster bound to 127.0.0.1, not secrets;
 * production credentials come from the pipeline config's secret references (env or file).
 */
import { z } from 'zod';
import { DsrCdcError } from '../errors.js';

/** The ports the local stack binds on 127.0.0.1. Chosen high to avoid clashing with real services. */
export const LOCAL_PORTS = {
  postgres: 55432,
  kafka: 59092,
  kafkaController: 59093,
  registry: 58081,
  registryManagement: 59000,
  snowflake: 58085,
  mariadb: 53306,
} as const;

const port = z.coerce.number().int().min(1).max(65535);

const connectionsSchema = z.object({
  postgres: z.object({
    host: z.string().min(1),
    port,
    database: z.string().min(1),
    /** Least-privilege role of the pipeline: LOGIN REPLICATION, SELECT on captured tables. */
    user: z.string().min(1),
    password: z.string(),
    /** Superuser used by tests and the demo to create schemas and write rows; never by the pipeline. */
    adminUser: z.string().min(1),
    adminPassword: z.string(),
  }),
  /** MariaDB of the local stack, for the MySQL/MariaDB poller and its tests. */
  mariadb: z.object({
    host: z.string().min(1),
    port,
    database: z.string().min(1),
    /** Least-privilege account of the poller: SELECT on the database. */
    user: z.string().min(1),
    password: z.string(),
    /** All privileges; used by tests and the stack to create tables and write rows, never by the poller. */
    adminUser: z.string().min(1),
    adminPassword: z.string(),
  }),
  kafka: z.object({
    brokers: z
      .string()
      .min(1)
      .transform((s) => s.split(',').map((b) => b.trim()))
      .pipe(z.array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port'))),
  }),
  registry: z.object({
    /** Base URL of the Confluent-compatible API (Apicurio serves it under /apis/ccompat/v7). */
    url: z.url(),
  }),
  snowflake: z.object({
    /** Full URL of Snowflake or of the local emulator adapter. */
    accessUrl: z.url(),
    account: z.string().min(1),
    username: z.string().min(1),
    password: z.string(),
    database: z.string().min(1),
    schema: z.string().min(1),
    warehouse: z.string().min(1),
  }),
});

export type Connections = z.infer<typeof connectionsSchema>;

/** Environment variable → [path in Connections, local default]. */
const VARIABLES = {
  DSR_CDC_PG_HOST: ['postgres.host', '127.0.0.1'],
  DSR_CDC_PG_PORT: ['postgres.port', String(LOCAL_PORTS.postgres)],
  DSR_CDC_PG_DATABASE: ['postgres.database', 'dsr_cdc'],
  DSR_CDC_PG_USER: ['postgres.user', 'dsr_cdc_pipeline'],
  DSR_CDC_PG_PASSWORD: ['postgres.password', 'dsr-cdc-local'],
  DSR_CDC_PG_ADMIN_USER: ['postgres.adminUser', 'postgres'],
  DSR_CDC_PG_ADMIN_PASSWORD: ['postgres.adminPassword', 'dsr-cdc-local-admin'],
  DSR_CDC_MARIADB_HOST: ['mariadb.host', '127.0.0.1'],
  DSR_CDC_MARIADB_PORT: ['mariadb.port', String(LOCAL_PORTS.mariadb)],
  DSR_CDC_MARIADB_DATABASE: ['mariadb.database', 'dsr_cdc'],
  DSR_CDC_MARIADB_USER: ['mariadb.user', 'dsr_cdc_pipeline'],
  DSR_CDC_MARIADB_PASSWORD: ['mariadb.password', 'dsr-cdc-local'],
  DSR_CDC_MARIADB_ADMIN_USER: ['mariadb.adminUser', 'dsr_cdc_admin'],
  DSR_CDC_MARIADB_ADMIN_PASSWORD: ['mariadb.adminPassword', 'dsr-cdc-local-admin'],
  DSR_CDC_KAFKA_BROKERS: ['kafka.brokers', `127.0.0.1:${LOCAL_PORTS.kafka}`],
  DSR_CDC_REGISTRY_URL: ['registry.url', `http://127.0.0.1:${LOCAL_PORTS.registry}/apis/ccompat/v7`],
  DSR_CDC_SNOWFLAKE_URL: ['snowflake.accessUrl', `http://127.0.0.1:${LOCAL_PORTS.snowflake}`],
  DSR_CDC_SNOWFLAKE_ACCOUNT: ['snowflake.account', 'fakesnow'],
  DSR_CDC_SNOWFLAKE_USER: ['snowflake.username', 'dsr_cdc_loader'],
  DSR_CDC_SNOWFLAKE_PASSWORD: ['snowflake.password', 'dsr-cdc-local'],
  DSR_CDC_SNOWFLAKE_DATABASE: ['snowflake.database', 'DSR_CDC'],
  DSR_CDC_SNOWFLAKE_SCHEMA: ['snowflake.schema', 'PUBLIC'],
  DSR_CDC_SNOWFLAKE_WAREHOUSE: ['snowflake.warehouse', 'DSR_CDC_WH'],
} as const satisfies Record<string, readonly [string, string]>;

export const CONNECTION_VARIABLES = Object.keys(VARIABLES) as (keyof typeof VARIABLES)[];

/**
 * Reads the connection settings from `env` (defaults: the local stack). Throws a ConfigError that
 * names the variable and what was expected when one is malformed.
 */
export function loadConnections(env: NodeJS.ProcessEnv = process.env): Readonly<Connections> {
  const raw: Record<string, Record<string, string>> = {};
  for (const [name, [path, fallback]] of Object.entries(VARIABLES)) {
    const [group, key] = path.split('.') as [string, string];
    raw[group] ??= {};
    raw[group][key] = env[name] ?? fallback;
  }
  const parsed = connectionsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // the first two segments name the setting (a list index may follow, e.g. kafka.brokers.0)
    const path = (issue?.path ?? []).slice(0, 2).join('.');
    const variable = Object.entries(VARIABLES).find(([, [p]]) => p === path)?.[0] ?? path;
    throw new DsrCdcError('CONFIG_INVALID', `${variable}: ${issue?.message ?? 'invalid value'}`, {
      field: variable,
    });
  }
  return Object.freeze(parsed.data);
}
