/**
 * `npm run demo`: the pipeline's main job on the local stack, end to end and re-runnable.
 *
 * 1. creates a small sample database (schema `demo`: customers, orders) with a few rows,
 * 2. runs the replication source `app` from dsr-cdc.example.yaml (the real config path), which
 *    snapshots the tables and then streams,
 * 3. makes changes (insert, update, a primary-key change, delete),
 * 4. reads the `cdc.app.demo.*` topics back, decoding through the schema registry, and prints
 *    every change event,
 * 5. runs the pii-discovery stage and answers an access request for one subject,
 * 6. runs type coercion and the Snowflake loader, and prints the warehouse tables (the emulator).
 * The sample data is synthetic; printing it is the point of a demo. Everything it creates is
 * removed at the start of the next run, the replication slot already at the end of this one.
 */
import { randomBytes } from 'node:crypto';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadConnections } from '../src/config/connections.js';
import { loadConfig } from '../src/config/load.js';
import { type Config, Secret } from '../src/config/schema.js';
import { piiDiscoveryTopics, runPiiDiscovery } from '../src/consumers/pii-discovery/index.js';
import { runSnowflakeLoader } from '../src/consumers/snowflake-loader/index.js';
import { connectWarehouse, type SnowflakeSettings } from '../src/consumers/snowflake-loader/snowflake.js';
import { runTypeCoercion } from '../src/consumers/type-coercion/index.js';
import { awaitResult, submitRequest } from '../src/dsr/client.js';
import type { ChangeEnvelope } from '../src/events/envelope.js';
import { avroTypeOptions, decimalText } from '../src/events/pg-types.js';
import { createProducer } from '../src/kafka/client.js';
import { createLogger, type Logger } from '../src/observability/logger.js';
import { runPostgresSource } from '../src/sources/postgres/index.js';
import { formatLsn } from '../src/sources/postgres/pgoutput.js';

const SOURCE = 'app';
const SLOT = 'dsr_cdc_demo';
const PUBLICATION = 'dsr_cdc_demo';
const TOPICS = ['cdc.app.demo.customers', 'cdc.app.demo.orders'];
const WAREHOUSE_TOPICS = TOPICS.map((t) => t.replace(/^cdc\./, 'warehouse.'));
const WAREHOUSE_SCHEMA = 'DSR_CDC_DEMO';
const EXPECTED_EVENTS = 11;

const connections = loadConnections();
const admin = new pg.Client({
  host: connections.postgres.host,
  port: connections.postgres.port,
  database: connections.postgres.database,
  user: connections.postgres.adminUser,
  password: connections.postgres.adminPassword,
});
const kafka = new Kafka({
  clientId: 'dsr-cdc-demo',
  brokers: connections.kafka.brokers,
  logLevel: logLevel.NOTHING,
});

async function resetPreviousRun(): Promise<void> {
  await admin.query(`SELECT pg_drop_replication_slot($1) FROM pg_replication_slots WHERE slot_name = $1`, [
    SLOT,
  ]);
  await admin.query(`DROP PUBLICATION IF EXISTS ${PUBLICATION}`);
  await admin.query('DROP SCHEMA IF EXISTS demo CASCADE');
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const existing = new Set(await kafkaAdmin.listTopics());
  await kafkaAdmin.deleteTopics({ topics: [...TOPICS, ...WAREHOUSE_TOPICS].filter((t) => existing.has(t)) });
  await kafkaAdmin.disconnect();
  const warehouse = await connectWarehouse(warehouseSettings());
  await warehouse.execute(`DROP SCHEMA IF EXISTS "${warehouseSettings().database}"."${WAREHOUSE_SCHEMA}"`);
  await warehouse.destroy();
  for (const topic of [...TOPICS, ...WAREHOUSE_TOPICS]) {
    for (const subject of [`${topic}-key`, `${topic}-value`]) {
      for (const suffix of ['', '?permanent=true']) {
        await fetch(`${connections.registry.url}/subjects/${subject}${suffix}`, { method: 'DELETE' });
      }
    }
  }
}

