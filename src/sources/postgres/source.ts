/**
 * The Postgres replication source: checks, slot, consistent snapshot, then the pgoutput stream,
 * each change encoded with its table's registered contract and produced to
 * `cdc.<source>.<schema>.<table>`.
 *
 * Position contract: the slot's confirmed LSN moves only to the end of a transaction whose every
 * event Kafka has acknowledged (and every transaction before it), never per message. While no
 * transaction is open or unacknowledged, the server's keepalive position is acknowledged instead,
 * so WAL of tables we do not capture does not pile up behind the slot.
 *
 * A lost connection to Postgres or Kafka ends `run()` with a retryable error; the caller restarts
 * it after a backoff and streaming resumes from the slot. Events after the last acknowledged
 * transaction may then be produced again: duplicates are identified by commitLsn + seq.
 */
import type { Kafka, Producer } from 'kafkajs';
import pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { DsrCdcError } from '../../errors.js';
import type { ContractCatalog, TableEncoder } from '../../events/contracts.js';
import { BatchingProducer } from '../../kafka/batching-producer.js';
import { createProducer } from '../../kafka/client.js';
import { SourceStateStore } from '../../kafka/source-state.js';
import { ensureTopics } from '../../kafka/topics.js';
import type { Logger } from '../../observability/logger.js';
import { breakers } from '../../resilience.js';
import { pgErrorText } from '../pg-error-text.js';
import { formatLsn, parseLsn, type Relation } from './pgoutput.js';
import { RawPgoutputPlugin } from './plugin.js';
import type { PostgresSourceSettings } from './settings.js';
import { type CapturedTable, inspectSource, readSlot } from './setup.js';
import { createSlotWithSnapshot, describeTable, openChunkReader } from './snapshot.js';
import { TransactionAssembler } from './transactions.js';

/** Session settings that make every value's text form exact and independent of server defaults. */
export const EXACT_TEXT_OPTIONS =
  '-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 -c bytea_output=hex';

/** What the source keeps in `_dsr-cdc.source-state` between runs. */
interface SourceState {
  slot: string;
  /** 'snapshot' until every table was read, then 'streaming'. */
  phase: 'snapshot' | 'streaming';
  consistentPoint: string;
  /** Per table ("schema.table"): the key (as text) of the last durable snapshot row, and rows so far. */
  tables: Record<string, { done: boolean; lastKey: string[] | null; rows: number }>;
}

export interface SourceDependencies {
  kafka: Kafka;
  contracts: ContractCatalog;
  logger: Logger;
  /** Stops the source: streaming ends after in-flight batches are flushed and acknowledged. */
  signal: AbortSignal;
}

export interface SourceStats {
  events: number;
  transactions: number;
  /** The last LSN acknowledged to the slot. */
  ackedLsn: bigint;
}

export class PostgresSource {
  readonly stats: SourceStats = { events: 0, transactions: 0, ackedLsn: 0n };
  private readonly connection: pg.ClientConfig;

  constructor(
    private readonly settings: PostgresSourceSettings,
    private readonly deps: SourceDependencies,
  ) {
    this.connection = { ...settings.connection, options: EXACT_TEXT_OPTIONS };
  }

  /**
   * WAL the slot holds back, in bytes: how far the confirmed position trails the server's current
   * position. Exposed for the metrics endpoint; undefined when the slot does not exist.
   */
  async slotLagBytes(): Promise<number | undefined> {
    const client = new pg.Client(this.connection);
    await client.connect();
    try {
      const { rows } = await client.query<{ lag: string | null }>(
        `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag
           FROM pg_replication_slots WHERE slot_name = $1`,
        [this.settings.slot],
      );
      const lag = rows[0]?.lag;
      return lag === undefined || lag === null ? undefined : Number(lag);
    } finally {
      await client.end();
    }
  }

  private get sourceId(): string {
    return `postgres/${this.settings.name}`;
  }

