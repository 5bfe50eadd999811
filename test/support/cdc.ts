/**
 * Test harness for the replication source: a scratch table set with its publication, a source
 * wired to the real stack, a consumer that decodes every event through the registry, and a
 * cleanup that removes slot, publication, tables, topics and subjects.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { type Admin, type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadConnections } from '../../src/config/connections.js';
import { ContractCatalog } from '../../src/events/contracts.js';
import type { ChangeEnvelope } from '../../src/events/envelope.js';
import { loadTypes } from '../../src/events/pg-catalog.js';
import { avroTypeOptions } from '../../src/events/pg-types.js';
import { decodeWire } from '../../src/events/registry.js';
import { DEFAULT_BATCHING } from '../../src/kafka/batching-producer.js';
import { loadTopicFamilies, topicSpec } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/observability/logger.js';
import type { PostgresSourceSettings } from '../../src/sources/postgres/settings.js';
import { EXACT_TEXT_OPTIONS, PostgresSource } from '../../src/sources/postgres/source.js';
import { waitForLeaders } from './kafka.js';
import { uniqueName } from './names.js';
import { clientConfig, connect } from './postgres.js';

export interface DecodedEvent {
  topic: string;
  partition: number;
  offset: string;
  key: Record<string, unknown> | null;
  value: ChangeEnvelope;
  /** The registry id of the schema the value was written with (Confluent wire format bytes 1–4). */
  valueSchemaId: number;
}

export function kafkaClient(): Kafka {
  return new KafkaClient({
    clientId: uniqueName('test'),
    brokers: loadConnections().kafka.brokers,
    logLevel: logLevel.NOTHING,
  });
}

export function registryClient(): SchemaRegistry {
  return new SchemaRegistry(
    { host: loadConnections().registry.url },
    { [SchemaType.AVRO]: avroTypeOptions() },
  );
}

/** A scratch CDC setup: unique source, slot and publication names, and the admin connection. */
export class CdcFixture {
  readonly source = uniqueName('src');
  readonly slot = uniqueName('slot');
  readonly publication = uniqueName('pub');
  readonly tables: string[] = [];
  /** Topics not of a fixture table (e.g. a REST poller's) that close() deletes with their subjects. */
  readonly extraTopics: string[] = [];
  admin!: pg.Client;
  readonly kafka = kafkaClient();
  readonly registry = registryClient();

  async open(): Promise<void> {
    this.admin = await connect('admin');
  }

  /** Creates `public.<prefix>_<random>` with the given column definitions; returns its name. */
  async table(prefix: string, columns: string): Promise<string> {
    const name = uniqueName(prefix);
    await this.admin.query(`CREATE TABLE public.${name} (${columns})`);
    this.tables.push(name);
    return name;
  }

  /** The publication is created by the tables' owner, as in production (see README). */
  async publish(): Promise<void> {
    await this.admin.query(
      `CREATE PUBLICATION ${this.publication} FOR TABLE ${this.tables.map((t) => `public.${t}`).join(', ')}`,
    );
  }

  topic(table: string): string {
    return topicSpec(loadTopicFamilies(), 'cdc', { source: this.source, schema: 'public', table }).name;
  }

  settings(overrides: Partial<PostgresSourceSettings> = {}): PostgresSourceSettings {
    return {
      name: this.source,
      connection: clientConfig('pipeline'),
      publication: this.publication,
      slot: this.slot,
      include: this.tables.map((t) => `public.${t}`),
      exclude: [],
      snapshot: 'initial',
      snapshotChunkRows: 1_000,
      heartbeatIntervalMs: 500,
      batching: { ...DEFAULT_BATCHING, lingerMs: 2 },
      ...overrides,
    };
  }

  /** Starts a source in this process; `stop()` aborts it and waits for it to end. */
  start(overrides: Partial<PostgresSourceSettings> = {}): RunningSource {
    const settings = this.settings(overrides);
    const controller = new AbortController();
    const pool = new pg.Pool({ ...settings.connection, options: EXACT_TEXT_OPTIONS, max: 2 });
    const contracts = new ContractCatalog({
      registry: this.registry,
      types: (oids) => loadTypes(pool, oids),
      families: loadTopicFamilies(),
      source: { connector: 'postgres', name: this.source, db: loadConnections().postgres.database },
    });
    const source = new PostgresSource(settings, {
      kafka: this.kafka,
      contracts,
      logger: createLogger({
        level: process.env.DSR_CDC_TEST_LOG === 'debug' ? 'debug' : 'warn',
        component: 'test-source',
      }),
      signal: controller.signal,
    });
    const done = source.run().finally(() => pool.end());
    done.catch(() => undefined);
    return {
      source,
      done,
      stop: async () => {
        controller.abort();
        await done;
      },
    };
  }

  /**
   * Polls until the source streams from its slot: a walsender holds it and runs START_REPLICATION
   * (state catchup or streaming). The slot is also active while it is being created, before the
   * snapshot and before its consistent point: that must not count, or a change made "after start"
   * may land in the snapshot, or (snapshot 'never') be lost.
   */
  async waitStreaming(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const { rows } = await this.admin.query(
        `SELECT 1 FROM pg_replication_slots s JOIN pg_stat_replication r ON r.pid = s.active_pid
          WHERE s.slot_name = $1 AND r.state IN ('catchup', 'streaming')`,
        [this.slot],
      );
      if (rows.length > 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`slot ${this.slot} did not become active within ${timeoutMs} ms`);
  }

