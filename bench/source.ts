/**
 * End-to-end benchmark of the Postgres replication source: rows committed in Postgres → events
 * acknowledged by Kafka and readable by a consumer. Each scenario gets its own scratch table,
 * publication, slot and topic, and its own source process (`dsr-cdc source run`, started from
 * the TypeScript sources through tsx), whose memory and CPU are sampled from /proc.
 *
 *   A  batched transactions: N rows in transactions of --tx-size rows, written as fast as
 *      Postgres takes them; events/s from the first commit to the last event visible in Kafka.
 *   B  single-row transactions from --connections concurrent writers; transactions/s, same way.
 *   C  latency at a fixed offered rate: --rate events/s for --seconds, in transactions of
 *      --rate-tx-size rows; commit (client side) → consumed (key decoded) per event.
 *
 * Prints numbers; asserts nothing. See bench/README.md.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import pg from 'pg';
import { avroTypeOptions } from '../src/events/pg-types.js';
import { summariseProfile } from './lib/cpuprofile.js';
import {
  type CpuSnapshot,
  cpuBetween,
  cpuSnapshot,
  RssSampler,
  readRss,
  type SourceProcess,
  spawnSource,
} from './lib/proc.js';
import { adminConfig, rowValues, Scratch, sleep } from './lib/scratch.js';
import { fixed, int, mb, median, percentile, table } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const HOOKS_PRELOAD = new URL('./lib/source-hooks.ts', import.meta.url).href;

export const SOURCE_USAGE = `usage: npm run bench -- source [options]

  --scenario a|b|c|all   which scenarios to run (default all)
  --warmup N             rows written (in transactions of 1000) and streamed before each measurement (default 10000)
  --rows N               A: rows to load (default 200000)
  --tx-size N            A: rows per transaction (default 1000)
  --single-tx N          B: single-row transactions (default 20000)
  --connections N        B: concurrent writer connections (default 8)
  --rate N               C: offered events/s (default 10000)
  --seconds N            C: how long to offer them (default 10)
  --rate-tx-size N       C: rows per transaction (default 10, i.e. 1000 transactions/s at 10000 events/s)
  --rate-connections N   C: writer connections (default 16)
  --writer-sync on|off   synchronous_commit of the writers' sessions (default on); off takes the
                         disk's fsync rate out of B, to see whether the source keeps up beyond it
  --linger-ms N          the source's batch.lingerMs (default: the config default, 5)
  --batch-messages N     the source's batch.maxMessages (default: the config default, 5000)
  --max-buffered N       the source's batch.maxBufferedMessages (default: the config default, 50000)
  --log-level L          the source's log level (default warn)
  --compiled DIR         run DIR/src/cli/main.js (the sources compiled to JS) instead of tsx; see README
  --node-arg ARG         a Node flag for the source process (repeatable), e.g. --node-arg=--max-old-space-size=96
  --cpu-prof             run the source under \`node --cpu-prof\` and summarise where its time went
  --trace-batches        record every kafkajs sendBatch of the source (size, duration) and summarise
  --trace-memory         sample the source's process.memoryUsage() (heap, external, buffers) and summarise
`;

interface Options {
  scenarios: ('a' | 'b' | 'c')[];
  warmup: number;
  rows: number;
  txSize: number;
  singleTx: number;
  connections: number;
  rate: number;
  seconds: number;
  rateTxSize: number;
  rateConnections: number;
  writerSync: 'on' | 'off';
  lingerMs: number | undefined;
  batchMessages: number | undefined;
  maxBuffered: number | undefined;
  compiled: string | undefined;
  logLevel: string;
  cpuProf: boolean;
  traceBatches: boolean;
  traceMemory: boolean;
  nodeArgs: string[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'all' },
      warmup: { type: 'string', default: '10000' },
      rows: { type: 'string', default: '200000' },
      'tx-size': { type: 'string', default: '1000' },
      'single-tx': { type: 'string', default: '20000' },
      connections: { type: 'string', default: '8' },
      rate: { type: 'string', default: '10000' },
      seconds: { type: 'string', default: '10' },
      'rate-tx-size': { type: 'string', default: '10' },
      'rate-connections': { type: 'string', default: '16' },
      'writer-sync': { type: 'string', default: 'on' },
      'linger-ms': { type: 'string' },
      'batch-messages': { type: 'string' },
      'max-buffered': { type: 'string' },
      compiled: { type: 'string' },
      'log-level': { type: 'string', default: 'warn' },
      'cpu-prof': { type: 'boolean', default: false },
      'trace-batches': { type: 'boolean', default: false },
      'trace-memory': { type: 'boolean', default: false },
      'node-arg': { type: 'string', multiple: true, default: [] },
    },
  });
  const positive = (name: string, text: string | undefined, min = 1): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: expected an integer ≥ ${min}, got '${text}'`);
    return n;
  };
  const scenario = values.scenario ?? 'all';
  if (!['a', 'b', 'c', 'all'].includes(scenario)) throw new Error(`--scenario: expected a, b, c or all`);
  return {
    scenarios: scenario === 'all' ? ['a', 'b', 'c'] : [scenario as 'a' | 'b' | 'c'],
    warmup: positive('warmup', values.warmup),
    rows: positive('rows', values.rows),
    txSize: positive('tx-size', values['tx-size']),
    singleTx: positive('single-tx', values['single-tx']),
    connections: positive('connections', values.connections),
    rate: positive('rate', values.rate),
    seconds: positive('seconds', values.seconds),
    rateTxSize: positive('rate-tx-size', values['rate-tx-size']),
    rateConnections: positive('rate-connections', values['rate-connections']),
    writerSync: onOff('writer-sync', values['writer-sync']),
    lingerMs: values['linger-ms'] === undefined ? undefined : positive('linger-ms', values['linger-ms'], 0),
    batchMessages:
      values['batch-messages'] === undefined
        ? undefined
        : positive('batch-messages', values['batch-messages']),
    maxBuffered:
      values['max-buffered'] === undefined ? undefined : positive('max-buffered', values['max-buffered']),
    compiled: values.compiled === undefined ? undefined : compiledMain(values.compiled),
    logLevel: values['log-level'] ?? 'warn',
    cpuProf: values['cpu-prof'] ?? false,
    traceBatches: values['trace-batches'] ?? false,
    traceMemory: values['trace-memory'] ?? false,
    nodeArgs: values['node-arg'] ?? [],
  };
}

function compiledMain(dir: string): string {
  const main = resolve(dir, 'src/cli/main.js');
  if (!existsSync(main)) throw new Error(`--compiled: ${main} does not exist (see bench/README.md)`);
  return main;
}

// ---------------------------------------------------------------------------------------------
// One scenario: scratch setup, source process, samplers, cleanup.

interface Context {
  scratch: Scratch;
  source: SourceProcess;
  alive: () => boolean;
  /** Marks the start of the measured window (RSS and CPU are reported over it). */
  begin(): void;
  /** Marks its end. */
  end(): void;
}

