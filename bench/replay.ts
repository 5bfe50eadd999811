/**
 * Benchmark of `dsr-cdc replay`: N change events (the Postgres source's real contract for the bench
 * table, Avro through the registry) are produced to a scratch topic of 6 partitions, then replayed
 * whole to an NDJSON file by the CLI as its own process, whose memory is sampled from /proc.
 * Reports events/s and peak RSS, and RSS as the output grows, to show memory stays flat.
 *
 * Prints numbers; asserts nothing. See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { stringify } from 'yaml';
import { loadConnections } from '../src/config/connections.js';
import { envelopeSchema } from '../src/events/envelope.js';
import { avroRecordSchema, avroTypeOptions, type PgColumn, toAvroValue } from '../src/events/pg-types.js';
import { RssSampler, readRss } from './lib/proc.js';
import { uniqueName } from './lib/scratch.js';
import { fixed, int, mb, table } from './lib/stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');

export const REPLAY_USAGE = `usage: npm run bench -- replay [options]

  --events N      events to produce and replay (default 1000000, or DSR_CDC_BENCH_REPLAY_EVENTS)
  --format F      ndjson | csv (default ndjson)
  --max-old-space MB   run the replay process with node --max-old-space-size=MB: a run that finishes
                       under a small heap limit shows that memory does not grow with the range`;

const type = (oid: number, name: string) => ({ oid, name, kind: 'base' as const });
/** The bench table of the source benchmark (bench/lib/scratch.ts TABLE_COLUMNS). */
const COLUMNS: PgColumn[] = [
  { name: 'id', type: type(20, 'int8'), typeMod: -1, notNull: true },
  { name: 'customer_ref', type: type(25, 'text'), typeMod: -1, notNull: true },
  { name: 'quantity', type: type(23, 'int4'), typeMod: -1, notNull: true },
  { name: 'amount', type: type(1700, 'numeric'), typeMod: ((12 << 16) | 2) + 4, notNull: true },
  { name: 'created_at', type: type(1184, 'timestamptz'), typeMod: -1, notNull: true },
];