  /**
   * Polls until the slot has confirmed the server's current WAL position (taken now): the source
   * acknowledges only what Kafka holds, so every change committed so far is then in Kafka.
   */
  async waitSlotCaughtUp(timeoutMs = 60_000): Promise<void> {
    const { rows } = await this.admin.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const slot = await this.admin.query<{ ok: boolean }>(
        'SELECT active AND confirmed_flush_lsn >= $2::pg_lsn AS ok FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot, rows[0]?.lsn],
      );
      if (slot.rows[0]?.ok === true) return;
      if (Date.now() > deadline) throw new Error(`slot ${this.slot} did not catch up within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Every event of `topic`: as many as its high watermarks say there are. */
  async readAllEvents(topic: string, timeoutMs = 120_000): Promise<DecodedEvent[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    const total = offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
    return this.readUntil([topic], (events) => events.length >= total, timeoutMs);
  }

  /**
   * The source creates its topics at start; readers wait for them instead of failing. A topic is
   * ready when it is listed and every partition has a leader: a topic seen just after creation may
   * still answer "this server does not host this topic-partition".
   */
  async waitForTopics(topics: string[], timeoutMs: number): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      // a topic not created yet is not listed: fetchTopicMetadata must not be asked to create it
      const deadline = Date.now() + timeoutMs;
      while (!(await listed(admin, topics))) {
        if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} were not created`);
        await new Promise((r) => setTimeout(r, 100));
      }
      if (!(await waitForLeaders(admin, topics, Math.max(0, deadline - Date.now())))) {
        throw new Error(`topics ${topics.join(', ')} got no partition leaders`);
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** Reads every event of `topics` from the beginning until `enough` holds (or fails after timeout). */
  async readUntil(
    topics: string[],
    enough: (events: DecodedEvent[]) => boolean,
    timeoutMs = 45_000,
  ): Promise<DecodedEvent[]> {
    await this.waitForTopics(topics, timeoutMs);
    const consumer = this.kafka.consumer({ groupId: uniqueName('test-reader') });
    const events: DecodedEvent[] = [];
    await consumer.connect();
    try {
      for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
      let settle: (error?: unknown) => void = () => undefined;
      const done = new Promise<void>((resolve, reject) => {
        settle = (error) => (error === undefined ? resolve() : reject(error));
      });
      await consumer.run({
        eachMessage: async ({ topic, partition, message }) => {
          try {
            events.push({
              topic,
              partition,
              offset: message.offset,
              key: message.key
                ? ((await decodeWire(this.registry, message.key)).value as Record<string, unknown>)
                : null,
              // decodeWire: the registry may answer 404 for a moment after a schema was registered
              value: (await decodeWire(this.registry, message.value as Buffer)).value as ChangeEnvelope,
              valueSchemaId: (message.value as Buffer).readInt32BE(1),
            });
            if (enough(events)) settle();
          } catch (error) {
            settle(error);
          }
        },
      });
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`only ${events.length} events arrived within ${timeoutMs} ms`)),
          timeoutMs,
        ),
      );
      await Promise.race([done, timeout]);
      return events;
    } finally {
      await consumer.disconnect();
    }
  }

  async close(): Promise<void> {
    const topics = [...this.tables.map((t) => this.topic(t)), ...this.extraTopics];
    // a slot left behind holds WAL forever: wait until its walsender is gone, then drop it
    const deadline = Date.now() + 15_000;
    for (;;) {
      const { rows } = await this.admin.query<{ active: boolean }>(
        'SELECT active FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot],
      );
      if (rows.length === 0) break;
      if (!rows[0]?.active) {
        await this.admin.query('SELECT pg_drop_replication_slot($1)', [this.slot]);
        break;
      }
      if (Date.now() > deadline) throw new Error(`slot ${this.slot} is still in use; stop the source first`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.admin.query(`DROP PUBLICATION IF EXISTS ${this.publication}`).catch(() => undefined);
    for (const table of this.tables) await this.admin.query(`DROP TABLE IF EXISTS public.${table} CASCADE`);
    await this.admin.end();
    const admin = this.kafka.admin();
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) }).catch(() => undefined);
    await admin.disconnect();
    const url = loadConnections().registry.url;
    for (const topic of topics) {
      for (const subject of [`${topic}-key`, `${topic}-value`]) {
        await fetch(`${url}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
        await fetch(`${url}/subjects/${subject}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
      }
    }
  }
}

export interface RunningSource {
  source: PostgresSource;
  done: Promise<void>;
  stop(): Promise<void>;
}

/** The latest event per key (by commitLsn, then seq), deletes removing the key: a table's state. */
export function finalState(events: DecodedEvent[], keyOf: (key: Record<string, unknown>) => string) {
  const ordered = [...events].sort((a, b) => {
    const [x, y] = [a.value.source, b.value.source];
    const byLsn = (x.commitLsn ?? 0n) - (y.commitLsn ?? 0n);
    return byLsn !== 0n ? (byLsn < 0n ? -1 : 1) : x.seq < y.seq ? -1 : x.seq > y.seq ? 1 : 0;
  });
  const state = new Map<string, Record<string, unknown>>();
  for (const event of ordered) {
    if (event.value.op === 't') state.clear();
    else if (event.key && event.value.op === 'd') state.delete(keyOf(event.key));
    else if (event.key && event.value.after) state.set(keyOf(event.key), event.value.after);
  }
  return state;
}

async function listed(admin: Admin, topics: string[]): Promise<boolean> {
  const existing = new Set(await admin.listTopics());
  return topics.every((t) => existing.has(t));
}
