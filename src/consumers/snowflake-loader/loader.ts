/**
 * The `snowflake-loader` consumer group: applies `warehouse.*` topics to Snowflake, exactly once.
 *
 * Each batch is one partition of one table. Its changes are folded (batch.ts), staged with a
 * multi-row bind insert and applied (sql.ts) in one Snowflake transaction together with the
 * partition's next offset in `_DSR_CDC_OFFSETS`. On assignment the loader reads those offsets and
 * skips what Snowflake already holds, so a crash or a rebalance at any moment neither loses nor
 * duplicates a change, and replaying a topic from the start changes nothing. The offset move is
 * fenced (it must find the offset read at assignment), so a process that lost its partition
 * without knowing cannot apply a batch twice. Kafka's committed offsets follow Snowflake's, for
 * lag monitoring only.
 *
 * The drift gate (drift.ts) runs once per contract version: added columns are added; a dropped
 * column (only the subject's latest version can drop one) or a changed type stops that table (its
 * partitions pause) or parks its events in the DLQ.
 *
 * A failed apply is rolled back and reported through onFatal: the stage restarts after a
 * retryable failure (network, a lost fence) and ends with the error otherwise (a permission, a
 * rejected cast), see stage.ts.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Message, Producer } from 'kafkajs';
import { DsrCdcError } from '../../errors.js';
import { decodeWire } from '../../events/registry.js';
import { deadLetterOrStop } from '../../kafka/dlq.js';
import { kafkaCall } from '../../kafka/failures.js';
import { PatternConsumer } from '../../kafka/pattern-consumer.js';
import type { Logger } from '../../observability/logger.js';
import { metrics, secondsSince } from '../../observability/metrics.js';
import {
  KEY_NULLABLE_PROPERTY,
  KEY_PROPERTY,
  SNOWFLAKE_COLUMN_PROPERTY,
  SNOWFLAKE_TYPE_PROPERTY,
  type WarehouseRow,
} from '../type-coercion/plan.js';
import { type Change, fold } from './batch.js';
import { drift, type TableColumn } from './drift.js';
import type { Warehouse } from './snowflake.js';
import * as sql from './sql.js';

export const STAGE = 'snowflake-loader';

export interface LoaderOptions {
  groupId: string;
  dlqTopic: string;
  database: string;
  schema: string;
  deletes: 'hard' | 'soft';
  onDrift: 'stop' | 'dlq';
  /** Which topics to read; every `warehouse.*` topic unless narrowed (tests). */
  topics?: RegExp;
  fetch?: { maxWaitTimeInMs: number; minBytes: number; maxBytesPerPartition: number };
  topicRefreshMs?: number;
}

/** What the loader knows of a target table. */
interface Table {
  contract: sql.TableContract;
  /** Contract versions (schema ids) that passed the drift gate. */
  checked: Set<number>;
  /** Why the table is stopped, when it is. */
  stopped?: string;
}

/** A contract version, read once: its columns and the field of each. */
interface Version {
  columns: sql.LoadColumn[];
  fields: Map<string, string>;
  key: string[];
  keyNullable: boolean;
}

export class SnowflakeLoader {
  readonly name = 'consumer';
  private readonly consumer: PatternConsumer;
  private readonly tables = new Map<string, Table>();
  private readonly versions = new Map<number, Promise<Version>>();
  /** Next offset per `topic/partition` as Snowflake holds it; cleared on every rebalance. */
  private readonly applied = new Map<string, bigint | null>();
  onFatal: (error: Error) => void = () => undefined;
  /** The tail of the batches in flight: one Snowflake session runs one batch at a time. */
  private running: Promise<unknown> = Promise.resolve();
  /** Changes this loader applied in committed transactions (skipped ones not counted). */
  private applies = 0;

  constructor(
    kafka: Kafka,
    private readonly registry: SchemaRegistry,
    private readonly producer: Producer,
    private readonly warehouse: Warehouse,
    private readonly contractOf: (schemaId: number) => Promise<Record<string, unknown>>,
    private readonly options: LoaderOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = new PatternConsumer(
      kafka,
      {
        groupId: options.groupId,
        pattern: options.topics ?? /^warehouse\./,
        ...(options.fetch ? { consumer: options.fetch } : {}),
        ...(options.topicRefreshMs === undefined ? {} : { refreshMs: options.topicRefreshMs }),
        eachBatch: (payload, consumer) => this.serially(() => this.load(payload, consumer)),
        onAssignment: () => this.applied.clear(),
        onFatal: (error) => this.onFatal(error),
      },
      logger,
    );
  }