interface Window {
  from: number;
  to: number;
  cpuFrom: CpuSnapshot;
  cpuTo: CpuSnapshot;
  hrFromUs: number;
  hrToUs: number;
}

type Lines = [string, string][];

async function scenario(
  title: string,
  options: Options,
  body: (ctx: Context) => Promise<Lines>,
): Promise<void> {
  console.log(`\n${title}`);
  const scratch = new Scratch();
  let source: SourceProcess | undefined;
  let sampler: RssSampler | undefined;
  let lines: Lines = [];
  const window: Partial<Window> = {};
  let failure: unknown;
  let idleKb = Number.NaN;
  const profileDir = options.cpuProf ? `${scratch.directory}-profile` : undefined;
  const traceFile = options.traceBatches ? `${scratch.directory}-batches.txt` : undefined;
  const memoryFile = options.traceMemory ? `${scratch.directory}-memory.txt` : undefined;
  const hooks = traceFile !== undefined || memoryFile !== undefined;
  // Ctrl-C: the source (same process group) gets the signal too; remove what this scenario made
  const onSignal = () => {
    console.log('\n  interrupted: cleaning up');
    sampler?.stop();
    void Promise.resolve(source?.stop(10_000))
      .then(() => scratch.close())
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await scratch.open();
    const configPath = scratch.writeConfig({
      logLevel: options.logLevel,
      lingerMs: options.lingerMs,
      batchMessages: options.batchMessages,
      maxBuffered: options.maxBuffered,
    });
    const started = performance.now();
    source = spawnSource({
      cwd: ROOT,
      name: scratch.source,
      configPath,
      ...(options.compiled ? { compiledMain: options.compiled } : {}),
      env: {
        ...scratch.childEnv(),
        ...(traceFile ? { DSR_CDC_BENCH_TRACE: traceFile } : {}),
        ...(memoryFile ? { DSR_CDC_BENCH_MEMORY: memoryFile } : {}),
      },
      nodeArgs: [
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        ...(hooks ? ['--import', 'tsx', '--import', HOOKS_PRELOAD] : []),
        ...options.nodeArgs,
      ],
    });
    const running = source;
    sampler = new RssSampler(running.pid);
    const alive = () => running.child.exitCode === null && running.child.signalCode === null;
    await scratch.waitStreaming(alive);
    idleKb = readRss(running.pid)?.rssKb ?? Number.NaN;
    console.log(`  source pid ${running.pid} streaming after ${int(performance.now() - started)} ms`);

    // warm-up, kept out of the numbers: the first event registers the table's contract, and JIT
    // and heap settle (negative ids, so the readers can tell these rows apart)
    for (let from = -options.warmup; from <= -1; from += 1_000) {
      await scratch.admin.query(
        `INSERT INTO public.${scratch.table} SELECT ${rowValues('g')} FROM generate_series($1::bigint, $2::bigint) AS g`,
        [from, Math.min(-1, from + 999)],
      );
    }
    await scratch.waitVisible(options.warmup, alive);

    lines = await body({
      scratch,
      source: running,
      alive,
      begin: () => {
        window.from = performance.now();
        window.hrFromUs = Number(process.hrtime.bigint() / 1000n);
        window.cpuFrom = cpuSnapshot(running.pid);
      },
      end: () => {
        window.to = performance.now();
        window.hrToUs = Number(process.hrtime.bigint() / 1000n);
        window.cpuTo = cpuSnapshot(running.pid);
      },
    });
  } catch (error) {
    failure = error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    sampler?.stop();
    const stopped = await source?.stop(10_000);
    const problems = await scratch.close();
    if (failure) {
      console.log(`  FAILED: ${(failure as Error).message}`);
      if (source) console.log(`  last output of the source:\n${indent(source.tail())}`);
    }
    if (stopped && stopped.how === 'killed') {
      console.log(`  note: the source did not stop within 10 s of SIGTERM and was killed`);
    }
    if (problems.length > 0) console.log(`  cleanup problems: ${problems.join('; ')}`);
  }
  if (failure) {
    for (const file of [traceFile, memoryFile]) if (file) rmSync(file, { force: true });
    process.exitCode = 1;
    return;
  }
  const w = window as Window;
  const half = w.from + (w.to - w.from) / 2;
  const steady = median(sampler?.between(half, w.to) ?? []);
  const inWindow = sampler?.between(w.from, w.to) ?? [];
  const cpu = cpuBetween(w.cpuFrom, w.cpuTo);
  lines.push(
    ['source RSS idle (streaming, before load)', mb(idleKb)],
    ['source RSS steady (median, last half)', mb(steady)],
    ['source RSS max sampled in window', mb(Math.max(...inWindow))],
    ['source peak RSS (VmHWM, lifetime)', mb(sampler?.peakKb ?? Number.NaN)],
    [
      'CPU in window (% of one core)',
      `source ${fixed(cpu.source, 0)}, postgres ${fixed(cpu.postgres, 0)}, kafka ${fixed(cpu.kafka, 0)}, ` +
        `registry ${fixed(cpu.registry, 0)}, bench ${fixed(cpu.bench, 0)}, other ${fixed(cpu.other, 0)}; ` +
        `machine ${fixed(cpu.machine, 0)}% of ${availableParallelism()} cores`,
    ],
  );
  console.log(table(lines));
  if (traceFile) console.log(summariseBatches(traceFile, w));
  if (memoryFile) console.log(summariseMemory(memoryFile, w));
  for (const file of [traceFile, memoryFile]) if (file) rmSync(file, { force: true });
  if (profileDir) {
    // the main thread's profile: CPU.<date>.<time>.<pid>.<thread 0>.<sequence>.cpuprofile
    const pid = source?.pid;
    const file = existsSync(profileDir)
      ? readdirSync(profileDir).find((f) => f.includes(`.${pid}.0.`) && f.endsWith('.cpuprofile'))
      : undefined;
    if (!file) {
      console.log('  no CPU profile was written (the source did not exit normally)');
    } else {
      const path = `${profileDir}/${file}`;
      console.log(`  CPU profile of the source: ${path}`);
      console.log(summariseProfile(path, ROOT, { fromUs: w.hrFromUs, toUs: w.hrToUs }));
    }
  }
}