async function createSampleDatabase(): Promise<void> {
  await admin.query(`
    CREATE SCHEMA demo;
    GRANT USAGE ON SCHEMA demo TO ${pg.escapeIdentifier(connections.postgres.user)};
    CREATE TABLE demo.customers (
      id bigint PRIMARY KEY, email text NOT NULL, phone text, full_name text, created_at timestamptz NOT NULL);
    CREATE TABLE demo.orders (
      id bigint PRIMARY KEY, customer_id bigint REFERENCES demo.customers(id), total numeric(10,2), status text);
    GRANT SELECT ON ALL TABLES IN SCHEMA demo TO ${pg.escapeIdentifier(connections.postgres.user)};
    INSERT INTO demo.customers VALUES
      (1, 'ada@example.test', '+44 20 7946 0001', 'Ada Lovelace', '2024-01-02 03:04:05.123456+00'),
      (2, 'alan@example.test', NULL, 'Alan Turing', '2024-02-03 04:05:06+00');
    INSERT INTO demo.orders VALUES (10, 1, 99.90, 'paid'), (11, 2, 5.00, 'open'), (12, 2, 12.50, 'open');
    -- only a table's owner may publish it; the pipeline role just reads (see README)
    CREATE PUBLICATION ${PUBLICATION} FOR TABLE demo.customers, demo.orders;
  `);
}

async function makeChanges(): Promise<void> {
  await admin.query(
    `INSERT INTO demo.customers VALUES (3, 'grace@example.test', '+1 202 555 0143', 'Grace Hopper', now())`,
  );
  await admin.query(`UPDATE demo.customers SET email = 'ada.l@example.test' WHERE id = 1`);
  await admin.query(`UPDATE demo.orders SET status = 'paid', total = 5.50 WHERE id = 11`);
  await admin.query(`UPDATE demo.orders SET id = 13 WHERE id = 12`);
  await admin.query(`DELETE FROM demo.orders WHERE id = 11`);
}

