/**
 * The loader's batch handling against a fake Warehouse (every statement recorded) and a fake
 * registry: what runs for a batch, not what Snowflake does with it (see the integration tests).
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TableColumn } from '../../../../src/consumers/snowflake-loader/drift.js';
import { type LoaderOptions, SnowflakeLoader } from '../../../../src/consumers/snowflake-loader/loader.js';
import type { Warehouse } from '../../../../src/consumers/snowflake-loader/snowflake.js';
import * as sql from '../../../../src/consumers/snowflake-loader/sql.js';
import {
  KEY_PROPERTY,
  SNOWFLAKE_COLUMN_PROPERTY,
  SNOWFLAKE_TYPE_PROPERTY,
  type WarehouseRow,
} from '../../../../src/consumers/type-coercion/plan.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { metrics } from '../../../../src/observability/metrics.js';

const TOPIC = 'warehouse.shop.public.accounts';
const TABLE = 'SHOP__PUBLIC__ACCOUNTS';

/** Contract versions by schema id: 1 has ID and EMAIL, 2 added NICKNAME. */
const VERSIONS: Record<number, string[]> = { 1: ['ID', 'EMAIL'], 2: ['ID', 'EMAIL', 'NICKNAME'] };

function contract(schemaId: number): Record<string, unknown> {
  const fields = (VERSIONS[schemaId] ?? []).map((column) => ({
    name: column.toLowerCase(),
    type: ['null', 'string'],
    [SNOWFLAKE_COLUMN_PROPERTY]: column,
    [SNOWFLAKE_TYPE_PROPERTY]: column === 'ID' ? 'NUMBER(19,0)' : 'VARCHAR',
  }));
  return { type: 'record', name: 'accounts', fields, [KEY_PROPERTY]: ['ID'] };
}

/** dsr_cdc_warehouse_table_stopped of the test table (undefined until set). */
const stoppedGauge = async () =>
  (await metrics.warehouseTableStopped.get()).values.find((v) => v.labels.table === TABLE)?.value;

/** A column as INFORMATION_SCHEMA reports it: ID a NUMBER(19,0), the others text. */
const info = (name: string): TableColumn =>
  name === 'ID'
    ? { COLUMN_NAME: name, DATA_TYPE: 'NUMBER', NUMERIC_PRECISION: 19, NUMERIC_SCALE: 0 }
    : { COLUMN_NAME: name, DATA_TYPE: 'TEXT', NUMERIC_PRECISION: null, NUMERIC_SCALE: null };

/** A Snowflake that records statements; the table has the columns of `columns`. */
class FakeWarehouse implements Warehouse {
  readonly statements: { sql: string; binds: unknown }[] = [];
  constructor(private readonly columns: string[]) {}
  async execute<T>(text: string, binds?: unknown): Promise<T[]> {
    this.statements.push({ sql: text, binds });
    if (text.includes('INFORMATION_SCHEMA')) {
      const table = (binds as string[])[1];
      const names = table === TABLE ? this.columns : ['_DSR_PARTITION', ...this.columns];
      return [...names, ...sql.META_COLUMNS.map((c) => c.target)].map(info) as T[];
    }
    return [];
  }
  async destroy(): Promise<void> {}
  ran(fragment: string) {
    return this.statements.filter((s) => s.sql.includes(fragment));
  }
}

interface Fakes {
  loader: SnowflakeLoader;
  warehouse: FakeWarehouse;
  sent: unknown[];
  paused: unknown[];
  fatal: Error[];
  load(messages: KafkaMessage[]): Promise<void>;
}

/**
 * A loader on fakes: the registry's latest contract of the subject is `latest`; a message's value
 * is the registry wire format around the index of its row in `rows`.
 */
function fakes(
  rows: WarehouseRow[],
  { latest = 2, columns = VERSIONS[2] as string[], options = {} as Partial<LoaderOptions> } = {},
): Fakes {
  const warehouse = new FakeWarehouse(columns);
  const registry = {
    getSchema: async () => ({}),
    decode: async (bytes: Buffer) => rows[bytes.readInt32BE(5)],
    getLatestSchemaId: async () => latest,
  } as unknown as SchemaRegistry;
  const sent: unknown[] = [];
  const producer = { sendBatch: async (batch: unknown) => sent.push(batch) } as unknown as Producer;
  const loader = new SnowflakeLoader(
    {} as Kafka,
    registry,
    producer,
    warehouse,
    async (id) => contract(id),
    {
      groupId: 'g',
      dlqTopic: 'dlq.loader',
      database: 'DB',
      schema: 'S',
      deletes: 'hard',
      onDrift: 'stop',
      ...options,
    },
    createLogger({ level: 'silent', component: 'test' }),
  );
  const fatal: Error[] = [];
  loader.onFatal = (error) => fatal.push(error);
  const paused: unknown[] = [];
  const consumer = {
    pause: (topics: unknown) => paused.push(topics),
    commitOffsets: async () => undefined,
  } as unknown as Consumer;
  const load = (messages: KafkaMessage[]) =>
    (loader as unknown as { load(payload: EachBatchPayload, consumer: Consumer): Promise<void> }).load(
      {
        batch: { topic: TOPIC, partition: 0, messages, offsetLag: () => '0' },
        resolveOffset: () => undefined,
        heartbeat: async () => undefined,
      } as unknown as EachBatchPayload,
      consumer,
    );
  return { loader, warehouse, sent, paused, fatal, load };
}