/** The source's kafkajs sendBatch calls inside the window (see lib/source-hooks.ts). */
function summariseBatches(file: string, w: Window): string {
  const from = w.hrFromUs / 1000;
  const to = w.hrToUs / 1000;
  const calls = readLines(file)
    .map((line) => line.split(' ').map(Number) as [number, number, number, number])
    .filter(([start]) => start >= from && start <= to);
  if (calls.length === 0) return '  no sendBatch calls in the window';
  const sorted = (i: number) => Float64Array.from(calls.map((c) => c[i] as number)).sort();
  const [ms, messages, bytes] = [sorted(1), sorted(2), sorted(3)];
  const busy = calls.reduce((sum, c) => sum + c[1], 0);
  const total = calls.reduce((sum, c) => sum + c[2], 0);
  return table([
    ['sendBatch calls in window', `${int(calls.length)} (${int(total)} messages)`],
    [
      'messages per call p50 / p99 / max',
      `${int(percentile(messages, 50))} / ${int(percentile(messages, 99))} / ${int(messages[messages.length - 1] as number)}`,
    ],
    ['bytes per call max', mb((bytes[bytes.length - 1] as number) / 1024)],
    [
      'sendBatch duration p50 / p99 / max',
      `${fixed(percentile(ms, 50))} / ${fixed(percentile(ms, 99))} / ${fixed(ms[ms.length - 1] as number)} ms`,
    ],
    ['a sendBatch in flight', `${fixed((100 * busy) / (to - from), 0)}% of the window`],
  ]);
}

