/**
 * A scratch capture setup on the local stack, owned by one benchmark scenario: a table and its
 * publication (created as the admin user, as the tables' owner would), unique source and slot
 * names, a config file for the CLI, and a cleanup that removes slot, publication, table, topic,
 * registry subjects and the source's state record.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Admin, type Kafka, Kafka as KafkaClient, logLevel } from 'kafkajs';
import pg from 'pg';
import { stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import { loadTopicFamilies, topicSpec } from '../../src/kafka/topics.js';

/** `<prefix>_<8 hex>`: valid as a Postgres, Kafka and source name. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Column list of the bench table: realistic widths (text ~41 chars, int, numeric, timestamptz). */
export const TABLE_COLUMNS =
  'id bigint PRIMARY KEY, customer_ref text NOT NULL, quantity int NOT NULL, amount numeric(12,2) NOT NULL, created_at timestamptz NOT NULL';

/** Values of one row computed by Postgres from its id `g` (a bigint expression). */
export function rowValues(g: string): string {
  return `${g}, 'customer-' || md5(${g}::text), (${g} % 1000)::int, ((${g} % 10000000) / 100.0)::numeric(12,2), now()`;
}

/** The admin (superuser) connection: creates the scratch objects and writes the rows. */
export function adminConfig(): pg.ClientConfig {
  const c = loadConnections().postgres;
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: c.adminUser,
    password: c.adminPassword,
    connectionTimeoutMillis: 5_000,
  };
}

const PASSWORD_VARIABLE = 'DSR_CDC_BENCH_PG_PASSWORD';

export class Scratch {
  readonly source = uniqueName('bench');
  readonly table = uniqueName('bench_rows');
  readonly slot = uniqueName('bench_slot');
  readonly publication = uniqueName('bench_pub');
  readonly topic: string;
  readonly connections = loadConnections();
  readonly kafka: Kafka;
  private readonly dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-bench-'));
  private readonly groups: string[] = [];
  admin!: pg.Client;
  kafkaAdmin!: Admin;

  constructor() {
    this.topic = topicSpec(loadTopicFamilies(), 'cdc', {
      source: this.source,
      schema: 'public',
      table: this.table,
    }).name;
    this.kafka = new KafkaClient({
      clientId: uniqueName('bench'),
      brokers: this.connections.kafka.brokers,
      logLevel: logLevel.NOTHING,
    });
  }

  adminConfig(): pg.ClientConfig {
    return adminConfig();
  }

  async open(): Promise<void> {
    this.admin = new pg.Client(this.adminConfig());
    try {
      await this.admin.connect();
    } catch (error) {
      throw new Error(
        `cannot reach Postgres as ${this.connections.postgres.adminUser} (${(error as Error).message}); ` +
          'is the stack up? run `npm run stack -- up`',
      );
    }
    this.kafkaAdmin = this.kafka.admin();
    await this.kafkaAdmin.connect();
    await this.admin.query(`CREATE TABLE public.${this.table} (${TABLE_COLUMNS})`);
    await this.admin.query(`CREATE PUBLICATION ${this.publication} FOR TABLE public.${this.table}`);
  }

  /** Writes the pipeline config (the shape of dsr-cdc.example.yaml); returns its path. */
  writeConfig(options: {
    logLevel: string;
    lingerMs?: number | undefined;
    batchMessages?: number | undefined;
    maxBuffered?: number | undefined;
  }): string {
    const pgc = this.connections.postgres;
    const config = {
      pipeline: { name: this.source.replaceAll('_', '-') },
      kafka: { brokers: this.connections.kafka.brokers, clientId: this.source.replaceAll('_', '-') },
      registry: { url: this.connections.registry.url },
      sources: {
        [this.source]: {
          kind: 'postgres',
          connection: {
            host: pgc.host,
            port: pgc.port,
            database: pgc.database,
            user: pgc.user,
            password: `\${env:${PASSWORD_VARIABLE}}`,
          },
          publication: this.publication,
          slot: this.slot,
          tables: { include: [`public.${this.table}`], exclude: [] },
          ...batchSection(options),
        },
      },
      log: { level: options.logLevel },
    };
    const path = join(this.dir, 'dsr-cdc-bench.yaml');
    writeFileSync(path, stringify(config));
    return path;
  }

  /** The environment of the source process: ours plus the password its config references. */
  childEnv(): NodeJS.ProcessEnv {
    return { ...process.env, [PASSWORD_VARIABLE]: this.connections.postgres.password };
  }

  get directory(): string {
    return this.dir;
  }

  /** A consumer group name that cleanup deletes. */
  group(): string {
    const name = uniqueName('bench-reader');
    this.groups.push(name);
    return name;
  }