  /**
   * Runs batches one after another. kafkajs runs one at a time per consumer, but a re-subscription
   * (a new topic appeared) starts a new consumer while the old one may still finish its batch.
   */
  private serially<T>(task: () => Promise<T>): Promise<T> {
    const result = this.running.then(task, task);
    this.running = result.catch(() => undefined);
    return result;
  }

  private get schema(): string {
    return `${sql.q(this.options.database)}.${sql.q(this.options.schema)}`;
  }

  async start(): Promise<void> {
    await this.warehouse.execute(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
    await this.warehouse.execute(sql.createOffsets(this.schema));
    await this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** How many changes this loader applied in committed transactions. */
  appliedChanges(): number {
    return this.applies;
  }

  /** Tables stopped by the drift gate, with the reason. */
  stoppedTables(): Record<string, string> {
    return Object.fromEntries(
      [...this.tables].filter(([, t]) => t.stopped).map(([topic, t]) => [topic, t.stopped as string]),
    );
  }

  private async load(
    { batch, resolveOffset, heartbeat }: EachBatchPayload,
    consumer: Consumer,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const { topic, partition } = batch;
    const last = batch.messages.at(-1);
    if (!last) return;
    const table = this.tables.get(topic);
    if (table?.stopped) {
      consumer.pause([{ topic }]);
      return;
    }
    const applied = await this.appliedOffset(topic, partition);
    const fresh = batch.messages.filter((m) => applied === null || BigInt(m.offset) >= applied);
    const next = BigInt(last.offset) + 1n;
    metrics.eventsIn.inc({ stage: STAGE, topic }, batch.messages.length);

    const changes: (Change & { schemaId: number; message: KafkaMessage })[] = [];
    const dead: Message[] = [];
    for (const message of fresh) {
      try {
        if (!message.value) throw new DsrCdcError('EVENT_INVALID', 'a warehouse event without a value');
        const { value, schemaId } = await decodeWire(this.registry, message.value);
        const version = await this.version(schemaId);
        changes.push({ row: value as WarehouseRow, fields: version.fields, schemaId, message });
      } catch (error) {
        this.poison(error, batch.topic, batch.partition, message, dead);
      }
    }

    // a batch of only skipped or poison events needs no table (and may come before any contract)
    const target =
      changes.length === 0
        ? undefined
        : await this.ensureTable(topic, [...new Set(changes.map((c) => c.schemaId))]);
    if (target?.stopped) {
      if (this.options.onDrift === 'stop') {
        metrics.warehouseTableStopped.set({ table: tableName(topic) }, 1);
        consumer.pause([{ topic }]);
        return;
      }
      // DLQ mode: this batch's events are parked (those that failed to decode already are) and
      // the table is not stopped: the next batch meets the gate again
      for (const { message } of changes) {
        this.poison(new DsrCdcError('EVENT_INVALID', target.stopped), topic, partition, message, dead);
      }
      changes.length = 0;
      delete target.stopped;
    }
    if (dead.length > 0)
      await kafkaCall('acknowledge dead letters', () =>
        this.producer.sendBatch({
          acks: -1,
          topicMessages: [{ topic: this.options.dlqTopic, messages: dead }],
        }),
      );

    if (target && changes.length > 0)
      await this.apply(target.contract, partition, changes, topic, applied, next, heartbeat);
    // changes Snowflake already holds (a replay, or a batch re-read after a crash) were skipped above
    resolveOffset(last.offset);
    await consumer.commitOffsets([{ topic, partition, offset: next.toString() }]);
    metrics.batchSeconds.observe({ stage: STAGE }, secondsSince(started));
    metrics.consumerLag.set(
      { group: this.options.groupId, topic, partition: String(partition) },
      Number(batch.offsetLag()),
    );
    await heartbeat();
  }

  /** One transaction: the batch's changes and the partition's next offset. */
  private async apply(
    contract: sql.TableContract,
    partition: number,
    changes: Change[],
    topic: string,
    applied: bigint | null,
    next: bigint,
    heartbeat: () => Promise<void>,
  ): Promise<void> {
    const { deletes } = this.options;
    // a long batch must not outlast the group's session timeout: heartbeat between statements
    // (kafkajs sends one only when its interval has passed)
    const w: Warehouse = {
      execute: async <T>(text: string, binds?: Parameters<Warehouse['execute']>[1]) => {
        const rows = await this.warehouse.execute<T>(text, binds);
        await heartbeat();
        return rows;
      },
      destroy: () => this.warehouse.destroy(),
    };
    await w.execute('BEGIN');
    try {
      for (const segment of fold(changes, contract.columns, contract.key)) {
        if (segment.kind === 'truncate') {
          const lsn = segment.lsn.toString();
          await w.execute(sql.truncateRows(contract, deletes), [lsn, lsn, segment.seq.toString()]);
          continue;
        }
        await w.execute(sql.clearStage(contract), [partition]);
        // in chunks below the driver's bind-upload threshold: an upload would commit (sql.ts)
        const staged = segment.rows.map((r) => [partition, r.unchanged, ...r.values]);
        for (const chunk of sql.bindChunks(staged)) await w.execute(sql.insertStage(contract), chunk);
        for (const unchanged of new Set(segment.rows.map((r) => r.unchanged))) {
          await w.execute(sql.updateRows(contract, unchanged ? unchanged.split(',') : []), [
            partition,
            unchanged,
          ]);
        }
        await w.execute(sql.insertRows(contract), [partition]);
        await w.execute(sql.deleteRows(contract, deletes), [partition]);
      }
      await w.execute(sql.clearStage(contract), [partition]);
      if (applied === null) {
        await w.execute(sql.insertOffset(this.schema), [topic, partition, next.toString()]);
      } else {
        const [moved] = await w.execute<Record<string, unknown>>(sql.moveOffset(this.schema), [
          next.toString(),
          topic,
          partition,
          applied.toString(),
        ]);
        if (Number(moved?.['number of rows updated'] ?? 0) !== 1) {
          throw new DsrCdcError(
            'CONNECTION_FAILED',
            `another process moved ${topic}/${partition} in Snowflake; this one re-reads its position`,
            { retryable: true },
          );
        }
      }
      await w.execute('COMMIT');
      this.applied.set(`${topic}/${partition}`, next);
      this.applies += changes.length;
      metrics.eventsOut.inc({ topic: contract.table }, changes.length);
    } catch (error) {
      this.applied.delete(`${topic}/${partition}`);
      await w.execute('ROLLBACK').catch(() => undefined);
      this.logger.error({ topic, partition, reason: (error as Error).message }, 'load failed; rolled back');
      this.onFatal(error as Error);
      throw error;
    }
  }

  private async appliedOffset(topic: string, partition: number): Promise<bigint | null> {
    const id = `${topic}/${partition}`;
    if (!this.applied.has(id)) {
      const rows = await this.warehouse.execute<{ NEXT_OFFSET: string }>(sql.readOffset(this.schema), [
        topic,
        partition,
      ]);
      const values = rows.map((r) => BigInt(r.NEXT_OFFSET));
      // one row per partition; two only if two first loads raced, and then the later one holds
      values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      this.applied.set(id, values.at(-1) ?? null);
    }
    return this.applied.get(id) ?? null;
  }

  private version(schemaId: number): Promise<Version> {
    let version = this.versions.get(schemaId);
    if (!version) {
      version = this.contractOf(schemaId).then(readVersion);
      version.catch(() => this.versions.delete(schemaId));
      this.versions.set(schemaId, version);
    }
    return version;
  }

  /**
   * The target table, created from the contract when missing and checked against each new
   * contract version (DDL runs here, outside the load transaction: it would commit it).
   */
  private async ensureTable(topic: string, schemaIds: number[]): Promise<Table> {
    const name = tableName(topic);
    let table = this.tables.get(topic);
    for (const schemaId of schemaIds) {
      if (table?.checked.has(schemaId)) continue;
      const version = await this.version(schemaId);
      const contract: sql.TableContract = {
        table: `${this.schema}.${sql.q(name)}`,
        stage: `${this.schema}.${sql.q(`${name}__DSR_STAGE`)}`,
        columns: version.columns,
        key: version.key,
        keyNullable: version.keyNullable,
      };
      await this.warehouse.execute(sql.createTable(contract));
      await this.warehouse.execute(sql.createStage(contract));
      const columnsOf = (t: string) =>
        this.warehouse.execute<TableColumn>(sql.tableColumns(this.options.database), [
          this.options.schema,
          t,
        ]);
      const { add, widen, problems } = drift(
        version.columns,
        (await columnsOf(name)).map(numeric),
        await this.isLatest(topic, schemaId),
      );
      if (problems.length > 0) {
        const reason = `Snowflake table ${name} is stopped: ${problems.join('; ')}`;
        this.logger.error({ topic, table: name, schemaId }, reason);
        table = { contract, checked: new Set(), stopped: reason };
        this.tables.set(topic, table);
        return table;
      }
      for (const column of add) {
        await this.warehouse.execute(sql.addColumn(contract.table, column));
        this.logger.info({ table: name, column: column.target }, 'column added to the Snowflake table');
      }
      for (const column of widen) {
        await this.warehouse.execute(sql.widenColumn(contract.table, column));
        this.logger.info({ table: name, column: column.target, type: column.type }, 'column widened');
      }
      const staged = new Set((await columnsOf(`${name}__DSR_STAGE`)).map((c) => c.COLUMN_NAME));
      for (const column of version.columns.filter((c) => !staged.has(c.target))) {
        await this.warehouse.execute(
          sql.addColumn(contract.stage, { target: column.target, type: 'VARCHAR' }),
        );
      }
      metrics.warehouseTableStopped.set({ table: name }, 0);
      const checked = table?.checked ?? new Set<number>();
      checked.add(schemaId);
      // the newest contract decides the columns: older versions' rows leave added columns NULL
      const newest = !table || schemaId >= Math.max(...checked);
      table = { contract: newest || !table ? contract : table.contract, checked };
      this.tables.set(topic, table);
    }
    if (!table) throw new DsrCdcError('INTERNAL', `no contract seen for ${topic}`);
    return table;
  }

  /**
   * Whether a contract version is its subject's latest (or newer than the registry's answer):
   * only the latest can tell that a column was dropped. Asked once per version and process.
   */
  private async isLatest(topic: string, schemaId: number): Promise<boolean> {
    const subject = `${topic}-value`;
    const latest = await this.registry.getLatestSchemaId(subject).catch((error: unknown) => {
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `cannot read the latest contract of ${subject} from the schema registry: ${(error as Error).message}`,
        { retryable: true, cause: error },
      );
    });
    return schemaId >= latest;
  }

  private poison(
    error: unknown,
    topic: string,
    partition: number,
    message: KafkaMessage,
    dead: Message[],
  ): void {
    const poison = { topic, partition, offset: message.offset, key: message.key, value: message.value };
    dead.push(deadLetterOrStop(STAGE, poison, error, this.onFatal, this.logger));
  }
}

/** `warehouse.<source>.<schema>.<table>` → SOURCE__SCHEMA__TABLE. */
export function tableName(topic: string): string {
  return topic.split('.').slice(1).join('__').toUpperCase();
}

/** The driver returns NUMBER columns as strings (fetchAsString). */
function numeric(c: TableColumn): TableColumn {
  return {
    ...c,
    NUMERIC_PRECISION: c.NUMERIC_PRECISION === null ? null : Number(c.NUMERIC_PRECISION),
    NUMERIC_SCALE: c.NUMERIC_SCALE === null ? null : Number(c.NUMERIC_SCALE),
  };
}

function readVersion(contract: Record<string, unknown>): Version {
  const fields = (contract.fields as Record<string, unknown>[] | undefined) ?? [];
  const columns: sql.LoadColumn[] = [];
  const byTarget = new Map<string, string>();
  for (const field of fields) {
    const target = field[SNOWFLAKE_COLUMN_PROPERTY];
    const type = field[SNOWFLAKE_TYPE_PROPERTY];
    if (typeof target !== 'string' || typeof type !== 'string') continue;
    columns.push({ target, type });
    byTarget.set(target, field.name as string);
  }
  const key = contract[KEY_PROPERTY];
  if (!Array.isArray(key) || columns.length === 0) {
    throw new DsrCdcError('EVENT_INVALID', 'not a dsr-cdc warehouse contract (no columns or key)');
  }
  return {
    columns,
    fields: byTarget,
    key: key as string[],
    keyNullable: contract[KEY_NULLABLE_PROPERTY] === true,
  };
}