/** Median process.memoryUsage() of the source over the last half of the window. */
function summariseMemory(file: string, w: Window): string {
  const from = (w.hrFromUs + (w.hrToUs - w.hrFromUs) / 2) / 1000;
  const rows = readLines(file)
    .map((line) => line.split(' ').map(Number))
    .filter(([at]) => (at as number) >= from && (at as number) <= w.hrToUs / 1000);
  if (rows.length === 0) return '  no memory samples in the window';
  const m = (i: number) => mb(median(rows.map((r) => r[i] as number)));
  return table([
    [
      'memoryUsage, median of last half',
      `rss ${m(1)}: heapTotal ${m(2)} (used ${m(3)}), external ${m(4)} (arrayBuffers ${m(5)})`,
    ],
  ]);
}

function readLines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

async function writers(scratch: Scratch, count: number, sync: 'on' | 'off'): Promise<pg.Client[]> {
  const clients = Array.from(
    { length: count },
    () => new pg.Client({ ...scratch.adminConfig(), options: `-c synchronous_commit=${sync}` }),
  );
  await Promise.all(clients.map((c) => c.connect()));
  return clients;
}

function onOff(name: string, value: string | undefined): 'on' | 'off' {
  if (value === 'on' || value === 'off') return value;
  throw new Error(`--${name}: expected on or off, got '${value}'`);
}

async function closeAll(clients: pg.Client[]): Promise<void> {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
}