/** The source holds its slot open once the snapshot is done and it streams. */
async function waitUntilStreaming(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const { rowCount } = await admin.query(
      'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active',
      [SLOT],
    );
    if (rowCount) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the source did not start streaming from slot ${SLOT} within 60 s`);
}

interface Printed {
  topic: string;
  envelope: ChangeEnvelope;
  key: Record<string, unknown>;
}

async function readEvents(): Promise<Printed[]> {
  const registry = new SchemaRegistry(
    { host: connections.registry.url },
    { [SchemaType.AVRO]: avroTypeOptions() },
  );
  const consumer = kafka.consumer({ groupId: `dsr-cdc-demo-${Date.now()}` });
  const events: Printed[] = [];
  await consumer.connect();
  for (const topic of TOPICS) await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${events.length} events arrived in 60 s`)), 60_000);
    consumer
      .run({
        eachMessage: async ({ topic, message }) => {
          events.push({
            topic,
            key: (await registry.decode(message.key as Buffer)) as Record<string, unknown>,
            envelope: (await registry.decode(message.value as Buffer)) as ChangeEnvelope,
          });
          if (events.length >= EXPECTED_EVENTS) {
            clearTimeout(timer);
            resolve();
          }
        },
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return events.sort((a, b) => {
    const [x, y] = [a.envelope.source, b.envelope.source];
    const byLsn = Number((x.commitLsn ?? 0n) - (y.commitLsn ?? 0n));
    return byLsn !== 0 ? byLsn : a.topic.localeCompare(b.topic) || Number(x.seq - y.seq);
  });
}

function show(value: unknown, column: string): string {
  if (value === null || value === undefined) return 'null';
  if (Buffer.isBuffer(value)) return column === 'total' ? decimalText(value, 2) : value.toString('hex');
  if (column === 'created_at' && typeof value === 'bigint')
    return new Date(Number(value / 1000n)).toISOString();
  return String(value);
}

function print(events: Printed[]): void {
  const OPS = { r: 'read', c: 'create', u: 'update', d: 'delete', t: 'truncate' } as const;
  process.stdout.write(`\n${events.length} change events in ${TOPICS.join(', ')}:\n\n`);
  for (const { topic, key, envelope } of events) {
    // under REPLICA IDENTITY DEFAULT a delete carries only the old key, which `key` shows
    const columns = envelope.after
      ? Object.entries(envelope.after)
          .map(([column, value]) => `${column}=${show(value, column)}`)
          .join(' ')
      : '(row deleted)';
    const commitLsn = envelope.source.commitLsn === null ? '-' : formatLsn(envelope.source.commitLsn);
    const position = `commitLsn=${commitLsn} seq=${envelope.source.seq}`;
    process.stdout.write(
      `  ${OPS[envelope.op].padEnd(7)} ${topic.padEnd(24)} key=${JSON.stringify(key, (_, v) => (typeof v === 'bigint' ? Number(v) : v))}\n` +
        `          ${position}${envelope.source.snapshot ? ' (snapshot)' : ''}\n          ${columns}\n`,
    );
  }
}

/**
 * The privacy half: the pii-discovery stage indexes the change events, and an access request for
 * Ada's (new) email address is answered with every row that holds her data, found by identifier,
 * by a linked identifier, or through a foreign key. A pepper is generated for this run, and the
 * pipeline name is new each run, so its consumer groups start from the beginning.
 */
async function answerAccessRequest(config: Config, logger: Logger): Promise<void> {
  const withDsr = {
    ...config,
    pipeline: { name: `dsr-cdc-demo-${Date.now()}` },
    dsr: {
      pepper: new Secret('(generated for this demo run)', randomBytes(32).toString('hex')),
      answerWaitMs: 60_000,
      linkDepth: 1,
      defaultRegion: 'GB',
    },
  } as Config;
  const controller = new AbortController();
  const discovery = runPiiDiscovery(withDsr, logger, controller.signal);
  const topics = piiDiscoveryTopics();
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    const request = await submitRequest(producer, topics.requests.name, {
      type: 'access',
      identifiers: [{ type: 'email', value: 'Ada.L@example.test' }],
    });
    process.stdout.write(`\naccess request ${request.requestId} submitted for ada.l@example.test\n`);
    const result = await awaitResult(kafka, topics.results.name, request.requestId, 120_000);
    process.stdout.write(`answer: ${result.status}, index caught up: ${result.caughtUp}\n`);
    for (const location of result.locations) {
      const how =
        location.matchedBy.kind === 'identifier'
          ? `holds the ${location.matchedBy.identifierType}`
          : `${location.matchedBy.kind} via ${location.matchedBy.via?.table} ${JSON.stringify(location.matchedBy.via?.primaryKey)}`;
      process.stdout.write(
        `  ${location.schema}.${location.table} ${JSON.stringify(location.primaryKey)}: columns ${location.columns.join(', ') || '-'} (${how})\n`,
      );
    }
  } finally {
    await producer.disconnect();
    controller.abort();
    await discovery;
  }
}

/** The local emulator from the connection settings (a real account would come from the config). */
function warehouseSettings(): SnowflakeSettings {
  const sf = connections.snowflake;
  return {
    account: sf.account,
    accessUrl: sf.accessUrl,
    insecure: sf.accessUrl.startsWith('http://'),
    topics: '^warehouse\\.app\\.demo\\.',
    username: sf.username,
    password: new Secret('${env:DSR_CDC_SNOWFLAKE_PASSWORD}', sf.password),
    warehouse: sf.warehouse,
    database: sf.database.toUpperCase(),
    schema: WAREHOUSE_SCHEMA,
    deletes: 'hard',
    onDrift: 'stop',
    loginTimeoutMs: 20_000,
    statementTimeoutSeconds: 300,
    batch: { maxWaitMs: 200, minBytes: 1, maxBytes: 4 * 1024 * 1024 },
  };
}