export async function runReplayBench(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      events: { type: 'string' },
      format: { type: 'string', default: 'ndjson' },
      'max-old-space': { type: 'string' },
    },
  });
  const events = Number(values.events ?? process.env.DSR_CDC_BENCH_REPLAY_EVENTS ?? 1_000_000);
  if (!Number.isInteger(events) || events < 1) throw new Error('--events: expected a positive integer');

  const connections = loadConnections();
  const kafka = new Kafka({
    clientId: 'bench-replay',
    brokers: connections.kafka.brokers,
    logLevel: logLevel.NOTHING,
  });
  const registry = new SchemaRegistry(
    { host: connections.registry.url },
    { [SchemaType.AVRO]: avroTypeOptions() },
  );
  // not cdc.*: a pii-discovery running on the shared stack must not index a million bench rows
  const topic = uniqueName('bench-replay');
  const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-bench-replay-'));
  const out = join(dir, `replay.${values.format}`);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
    const produced = await produce(kafka, registry, topic, events);
    console.log(`produced ${int(events)} events to ${topic} in ${fixed(produced / 1000)} s`);
    const nodeArgs = values['max-old-space']
      ? [`--max-old-space-size=${Number(values['max-old-space'])}`]
      : [];
    const run = await replayProcess(topic, out, dir, values.format as string, connections, nodeArgs);
    const size = statSync(out).size;
    console.log(
      table([
        ['events', int(events)],
        ['format', values.format as string],
        ['node options', nodeArgs.join(' ') || '(none)'],
        ['output', `${fixed(size / 1024 / 1024)} MB (${int(Math.round(size / events))} bytes/event)`],
        ['wall time (process start → exit)', `${fixed(run.wallMs / 1000, 2)} s`],
        ['events/s (wall)', int(Math.round((events * 1000) / run.wallMs))],
        ['events/s (first → last byte written)', int(Math.round((events * 1000) / run.writingMs))],
        ['peak RSS (VmHWM)', mb(run.peakKb)],
      ]),
    );
    console.log('\nRSS as the output grows (share of the final output written → RSS):');
    console.log(
      table(
        run.points.map(({ share, rssKb }) => [`${String(Math.round(share * 100)).padStart(3)} %`, mb(rssKb)]),
      ),
    );
  } finally {
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    for (const subject of [`${topic}-key`, `${topic}-value`]) {
      await fetch(`${connections.registry.url}/subjects/${subject}`, { method: 'DELETE' }).catch(
        () => undefined,
      );
      await fetch(`${connections.registry.url}/subjects/${subject}?permanent=true`, {
        method: 'DELETE',
      }).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Produces `events` creates of the bench table's contract; returns the time taken (ms). */
async function produce(
  kafka: Kafka,
  registry: SchemaRegistry,
  topic: string,
  events: number,
): Promise<number> {
  const namespace = `dsrcdc.bench.public.${topic.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const row = avroRecordSchema('Value', namespace, COLUMNS, { allNullable: true });
  const key = avroRecordSchema('Key', namespace, COLUMNS.slice(0, 1));
  const register = async (schema: unknown, subject: string) => {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    return { id, type: (await registry.getSchema(id)) as unknown as { toBuffer(v: unknown): Buffer } };
  };
  const keyContract = await register(key, `${topic}-key`);
  const valueContract = await register(envelopeSchema(namespace, row), `${topic}-value`);
  const wire = (contract: { id: number; type: { toBuffer(v: unknown): Buffer } }, value: unknown) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(contract.id, 1);
    return Buffer.concat([header, contract.type.toBuffer(value)]);
  };
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const started = performance.now();
  const batch = 5_000;
  const inFlight = new Set<Promise<unknown>>();
  const now = BigInt(Date.now()) * 1000n;
  for (let first = 1; first <= events; first += batch) {
    const messages = [];
    for (let id = first; id < Math.min(first + batch, events + 1); id++) {
      const text = [
        String(id),
        `customer-${id.toString(16).padStart(32, '0')}`,
        String(id % 1000),
        `${id % 100000}.${String(id % 100).padStart(2, '0')}`,
        '2026-11-25 00:00:00+00',
      ];
      const after = Object.fromEntries(COLUMNS.map((c, i) => [c.name, toAvroValue(c, text[i] ?? null)]));
      messages.push({
        key: wire(keyContract, { id: BigInt(id) }),
        value: wire(valueContract, {
          op: 'c',
          before: null,
          after,
          unchanged: [],
          source: {
            connector: 'postgres',
            name: 'bench',
            db: 'dsr_cdc',
            schema: 'public',
            table: 'replay',
            lsn: BigInt(id) * 100n,
            commitLsn: BigInt(id) * 100n,
            txId: BigInt(id),
            commitTs: now,
            snapshot: false,
            seq: 0n,
          },
          tsMs: BigInt(Date.now()),
        }),
      });
    }
    const send = producer.send({ topic, acks: 1, messages }).finally(() => inFlight.delete(send));
    inFlight.add(send);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await producer.disconnect();
  return performance.now() - started;
}

interface ReplayRun {
  wallMs: number;
  writingMs: number;
  peakKb: number;
  points: { share: number; rssKb: number }[];
}

/** `dsr-cdc replay` as its own process, its RSS and its output size sampled as it runs. */
async function replayProcess(
  topic: string,
  out: string,
  dir: string,
  format: string,
  connections: ReturnType<typeof loadConnections>,
  nodeArgs: string[],
): Promise<ReplayRun> {
  const config = join(dir, 'dsr-cdc.yaml');
  writeFileSync(
    config,
    stringify({
      pipeline: { name: 'bench-replay' },
      kafka: { brokers: connections.kafka.brokers, clientId: 'bench-replay' },
      registry: { url: connections.registry.url },
      sources: {},
      log: { level: 'warn' },
    }),
  );
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      '--import',
      'tsx',
      'src/cli/main.ts',
      'replay',
      '--config',
      config,
      '--topic',
      topic,
      '--from',
      'earliest',
      '--format',
      format,
      '--out',
      out,
    ],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (child.pid === undefined) throw new Error('could not start dsr-cdc replay');
  const pid = child.pid;
  const rss = new RssSampler(pid, 100);
  // the output is written under <out>.partial until complete
  const growth: { at: number; bytes: number; rssKb: number }[] = [];
  const sizer = setInterval(() => {
    let bytes = 0;
    try {
      bytes = statSync(`${out}.partial`).size;
    } catch {
      return;
    }
    const now = readRss(pid);
    if (now) growth.push({ at: performance.now(), bytes, rssKb: now.rssKb });
  }, 250);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const exitedAt = performance.now();
  const wallMs = exitedAt - started;
  clearInterval(sizer);
  rss.stop();
  if (code !== 0) throw new Error(`dsr-cdc replay exited with ${code}`);
  const total = statSync(out).size;
  const writing = growth.filter((g) => g.bytes > 0);
  const firstByte = writing[0]?.at ?? started;
  const points: ReplayRun['points'] = [];
  for (let tenth = 1; tenth <= 10; tenth++) {
    const at = writing.find((g) => g.bytes >= (total * tenth) / 10) ?? writing.at(-1);
    if (at && !points.some((p) => p.share === at.bytes / total))
      points.push({ share: at.bytes / total, rssKb: at.rssKb });
  }
  return { wallMs, writingMs: exitedAt - firstByte, peakKb: rss.peakKb, points };
}