/** Runs `write` while watching the topic; resolves when `target` events are visible. */
async function writeAndWatch(
  ctx: Context,
  target: number,
  write: () => Promise<void>,
): Promise<{ visibleAt: number; visibleWhenWritesEnded: number; writeEnd: number }> {
  const controller = new AbortController();
  const watching = ctx.scratch.waitVisible(target, ctx.alive, { signal: controller.signal });
  watching.catch(() => undefined);
  try {
    await write();
  } catch (error) {
    controller.abort();
    throw error;
  }
  const writeEnd = performance.now();
  const { at, polls } = await watching;
  const visibleWhenWritesEnded = polls.filter((p) => p.at <= writeEnd).at(-1)?.events ?? 0;
  return { visibleAt: at, visibleWhenWritesEnded, writeEnd };
}

// ---------------------------------------------------------------------------------------------
// A: batched transactions

async function scenarioA(ctx: Context, o: Options): Promise<Lines> {
  const { scratch } = ctx;
  const [writer] = (await writers(scratch, 1, o.writerSync)) as [pg.Client];
  const insert = `INSERT INTO public.${scratch.table} SELECT ${rowValues('g')} FROM generate_series($1::bigint, $2::bigint) AS g`;
  let firstCommit = Number.NaN;
  let writeStart = Number.NaN;
  try {
    ctx.begin();
    const result = await writeAndWatch(ctx, o.warmup + o.rows, async () => {
      writeStart = performance.now();
      for (let from = 1; from <= o.rows; from += o.txSize) {
        await writer.query({
          name: 'a',
          text: insert,
          values: [from, Math.min(o.rows, from + o.txSize - 1)],
        });
        if (Number.isNaN(firstCommit)) firstCommit = performance.now();
      }
    });
    ctx.end();
    const seconds = (result.visibleAt - firstCommit) / 1000;
    const transactions = Math.ceil(o.rows / o.txSize);
    return [
      [
        'workload',
        `${int(o.rows)} rows in ${int(transactions)} transactions of ${int(o.txSize)} rows, 1 writer`,
      ],
      ['Postgres write rate', `${int(o.rows / ((result.writeEnd - writeStart) / 1000))} rows/s`],
      ['visible in Kafka when writes ended', `${int(result.visibleWhenWritesEnded - o.warmup)} events`],
      ['last commit → last event visible', `${int(result.visibleAt - result.writeEnd)} ms`],
      ['first commit → all events visible', `${fixed(seconds, 2)} s`],
      ['THROUGHPUT (events/s)', int(o.rows / seconds)],
    ];
  } finally {
    await closeAll([writer]);
  }
}

// ---------------------------------------------------------------------------------------------
// B: single-row transactions

async function scenarioB(ctx: Context, o: Options): Promise<Lines> {
  const { scratch } = ctx;
  const clients = await writers(scratch, o.connections, o.writerSync);
  const insert = `INSERT INTO public.${scratch.table} VALUES (${rowValues('$1::bigint')})`;
  let next = 1;
  let firstCommit = Number.NaN;
  let writeStart = Number.NaN;
  try {
    ctx.begin();
    const result = await writeAndWatch(ctx, o.warmup + o.singleTx, async () => {
      writeStart = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          for (let id = next++; id <= o.singleTx; id = next++) {
            await client.query({ name: 'b', text: insert, values: [id] });
            if (Number.isNaN(firstCommit)) firstCommit = performance.now();
          }
        }),
      );
    });
    ctx.end();
    const seconds = (result.visibleAt - firstCommit) / 1000;
    return [
      ['workload', `${int(o.singleTx)} single-row INSERT transactions from ${o.connections} connections`],
      ['Postgres commit rate', `${int(o.singleTx / ((result.writeEnd - writeStart) / 1000))} transactions/s`],
      ['visible in Kafka when writes ended', `${int(result.visibleWhenWritesEnded - o.warmup)} events`],
      ['last commit → last event visible', `${int(result.visibleAt - result.writeEnd)} ms`],
      ['first commit → all events visible', `${fixed(seconds, 2)} s`],
      ['THROUGHPUT (transactions/s)', int(o.singleTx / seconds)],
    ];
  } finally {
    await closeAll(clients);
  }
}

// ---------------------------------------------------------------------------------------------
// C: latency at a fixed offered rate

