/**
 * Benchmark of the warehouse half of the pipeline, each consumer in this process:
 *
 *   1  type coercion: --rows change events (bigint key, text, int, numeric(12,2), timestamptz,
 *      jsonb, bool), produced into a cdc topic by the real Postgres source (a child process, stopped
 *      before the measurement), then a TypeCoercion from its start until its committed offsets reach
 *      the end of the topic. Rows/s and this process's RSS.
 *   2  the Snowflake loader: the last --loader-rows events of the warehouse topic from step 1 (its
 *      group's Kafka offsets are set there before it starts) into the emulator, in batches of up to
 *      --max-bytes per partition. Rows/s, the time spent waiting for Snowflake statements (the
 *      emulator's own cost) and per-transaction latency.
 *
 * Prints numbers; asserts nothing. See bench/README.md.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Admin } from 'kafkajs';
import type { Warehouse } from '../src/consumers/snowflake-loader/snowflake.js';
import { loadTopicFamilies, topicSpec } from '../src/kafka/topics.js';
import type { CdcFixture } from '../test/support/cdc.js';
import { WarehouseFixture } from '../test/support/warehouse.js';
import { RssSampler, readRss, spawnSource } from './lib/proc.js';
import { rowValues, Scratch, sleep } from './lib/scratch.js';
import { fixed, int, mb, percentile, table } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

export const WAREHOUSE_USAGE = `usage: npm run bench -- warehouse [options]

  --rows N          change events coerced (default 200000)
  --loader-rows N   events of the warehouse topic loaded into the emulator (default 20000, at most --rows)
  --max-bytes N     the loader's fetch maxBytesPerPartition, i.e. its batch size (default 524288: on the
                    emulator, about 7 ms per row, a batch must apply within the group's 30 s session timeout)`;

/** The scratch table's columns beyond bench/lib/scratch.ts TABLE_COLUMNS, and their values for row g. */
const EXTRA_COLUMNS = 'ADD COLUMN attributes jsonb NOT NULL, ADD COLUMN active boolean NOT NULL';
const extraValues = (g: string) =>
  `jsonb_build_object('tier', ${g} % 5, 'tags', jsonb_build_array('a', 'b'), 'score', (${g} % 100) / 7.0), ${g} % 2 = 0`;

/** Time spent waiting for Snowflake, and each transaction (BEGIN → COMMIT), of one session. */
class TimedWarehouse implements Warehouse {
  waitingMs = 0;
  statements = 0;
  /** Waiting time and count per kind of statement (see kind()). */
  readonly byKind = new Map<string, { ms: number; count: number }>();
  readonly transactions: { ms: number; rows: number }[] = [];
  private open: { at: number; rows: number } | undefined;

  constructor(private readonly inner: Warehouse) {}