/** A change of row `id` under contract version `schemaId`, at Kafka offset `offset`. */
function change(rows: WarehouseRow[], schemaId: number, id: number, offset = rows.length): KafkaMessage {
  rows.push({
    _dsr_op: 'c',
    _dsr_commit_lsn: BigInt(100 + offset),
    _dsr_seq: 0n,
    _dsr_commit_ts: null,
    _dsr_unchanged: [],
    _dsr_coercion_flags: [],
    id: String(id),
    email: `user${id}@example.test`,
    ...(schemaId >= 2 ? { nickname: `n${id}` } : {}),
  });
  const value = Buffer.alloc(9);
  value.writeInt32BE(schemaId, 1);
  value.writeInt32BE(rows.length - 1, 5);
  return { offset: String(offset), key: null, value } as unknown as KafkaMessage;
}

describe('SnowflakeLoader', () => {
  beforeEach(() => metrics.warehouseTableStopped.reset());

  it('loads a batch of an older contract version into a table a newer version already widened', async () => {
    // a fresh process (nothing checked in memory) meets a lagging partition still on version 1,
    // while the table already has version 2's NICKNAME
    const rows: WarehouseRow[] = [];
    const f = fakes(rows);
    await f.load([change(rows, 1, 1), change(rows, 1, 2)]);
    expect(f.loader.stoppedTables()).toEqual({});
    expect(f.paused).toEqual([]);
    expect(f.fatal).toEqual([]);
    expect(f.warehouse.ran('ALTER TABLE')).toEqual([]);
    expect(f.warehouse.statements.filter((s) => s.sql === 'COMMIT')).toHaveLength(1);
    expect(f.loader.appliedChanges()).toBe(2);
  });

  it('stops the table when the latest contract version lacks a column the table has', async () => {
    const rows: WarehouseRow[] = [];
    const f = fakes(rows, { latest: 1 });
    await f.load([change(rows, 1, 1)]);
    expect(Object.values(f.loader.stoppedTables())).toEqual([
      expect.stringMatching(/column NICKNAME is no longer in the source contract/),
    ]);
    expect(f.paused).toEqual([[{ topic: TOPIC }]]);
    expect(await stoppedGauge()).toBe(1);
    expect(f.warehouse.ran('BEGIN')).toEqual([]);
  });

  it('sends a batch whose stage insert exceeds the inline bind limit in chunks, in one transaction', async () => {
    const rows: WarehouseRow[] = [];
    const f = fakes(rows);
    const width = sql.STAGE_META.length + 3; // ID, EMAIL, NICKNAME
    const count = Math.floor(sql.MAX_INLINE_BINDS / width) * 2 + 5;
    await f.load(Array.from({ length: count }, (_, i) => change(rows, 2, i)));
    const inserts = f.warehouse.statements.filter((s) =>
      s.sql.startsWith(`INSERT INTO "DB"."S"."${TABLE}__DSR_STAGE"`),
    );
    expect(inserts).toHaveLength(3);
    const sizes = inserts.map((s) => (s.binds as unknown[][]).length);
    expect(sizes.reduce((a, b) => a + b)).toBe(count);
    for (const s of inserts) {
      const values = (s.binds as unknown[][]).reduce((n, row) => n + row.length, 0);
      expect(values).toBeLessThanOrEqual(sql.MAX_INLINE_BINDS);
    }
    // all of it between one BEGIN and one COMMIT
    const order = f.warehouse.statements.map((s) => s.sql);
    const begin = order.indexOf('BEGIN');
    expect(order.lastIndexOf('BEGIN')).toBe(begin);
    expect(order.filter((s) => s === 'COMMIT')).toHaveLength(1);
    expect(f.warehouse.statements.indexOf(inserts[0] as (typeof inserts)[number])).toBeGreaterThan(begin);
    expect(f.loader.appliedChanges()).toBe(count);
  });

  it('in DLQ mode parks a drifted batch once per event, and not what already failed to decode', async () => {
    const rows: WarehouseRow[] = [];
    const f = fakes(rows, { latest: 1, options: { onDrift: 'dlq' } });
    const broken = { offset: '1', key: null, value: Buffer.from('not wire') } as unknown as KafkaMessage;
    await f.load([change(rows, 1, 1, 0), broken, change(rows, 1, 2, 2)]);
    const [batch] = f.sent as { topicMessages: { topic: string; messages: unknown[] }[] }[];
    expect(f.sent).toHaveLength(1);
    expect(batch?.topicMessages.map((t) => [t.topic, t.messages.length])).toEqual([['dlq.loader', 3]]);
    expect(f.paused).toEqual([]);
    expect(f.loader.stoppedTables()).toEqual({});
    // parked, not stopped: the table goes on loading the next batch that passes the gate
    expect(await stoppedGauge()).not.toBe(1);
    expect(f.warehouse.ran('BEGIN')).toEqual([]);
  });
});