async function scenarioC(ctx: Context, o: Options): Promise<Lines> {
  const { scratch } = ctx;
  const total = o.rate * o.seconds;
  const k = o.rateTxSize;
  const batches = Math.ceil(total / k);
  const commitAt = new Float64Array(batches).fill(Number.NaN);
  const lateness = new Float64Array(batches);
  const receivedAt = new Float64Array(total + 1).fill(Number.NaN);
  // the record's CreateTime: kafkajs stamps Date.now() when it builds the produce request
  const createdAt = new Float64Array(total + 1).fill(Number.NaN);
  let received = 0;
  let warm = 0;
  let onProgress = () => {};

  // the reader: decodes only the key (the row id = the sequence number), notes when it arrived
  const registry = new SchemaRegistry(
    { host: scratch.connections.registry.url },
    { [SchemaType.AVRO]: avroTypeOptions() },
  );
  const consumer = scratch.kafka.consumer({ groupId: scratch.group(), maxWaitTimeInMs: 100 });
  await consumer.connect();
  const clients = await writers(scratch, o.rateConnections, o.writerSync);
  try {
    await consumer.subscribe({ topic: scratch.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const at = performance.now();
        for (const message of batch.messages) {
          if (!message.key) continue;
          const key = (await registry.decode(message.key)) as { id: bigint };
          const id = Number(key.id);
          if (id < 0) warm += 1;
          else if (id >= 1 && id <= total && Number.isNaN(receivedAt[id] as number)) {
            receivedAt[id] = at;
            createdAt[id] = Number(message.timestamp) - performance.timeOrigin;
            received += 1;
          }
        }
        onProgress();
      },
    });
    const waitFor = async (done: () => boolean, what: string, stallMs: number) => {
      let last = -1;
      let lastChange = performance.now();
      while (!done()) {
        if (!ctx.alive()) throw new Error(`the source process ended while waiting for ${what}`);
        if (received + warm !== last) {
          last = received + warm;
          lastChange = performance.now();
        } else if (performance.now() - lastChange > stallMs) {
          throw new Error(`${what}: no progress for ${stallMs} ms (${received} of ${total} consumed)`);
        }
        await new Promise<void>((resolve) => {
          onProgress = resolve;
          setTimeout(resolve, 50);
        });
      }
    };
    // the consumer has joined and read the warm-up events: its fetch loop is running
    await waitFor(() => warm >= o.warmup, 'the reader to join and consume the warm-up events', 60_000);

    const insert = `INSERT INTO public.${scratch.table} SELECT ${rowValues('g')} FROM generate_series($1::bigint, $2::bigint) AS g`;
    let next = 0;
    ctx.begin();
    const start = performance.now() + 20;
    await Promise.all(
      clients.map(async (client) => {
        for (let j = next++; j < batches; j = next++) {
          const first = j * k + 1;
          const last = Math.min(total, (j + 1) * k);
          // a transaction is due when its last row is (row i at start + i / rate)
          const due = start + (last / o.rate) * 1000;
          const wait = due - performance.now();
          if (wait >= 1) await sleep(wait);
          lateness[j] = Math.max(0, performance.now() - due);
          await client.query({ name: 'c', text: insert, values: [first, last] });
          commitAt[j] = performance.now();
        }
      }),
    );
    const writeEnd = performance.now();
    await waitFor(() => received >= total, 'all events to be consumed', 30_000);
    ctx.end();
    const lastReceived = performance.now();

    const latencies = new Float64Array(total);
    const toProduce = new Float64Array(total);
    const fromProduce = new Float64Array(total);
    let early = 0;
    // p99 per second of commit time, to tell a steady tail from a few stalls
    const perSecond: number[][] = [];
    for (let id = 1; id <= total; id++) {
      const committed = commitAt[Math.floor((id - 1) / k)] as number;
      const l = (receivedAt[id] as number) - committed;
      if (l < 0) early += 1;
      latencies[id - 1] = Math.max(0, l);
      toProduce[id - 1] = (createdAt[id] as number) - committed;
      fromProduce[id - 1] = (receivedAt[id] as number) - (createdAt[id] as number);
      const second = Math.max(0, Math.floor((committed - start) / 1000));
      const bucket = perSecond[second] ?? [];
      perSecond[second] = bucket;
      bucket.push(Math.max(0, l));
    }
    latencies.sort();
    toProduce.sort();
    fromProduce.sort();
    const split = (a: Float64Array) =>
      `${fixed(percentile(a, 50), 1)} / ${fixed(percentile(a, 99), 1)} / ${fixed(a[a.length - 1] as number, 1)} ms`;
    const p99BySecond = perSecond.map((list) => fixed(percentile(Float64Array.from(list).sort(), 99), 0));
    const late = Float64Array.from(lateness).sort();
    const ms = (n: number) => `${fixed(n, 1)} ms`;
    const offeredSeconds = (writeEnd - start) / 1000;
    return [
      [
        'workload',
        `${int(total)} rows at ${int(o.rate)} rows/s for ${o.seconds} s, ${k} rows per transaction, ${o.rateConnections} connections`,
      ],
      [
        'achieved write rate',
        `${int(total / offeredSeconds)} rows/s (${int(batches / offeredSeconds)} transactions/s)`,
      ],
      [
        'writer lateness vs schedule p99 / max',
        `${ms(percentile(late, 99))} / ${ms(late[late.length - 1] as number)}`,
      ],
      ['last commit → last event consumed', ms(lastReceived - writeEnd)],
      [
        'LATENCY commit → consumed p50 / p95 / p99 / max',
        `${ms(percentile(latencies, 50))} / ${ms(percentile(latencies, 95))} / ${ms(percentile(latencies, 99))} / ${ms(latencies[latencies.length - 1] as number)}`,
      ],
      ['p99 per second of the run (ms)', p99BySecond.join(' ')],
      ['  commit → produce request built p50 / p99 / max', split(toProduce)],
      ['  produce request built → consumed p50 / p99 / max', split(fromProduce)],
      ...(early > 0 ? ([['events consumed before their commit returned', int(early)]] as Lines) : []),
    ];
  } finally {
    onProgress = () => {};
    await consumer.disconnect().catch(() => undefined);
    await closeAll(clients);
  }
}