  async execute<T>(sql: string, binds?: Parameters<Warehouse['execute']>[1]): Promise<T[]> {
    const started = performance.now();
    if (sql === 'BEGIN') this.open = { at: started, rows: 0 };
    // the stage insert is the one statement with multi-row binds
    if (this.open && Array.isArray(binds?.[0])) this.open.rows += binds.length;
    try {
      return await this.inner.execute<T>(sql, binds);
    } finally {
      const ended = performance.now();
      this.waitingMs += ended - started;
      this.statements += 1;
      const k = kind(sql, binds);
      const entry = this.byKind.get(k) ?? { ms: 0, count: 0 };
      entry.ms += ended - started;
      entry.count += 1;
      this.byKind.set(k, entry);
      if (sql === 'COMMIT' && this.open) {
        this.transactions.push({ ms: ended - this.open.at, rows: this.open.rows });
        this.open = undefined;
      }
    }
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** A statement's kind: its verb, how it involves the stage table, and whether its binds are multi-row. */
function kind(sql: string, binds: Parameters<Warehouse['execute']>[1]): string {
  const verb = /^\s*(\w+)/.exec(sql)?.[1] ?? '?';
  const stage = /^\w+ (INTO|FROM|TABLE IF NOT EXISTS) \S+__DSR_STAGE"/.test(sql)
    ? ' stage'
    : sql.includes('__DSR_STAGE')
      ? ' … FROM stage'
      : '';
  return `${verb}${stage}${Array.isArray(binds?.[0]) ? ' (multi-row bind)' : ''}`;
}

export async function runWarehouseBench(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(WAREHOUSE_USAGE);
    return;
  }
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      rows: { type: 'string', default: '200000' },
      'loader-rows': { type: 'string', default: '20000' },
      'max-bytes': { type: 'string', default: String(512 * 1024) },
    },
  });
  const positive = (name: string, text: string | undefined): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: expected an integer ≥ 1, got '${text}'`);
    return n;
  };
  const rows = positive('rows', values.rows);
  const loaderRows = Math.min(rows, positive('loader-rows', values['loader-rows']));
  const maxBytes = positive('max-bytes', values['max-bytes']);

  const scratch = new Scratch();
  const warehouseTopic = topicSpec(loadTopicFamilies(), 'warehouse', {
    source: scratch.source,
    schema: 'public',
    table: scratch.table,
  }).name;
  // WarehouseFixture reads only the fixture's Kafka client and source name
  const wf = new WarehouseFixture({ kafka: scratch.kafka, source: scratch.source } as CdcFixture, {
    fetch: { maxWaitTimeInMs: 200, minBytes: 1, maxBytesPerPartition: maxBytes },
  });
  const sampler = new RssSampler(process.pid);
  try {
    await scratch.open();
    await scratch.admin.query(`ALTER TABLE public.${scratch.table} ${EXTRA_COLUMNS}`);

    console.log(`dsr-cdc warehouse benchmark, ${new Date().toISOString()}, node ${process.version}`);
    console.log(`preloading ${int(rows)} change events through the Postgres source (a child process) …`);
    const source = spawnSource({
      cwd: ROOT,
      name: scratch.source,
      configPath: scratch.writeConfig({ logLevel: 'warn' }),
      env: scratch.childEnv(),
    });
    const alive = () => source.child.exitCode === null && source.child.signalCode === null;
    try {
      await scratch.waitStreaming(alive);
      for (let from = 1; from <= rows; from += 10_000) {
        await scratch.admin.query(
          `INSERT INTO public.${scratch.table} SELECT ${rowValues('g')}, ${extraValues('g')} FROM generate_series($1::bigint, $2::bigint) AS g`,
          [from, Math.min(rows, from + 9_999)],
        );
      }
      await scratch.waitVisible(rows, alive, { intervalMs: 200 });
    } catch (error) {
      console.log(`last output of the source:\n${source.tail()}`);
      throw error;
    } finally {
      await source.stop(10_000);
    }

    await wf.open();
    const timed = new TimedWarehouse(wf.warehouse);
    wf.warehouse = timed;
    const admin = scratch.kafkaAdmin;

    // 1: coercion
    const rssBefore = readRss(process.pid)?.rssKb ?? Number.NaN;
    const coercionStart = performance.now();
    await wf.startCoercion();
    const cdcEvents = sum(await endOffsets(admin, scratch.topic));
    const coercion = await consumedAll(admin, `${wf.run}.coercion`, scratch.topic, cdcEvents, wf);
    const coercionEnd = performance.now();
    await wf.coercion.stop();
    const coercionSeconds = (coercionEnd - coercionStart) / 1000;
    const steadySeconds = (coercionEnd - coercion.firstProgress) / 1000;
    const produced = await endOffsets(admin, warehouseTopic);
    console.log('\n1: type coercion (cdc → warehouse topic), in this process');
    console.log(
      table([
        ['events', `${int(rows)} (warehouse topic: ${int(sum(produced))} events)`],
        ['ROWS/S start → committed offsets at the end of the topic', int(rows / coercionSeconds)],
        ['  seconds (includes joining the group)', fixed(coercionSeconds, 2)],
        ['rows/s first commit → last commit', int((rows - coercion.firstCount) / steadySeconds)],
        [
          'RSS before start / max sampled while coercing',
          `${mb(rssBefore)} / ${mb(maxRss(sampler, coercionStart, coercionEnd))}`,
        ],
      ]),
    );

    // 2: loader, from the last loaderRows events of the warehouse topic
    const groupId = `${wf.run}.loader`;
    const starts = startOffsets(produced, loaderRows);
    const loading = sum(produced) - sum(starts);
    await startGroupAt(admin, groupId, warehouseTopic, starts);
    timed.waitingMs = 0;
    timed.statements = 0;
    timed.byKind.clear();
    const loaderStart = performance.now();
    await wf.startLoader();
    await consumedAll(admin, groupId, warehouseTopic, sum(produced), wf, 180_000);
    const loaderEnd = performance.now();
    await wf.loader?.stop();
    const waitingMs = timed.waitingMs;
    const [counted] = await wf.reader.execute<{ N: string }>(
      `SELECT COUNT(*) AS N FROM ${wf.table(scratch.table)}`,
    );
    const loaderMs = loaderEnd - loaderStart;
    const tx = Float64Array.from(timed.transactions.map((t) => t.ms)).sort();
    const txRows = Float64Array.from(timed.transactions.map((t) => t.rows)).sort();
    console.log(
      `\n2: Snowflake loader (warehouse topic → emulator), in this process, maxBytesPerPartition ${int(maxBytes)}`,
    );
    console.log(
      table([
        ['events loaded / rows in the Snowflake table', `${int(loading)} / ${int(Number(counted?.N))}`],
        ['ROWS/S start → committed offsets at the end of the topic', int(loading / (loaderMs / 1000))],
        ['  seconds total', fixed(loaderMs / 1000, 2)],
        [
          '  of which waiting for Snowflake statements (the emulator)',
          `${fixed(waitingMs / 1000, 2)} s (${fixed((100 * waitingMs) / loaderMs, 0)} %, ${int(timed.statements)} statements)`,
        ],
        ...[...timed.byKind]
          .sort(([, a], [, b]) => b.ms - a.ms)
          .map(
            ([k, v]) =>
              [`    ${k}`, `${fixed(v.ms / 1000, 2)} s in ${int(v.count)} statements`] as [string, string],
          ),
        ['  rows/s if the emulator took no time', int(loading / ((loaderMs - waitingMs) / 1000))],
        [
          'transactions / rows per transaction p50 / max',
          `${int(tx.length)} / ${int(percentile(txRows, 50))} / ${int(txRows[txRows.length - 1] ?? Number.NaN)}`,
        ],
        [
          'transaction BEGIN → COMMIT p50 / p99 / max',
          `${int(percentile(tx, 50))} / ${int(percentile(tx, 99))} / ${int(tx[tx.length - 1] ?? Number.NaN)} ms`,
        ],
        ['RSS max sampled while loading', mb(maxRss(sampler, loaderStart, loaderEnd))],
      ]),
    );
    console.log(`peak RSS of this process (VmHWM, lifetime): ${mb(sampler.peakKb)}`);
  } finally {
    sampler.stop();
    await wf.close();
    const problems = await cleanUp(scratch, wf, warehouseTopic);
    problems.push(...(await scratch.close()));
    for (const problem of problems) console.error(`cleanup: ${problem}`);
  }
}

const sum = (offsets: Map<number, number>) => [...offsets.values()].reduce((a, b) => a + b, 0);

function maxRss(sampler: RssSampler, from: number, to: number): number {
  return Math.max(...sampler.between(from, to));
}

/** High watermark per partition. */
async function endOffsets(admin: Admin, topic: string): Promise<Map<number, number>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, Number(o.high)]));
}

/**
 * Commits `starts` for a group that has no members yet. kafkajs' setOffsets commits through a
 * short-lived consumer of the group, which can lose a race with its own join ("the coordinator is
 * not aware of this member"): retried until the committed offsets read back as asked.
 */
async function startGroupAt(
  admin: Admin,
  groupId: string,
  topic: string,
  starts: Map<number, number>,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [...starts].map(([partition, offset]) => ({ partition, offset: String(offset) })),
      });
    } catch (error) {
      if (attempt >= 5) throw error;
    }
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map((offsets?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    if ([...starts].every(([partition, offset]) => committed.get(partition) === offset)) return;
    if (attempt >= 5) throw new Error(`could not set the offsets of ${groupId}`);
    await sleep(1_000);
  }
}

/** Per partition, where to start so that about `rows` events remain, spread evenly. */
function startOffsets(ends: Map<number, number>, rows: number): Map<number, number> {
  const each = Math.ceil(rows / ends.size);
  return new Map([...ends].map(([partition, high]) => [partition, Math.max(0, high - each)]));
}

/**
 * Polls the group's committed offsets every 100 ms until they add up to `total` (the topic starts
 * at offset 0); resolves with when they first moved. Fails on a fatal consumer error or a stall.
 */
async function consumedAll(
  admin: Admin,
  groupId: string,
  topic: string,
  total: number,
  wf: WarehouseFixture,
  stallMs = 60_000,
): Promise<{ firstProgress: number; firstCount: number }> {
  let first: { firstProgress: number; firstCount: number } | undefined;
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    if (wf.fatal.length > 0) throw wf.fatal[0] as Error;
    const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = (offsets?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
    const now = performance.now();
    if (committed !== last) {
      if (last !== -1 && !first) first = { firstProgress: now, firstCount: committed };
      last = committed;
      lastChange = now;
    } else if (now - lastChange > stallMs) {
      throw new Error(`${groupId}: ${committed} of ${total} committed, no progress for ${stallMs} ms`);
    }
    if (committed >= total) return first ?? { firstProgress: now, firstCount: 0 };
    await sleep(100);
  }
}

/** Removes what Scratch does not know of: the warehouse and DLQ topics, their subjects, the groups. */
async function cleanUp(scratch: Scratch, wf: WarehouseFixture, warehouseTopic: string): Promise<string[]> {
  const problems: string[] = [];
  const admin = scratch.kafkaAdmin;
  if (!admin) return problems;
  const topics = [warehouseTopic, `dlq.${wf.run}.coercion`, `dlq.${wf.run}.loader`];
  try {
    const existing = new Set(await admin.listTopics());
    await admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) });
  } catch (error) {
    problems.push(`delete topics: ${(error as Error).message}`);
  }
  try {
    await admin.deleteGroups([`${wf.run}.coercion`, `${wf.run}.loader`]);
  } catch (error) {
    const groups = (error as { groups?: { error?: { type?: string } }[] }).groups;
    if (!groups?.every((g) => g.error === undefined || g.error?.type === 'GROUP_ID_NOT_FOUND'))
      problems.push(`delete groups: ${(error as Error).message}`);
  }
  const url = scratch.connections.registry.url;
  for (const subject of [`${warehouseTopic}-key`, `${warehouseTopic}-value`]) {
    await fetch(`${url}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${url}/subjects/${subject}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
  }
  return problems;
}