  /** Runs until the signal aborts (resolves) or a failure ends it (rejects). */
  async run(): Promise<void> {
    const { kafka, logger } = this.deps;
    const client = new pg.Client(this.connection);
    await connectOrExplain(client, this.settings.name);
    const producer = createProducer(kafka);
    try {
      const tables = await inspectSource(client, this.settings);
      await producer.connect();
      const state = new SourceStateStore(kafka, producer);
      await state.ensureTopic();
      await this.ensureTableTopics(client, tables);
      logger.info({ tables: tables.length }, 'source checks passed');

      const slot = await readSlot(client, this.settings);
      let saved = await state.read<SourceState>(this.sourceId);
      if (saved && saved.slot !== this.settings.slot) saved = undefined;
      if (!slot.exists) {
        saved = await this.createSlot(client, tables, producer, state);
      } else if (saved?.phase === 'snapshot') {
        logger.info('resuming an interrupted snapshot from its last durable chunk');
        await this.snapshot(client, tables, producer, state, saved, null);
      } else if (!saved && this.settings.snapshot !== 'never') {
        logger.warn(
          'slot exists but no snapshot record was found; streaming from the slot without a snapshot',
        );
      }
      if (this.settings.snapshot === 'initial_only' || this.deps.signal.aborted) return;
      await this.stream(producer, tables);
    } finally {
      await producer.disconnect().catch(() => undefined);
      await client.end().catch(() => undefined);
    }
  }

  private async ensureTableTopics(client: pg.Client, tables: CapturedTable[]): Promise<void> {
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      // one query at a time on the one connection (pg queues concurrent ones, deprecated since pg 8.x)
      const topics = [];
      for (const table of tables) {
        topics.push((await this.deps.contracts.forRelation(await describeTable(client, table), table)).topic);
      }
      await ensureTopics(admin, topics);
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates the slot; with a snapshot mode other than 'never', reads the tables under its snapshot. */
  private async createSlot(
    client: pg.Client,
    tables: CapturedTable[],
    producer: Producer,
    state: SourceStateStore,
  ): Promise<SourceState | undefined> {
    if (this.settings.snapshot === 'never') {
      await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [this.settings.slot]);
      this.deps.logger.info('created the replication slot (snapshot mode never)');
      return undefined;
    }
    const exported = await createSlotWithSnapshot(this.connection, this.settings.slot);
    const initial: SourceState = {
      slot: this.settings.slot,
      phase: 'snapshot',
      consistentPoint: formatLsn(exported.consistentPoint),
      tables: {},
    };
    try {
      await state.write(this.sourceId, initial);
      this.deps.logger.info(
        { consistentPoint: initial.consistentPoint },
        'created the replication slot; snapshot starts',
      );
      return await this.snapshot(client, tables, producer, state, initial, exported.snapshotName);
    } finally {
      await exported.release();
    }
  }

  /**
   * Reads every table in key chunks as op 'r' events. After each chunk is durable in Kafka its
   * last key is recorded, so an interrupted snapshot resumes there.
   */
  private async snapshot(
    client: pg.Client,
    tables: CapturedTable[],
    producer: Producer,
    state: SourceStateStore,
    saved: SourceState,
    snapshotName: string | null,
  ): Promise<SourceState> {
    const batching = new BatchingProducer(producer, this.settings.batching);
    const consistentPoint = parseLsn(saved.consistentPoint);
    const progress = structuredClone(saved);
    for (const table of tables) {
      const id = `${table.schema}.${table.name}`;
      const record = progress.tables[id] ?? { done: false, lastKey: null, rows: 0 };
      progress.tables[id] = record;
      if (record.done) continue;
      const relation = await describeTable(client, table);
      const encoder = await this.deps.contracts.forRelation(relation, table);
      const reader = await openChunkReader(
        this.connection,
        relation,
        table,
        this.settings.snapshotChunkRows,
        snapshotName,
      );
      try {
        for (;;) {
          if (this.deps.signal.aborted) return progress;
          const { rows, lastKey } = await reader.next(record.lastKey);
          if (rows.length === 0) break;
          for (const row of rows) {
            const encoded = encoder.encode({
              op: 'r',
              before: null,
              after: row,
              lsn: null,
              commitLsn: consistentPoint,
              txId: null,
              commitTs: null,
              seq: BigInt(record.rows),
              snapshot: true,
            });
            await this.produce(batching, encoder, encoded);
            record.rows += 1;
          }
          await batching.flush();
          record.lastKey = lastKey;
          await state.write(this.sourceId, progress);
        }
      } finally {
        await reader.close();
      }
      record.done = true;
      await state.write(this.sourceId, progress);
      this.deps.logger.info({ table: id, rows: record.rows }, 'table snapshot complete');
    }
    progress.phase = 'streaming';
    await state.write(this.sourceId, progress);
    return progress;
  }