// ---------------------------------------------------------------------------------------------

export async function runSourceBench(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(SOURCE_USAGE);
    return;
  }
  const o = parseOptions(argv);
  const probe = new pg.Client(adminConfig());
  await probe.connect();
  const { rows } = await probe.query<{ v: string; sc: string }>(
    `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc`,
  );
  await probe.end();
  console.log('dsr-cdc source benchmark');
  console.log(
    table([
      ['date', new Date().toISOString()],
      [
        'machine',
        `${availableParallelism()} cores (${cpus()[0]?.model ?? 'unknown'}), ${fixed(totalmem() / 2 ** 30, 1)} GiB RAM, ` +
          `load average ${loadavg()
            .map((l) => fixed(l, 2))
            .join(' ')}`,
      ],
      ['node', process.version],
      ['postgres', `${rows[0]?.v}, synchronous_commit=${rows[0]?.sc} (writers: ${o.writerSync})`],
      [
        'source',
        `node ${o.compiled ?? '--import tsx src/cli/main.ts'} source run (a child process), config defaults` +
          (o.lingerMs === undefined ? '' : `, batch.lingerMs ${o.lingerMs}`) +
          (o.batchMessages === undefined ? '' : `, batch.maxMessages ${o.batchMessages}`) +
          (o.maxBuffered === undefined ? '' : `, batch.maxBufferedMessages ${o.maxBuffered}`) +
          (o.nodeArgs.length === 0 ? '' : `, node ${o.nodeArgs.join(' ')}`),
      ],
    ]),
  );
  const titles = {
    a: 'A: batched transactions, throughput',
    b: 'B: single-row transactions, throughput',
    c: 'C: latency at a fixed offered rate',
  } as const;
  const bodies = { a: scenarioA, b: scenarioB, c: scenarioC } as const;
  for (const s of o.scenarios) await scenario(titles[s], o, (ctx) => bodies[s](ctx, o));
  console.log(
    '\nNotes: throughput is measured from the first commit to the poll of the topic high watermarks that ' +
      'saw every event; latency is commit (client side, after COMMIT returned) → consumed by a reader in ' +
      'this process, an upper bound of commit → Kafka acknowledgement. The bench process shares the CPUs.',
  );
}