/**
 * The warehouse half: type coercion turns the change events into warehouse rows and the loader
 * applies them to Snowflake (here the emulator), exactly once; the tables then equal the source.
 */
async function loadWarehouse(config: Config, logger: Logger): Promise<void> {
  const withWarehouse = {
    ...config,
    pipeline: { name: `dsr-cdc-demo-${Date.now()}` },
    warehouse: {
      coercion: {
        topics: '^cdc\\.app\\.demo\\.',
        onOutOfRange: 'null',
        unconstrainedNumericScale: 9,
        columns: {},
      },
      snowflake: warehouseSettings(),
    },
  } as Config;
  const controller = new AbortController();
  const stages = Promise.all([
    runTypeCoercion(withWarehouse, logger, controller.signal),
    runSnowflakeLoader(withWarehouse, logger, controller.signal),
  ]);
  const warehouse = await connectWarehouse(warehouseSettings());
  const schema = `"${warehouseSettings().database}"."${WAREHOUSE_SCHEMA}"`;
  const rows = (table: string, order: string) =>
    warehouse.execute(`SELECT * FROM ${schema}."APP__DEMO__${table}" ORDER BY "${order}"`).catch(() => []);
  try {
    const deadline = Date.now() + 120_000;
    while ((await rows('CUSTOMERS', 'ID')).length !== 3 || (await rows('ORDERS', 'ID')).length !== 2) {
      if (Date.now() > deadline) throw new Error('the warehouse tables were not loaded within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    process.stdout.write(`\nSnowflake (the local emulator), schema ${WAREHOUSE_SCHEMA}:\n`);
    for (const [table, columns] of [
      ['CUSTOMERS', ['ID', 'EMAIL', 'PHONE', 'CREATED_AT', '_DSR_OP', '_DSR_COMMIT_LSN']],
      ['ORDERS', ['ID', 'CUSTOMER_ID', 'TOTAL', 'STATUS', '_DSR_OP', '_DSR_COMMIT_LSN']],
    ] as const) {
      process.stdout.write(`  APP__DEMO__${table}\n`);
      for (const row of await rows(table, 'ID')) {
        const text = columns.map(
          (c) => `${c}=${row[c] instanceof Date ? (row[c] as Date).toISOString() : String(row[c])}`,
        );
        process.stdout.write(`    ${text.join(' ')}\n`);
      }
    }
  } finally {
    await warehouse.destroy();
    controller.abort();
    await stages;
  }
}

async function main(): Promise<void> {
  await admin.connect();
  try {
    await resetPreviousRun();
    await createSampleDatabase();
    process.stdout.write('sample database demo.customers / demo.orders created\n');

    const config = loadConfig({
      path: new URL('../dsr-cdc.example.yaml', import.meta.url).pathname,
      env: {
        DSR_CDC_PG_PASSWORD: connections.postgres.password,
        DSR_CDC__SOURCES__APP__PUBLICATION: PUBLICATION,
        DSR_CDC__SOURCES__APP__SLOT: SLOT,
        DSR_CDC__SOURCES__APP__TABLES__INCLUDE: 'demo.*',
        DSR_CDC__LOG__LEVEL: 'warn',
      },
    });
    const controller = new AbortController();
    const logger = createLogger({ level: config.log.level, component: 'demo' });
    const source = runPostgresSource(config, SOURCE, logger, controller.signal);
    process.stdout.write(`source '${SOURCE}' running: snapshot, then streaming from slot ${SLOT}\n`);
    await waitUntilStreaming();
    await makeChanges();
    process.stdout.write('changes made: 1 insert, 2 updates, 1 primary-key change, 1 delete\n');
    try {
      print(await readEvents());
    } finally {
      controller.abort();
      await source;
    }
    await admin.query('SELECT pg_drop_replication_slot($1)', [SLOT]);
    process.stdout.write('\nsource stopped, replication slot dropped. Topics stay for you to inspect.\n');
    await answerAccessRequest(config, logger);
    await loadWarehouse(config, logger);
  } finally {
    await admin.end();
  }
}

await main();