  private async produce(
    batching: BatchingProducer,
    encoder: TableEncoder,
    encoded: { key: Buffer | null; value: Buffer },
    allPartitions = false,
  ): Promise<void> {
    const { name, partitions } = encoder.topic;
    if (!allPartitions) {
      await batching.enqueue({ topic: name, key: encoded.key, value: encoded.value });
    } else {
      for (let partition = 0; partition < partitions; partition++) {
        await batching.enqueue({ topic: name, key: null, value: encoded.value, partition });
      }
    }
    this.stats.events += 1;
  }

  /** Streams from the slot until the signal aborts or the connection fails. */
  private async stream(producer: Producer, tables: CapturedTable[]): Promise<void> {
    const { logger, signal, contracts } = this.deps;
    const batching = new BatchingProducer(producer, this.settings.batching);
    const assembler = new TransactionAssembler();
    const encoders = new Map<number, TableEncoder>();
    const service = new LogicalReplicationService(this.connection, {
      acknowledge: { auto: false, timeoutSeconds: 0 },
      flowControl: { enabled: true },
    });
    // transactions whose commit was seen, waiting for their last event to be durable
    const commits: { ticket: number; endLsn: bigint }[] = [];
    let inTransaction = false;
    let lastAckAt = 0;

    const acknowledge = (lsn: bigint) => {
      if (lsn <= this.stats.ackedLsn) return;
      this.stats.ackedLsn = lsn;
      lastAckAt = Date.now();
      service.acknowledge(formatLsn(lsn)).catch((error: Error) => fail(error));
    };
    const releaseCommits = (durableTicket: number) => {
      let lsn: bigint | undefined;
      while (commits.length > 0 && (commits[0]?.ticket ?? Infinity) <= durableTicket)
        lsn = commits.shift()?.endLsn;
      if (lsn !== undefined) acknowledge(lsn);
    };
    batching.onDurable(releaseCommits);
    const captured = new Map(tables.map((t) => [t.oid, t]));

    let failure: unknown;
    const fail = (error: unknown) => {
      failure ??= error;
      service.stop().catch(() => undefined);
    };

    service.on('data', async (lsnText: string, message: Parameters<TransactionAssembler['accept']>[1]) => {
      if (failure) return;
      try {
        const keyed =
          message.tag === 'relation'
            ? { ...message, relation: withKeys(message.relation, captured) }
            : message;
        for (const output of assembler.accept(parseLsn(lsnText), keyed)) {
          if (output.kind === 'relation') {
            if (captured.has(output.relation.oid)) {
              const table = captured.get(output.relation.oid);
              encoders.set(output.relation.oid, await contracts.forRelation(output.relation, table));
            }
          } else if (output.kind === 'change') {
            inTransaction = true;
            const encoder = encoders.get(output.relation.oid);
            // a table in the publication that the include/exclude patterns leave out
            if (!encoder) continue;
            const encoded = encoder.encode({
              op: output.op,
              before: output.before,
              after: output.after,
              lsn: output.lsn,
              commitLsn: output.tx.commitLsn,
              txId: output.tx.txId,
              commitTs: output.tx.commitTs,
              seq: output.seq,
              snapshot: false,
            });
            await this.produce(batching, encoder, encoded, output.op === 't');
          } else {
            inTransaction = false;
            this.stats.transactions += 1;
            commits.push({ ticket: batching.enqueuedTicket, endLsn: output.endLsn });
            releaseCommits(batching.durableTicket);
          }
        }
      } catch (error) {
        fail(error);
      }
    });
    service.on('heartbeat', (lsnText: string, _timestamp: number, shouldRespond: boolean) => {
      const idle =
        !inTransaction && commits.length === 0 && batching.durableTicket >= batching.enqueuedTicket;
      if (idle && Date.now() - lastAckAt >= this.settings.heartbeatIntervalMs) {
        acknowledge(parseLsn(lsnText));
      } else if (shouldRespond) {
        service.acknowledge(formatLsn(this.stats.ackedLsn)).catch((error: Error) => fail(error));
      }
    });
    service.on('error', (error: Error) => fail(error));
    // An idle stream asks the server for a keepalive (its current position) every heartbeat
    // interval instead of waiting for the server's own, which comes every wal_sender_timeout / 2.
    const heartbeat = setInterval(() => {
      const idle =
        !inTransaction && commits.length === 0 && batching.durableTicket >= batching.enqueuedTicket;
      if (idle && !failure) {
        service.acknowledge(formatLsn(this.stats.ackedLsn), true).catch((error: Error) => fail(error));
      }
    }, this.settings.heartbeatIntervalMs);

    const onAbort = () => {
      batching
        .flush()
        .catch((error: unknown) => fail(error))
        .finally(() => service.stop().catch(() => undefined));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    logger.info({ slot: this.settings.slot }, 'streaming');
    try {
      const plugin = new RawPgoutputPlugin({ publicationNames: [this.settings.publication] });
      await service.subscribe(plugin, this.settings.slot).catch((error: unknown) => fail(error));
    } finally {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', onAbort);
      await service.stop().catch(() => undefined);
    }
    if (failure) throw translate(failure, this.settings.name);
  }
}

/**
 * pgoutput flags replica-identity columns as the key, which under REPLICA IDENTITY FULL is every
 * column; events are keyed by the columns the checks chose (the primary key where there is one).
 */
function withKeys(relation: Relation, captured: Map<number, CapturedTable>): Relation {
  const table = captured.get(relation.oid);
  if (!table) return relation;
  const keys = new Set(table.keyColumns);
  return { ...relation, columns: relation.columns.map((c) => ({ ...c, isKey: keys.has(c.name) })) };
}

/** Connects through the source database's circuit breaker (`postgres:<source>`, see resilience.ts). */
async function connectOrExplain(client: pg.Client, source: string): Promise<void> {
  await breakers.call(`postgres:${source}`, async () => {
    try {
      await client.connect();
    } catch (error) {
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `source '${source}': cannot connect to Postgres (${pgErrorText((error as { code?: string }).code, (error as Error).message)})`,
        { retryable: true, cause: error },
      );
    }
  });
}

/** Failures while streaming: connection problems are retryable, anything else is not. */
function translate(error: unknown, source: string): DsrCdcError {
  if (error instanceof DsrCdcError) return error;
  const message = pgErrorText((error as { code?: string })?.code, (error as Error)?.message ?? String(error));
  const connectionLost = /terminat|ECONNRESET|ECONNREFUSED|EPIPE|Connection|timeout/i.test(message);
  return new DsrCdcError(
    connectionLost ? 'CONNECTION_FAILED' : 'INTERNAL',
    `source '${source}': replication stream failed: ${message}`,
    { retryable: connectionLost, cause: error },
  );
}