  /** Waits until the source holds its slot and its topic exists; fails early when `alive()` is false. */
  async waitStreaming(alive: () => boolean, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!alive()) throw new Error('the source process ended before it started streaming');
      const { rows } = await this.admin.query(
        'SELECT 1 FROM pg_replication_slots WHERE slot_name = $1 AND active',
        [this.slot],
      );
      if (rows.length > 0 && (await this.kafkaAdmin.listTopics()).includes(this.topic)) return;
      if (Date.now() > deadline) throw new Error(`the source did not start streaming within ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Sum of the topic's high watermarks: events acknowledged and readable. */
  async visibleEvents(): Promise<number> {
    const offsets = await this.kafkaAdmin.fetchTopicOffsets(this.topic);
    return offsets.reduce((sum, o) => sum + Number(o.high), 0);
  }

  /**
   * Polls the high watermarks every `intervalMs` until they sum to `target`; resolves with the
   * performance.now() of the poll that saw it, and every poll as (time, events). Started before
   * the writes, it runs alongside them. Fails when nothing moves for `stallMs`, when `alive()`
   * turns false, or when `signal` aborts.
   */
  async waitVisible(
    target: number,
    alive: () => boolean,
    {
      intervalMs = 25,
      stallMs = 60_000,
      signal,
    }: { intervalMs?: number; stallMs?: number; signal?: AbortSignal } = {},
  ): Promise<{ at: number; polls: { at: number; events: number }[] }> {
    const polls: { at: number; events: number }[] = [];
    let last = -1;
    let lastChange = performance.now();
    for (;;) {
      signal?.throwIfAborted();
      const events = await this.visibleEvents();
      const now = performance.now();
      polls.push({ at: now, events });
      if (events >= target) return { at: now, polls };
      if (events !== last) {
        last = events;
        lastChange = now;
      } else if (now - lastChange > stallMs) {
        throw new Error(`only ${events} of ${target} events became visible (no progress for ${stallMs} ms)`);
      }
      if (!alive()) throw new Error(`the source process ended after ${events} of ${target} events`);
      await sleep(intervalMs);
    }
  }

  /** Removes everything this scenario created. Best effort: each step runs even if another failed. */
  async close(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    if (this.admin) {
      await attempt('drop slot', async () => {
        // a walsender can outlive its client briefly (e.g. after SIGKILL)
        for (let i = 0; i < 50; i++) {
          const { rows } = await this.admin.query<{ active_pid: number | null }>(
            'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
            [this.slot],
          );
          const slot = rows[0];
          if (!slot) return;
          if (slot.active_pid === null) {
            await this.admin.query('SELECT pg_drop_replication_slot($1)', [this.slot]);
            return;
          }
          if (i === 20) await this.admin.query('SELECT pg_terminate_backend($1)', [slot.active_pid]);
          await sleep(100);
        }
        throw new Error(`slot ${this.slot} stayed active`);
      });
      await attempt('drop publication', () =>
        this.admin.query(`DROP PUBLICATION IF EXISTS ${this.publication}`),
      );
      await attempt('drop table', () => this.admin.query(`DROP TABLE IF EXISTS public.${this.table}`));
      await this.admin.end().catch(() => undefined);
    }
    if (this.kafkaAdmin) {
      await attempt('delete topic', async () => {
        if ((await this.kafkaAdmin.listTopics()).includes(this.topic)) {
          await this.kafkaAdmin.deleteTopics({ topics: [this.topic] });
        }
      });
      if (this.groups.length > 0) {
        // a group is deletable once its last member has left, which the broker may see late
        await attempt('delete consumer groups', async () => {
          for (let i = 0; ; i++) {
            try {
              return await this.kafkaAdmin.deleteGroups(this.groups);
            } catch (error) {
              // a group that never committed offsets is gone once its members left
              const groups = (error as { groups?: { error?: { type?: string } }[] }).groups;
              if (groups?.every((g) => g.error?.type === 'GROUP_ID_NOT_FOUND')) return;
              if (i >= 10) throw error;
              await sleep(500);
            }
          }
        });
      }
      await attempt('clear source state', async () => {
        const topic = topicSpec(loadTopicFamilies(), 'source-state').name;
        if (!(await this.kafkaAdmin.listTopics()).includes(topic)) return;
        const producer = this.kafka.producer();
        await producer.connect();
        try {
          // a tombstone: compaction removes this source's position record
          await producer.send({ topic, messages: [{ key: `postgres/${this.source}`, value: null }] });
        } finally {
          await producer.disconnect();
        }
      });
      await this.kafkaAdmin.disconnect().catch(() => undefined);
    }
    await attempt('delete registry subjects', async () => {
      const url = this.connections.registry.url;
      for (const subject of [`${this.topic}-key`, `${this.topic}-value`]) {
        await fetch(`${url}/subjects/${subject}`, { method: 'DELETE' });
        await fetch(`${url}/subjects/${subject}?permanent=true`, { method: 'DELETE' });
      }
    });
    rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/** The config's `batch` section with only the given settings (the rest keep their defaults). */
function batchSection(options: {
  lingerMs?: number | undefined;
  batchMessages?: number | undefined;
  maxBuffered?: number | undefined;
}): { batch?: object } {
  const batch = {
    ...(options.lingerMs === undefined ? {} : { lingerMs: options.lingerMs }),
    ...(options.batchMessages === undefined ? {} : { maxMessages: options.batchMessages }),
    ...(options.maxBuffered === undefined ? {} : { maxBufferedMessages: options.maxBuffered }),
  };
  return Object.keys(batch).length > 0 ? { batch } : {};
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
