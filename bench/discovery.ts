/**
 * Benchmark of PII discovery and DSR answers on the local stack (prints numbers, asserts nothing):
 *
 *   1  discovery throughput, one process, detectors on: E synthetic change envelopes of a
 *      `people` table (email, phone, name, a free-text note holding an email in 10% of rows) are
 *      encoded with the registry (ContractCatalog) into a scratch `cdc.bench_<rand>.public.people`
 *      topic (6 partitions), then one Discovery reads it; timed until its group's committed
 *      offsets reach the topic's end.
 *   2  index memory: a SubjectIndex (inside an IndexView, as an answering process holds it) is
 *      filled in-process with N index entries, each as discovery derives it (discover()) and as
 *      the view receives it (a JSON copy per record); heap used after a full GC, before and after.
 *   3  DSR answer latency: an Answerer over that index; M access requests, one at a time, by the
 *      email of an indexed row; request produced → result consumed.
 *
 *   npx tsx bench/discovery.ts [--locations N] [--requests M] [--events E]
 *
 * The script re-runs itself under `node --expose-gc` (needed for the heap figures). Every topic,
 * consumer group and registry subject it creates is removed at the end.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  type Admin,
  type Consumer,
  type Kafka,
  Kafka as KafkaClient,
  logLevel,
  type Producer,
} from 'kafkajs';
import { loadConnections } from '../src/config/connections.js';
import { Answerer } from '../src/consumers/pii-discovery/answerer.js';
import { parseClassification } from '../src/consumers/pii-discovery/classification.js';
import { type DiscoveryContext, discover } from '../src/consumers/pii-discovery/discover.js';
import { Discovery } from '../src/consumers/pii-discovery/discovery.js';
import { IndexView } from '../src/consumers/pii-discovery/index-view.js';
import { ContractCatalog, type TableEncoder } from '../src/events/contracts.js';
import type { ChangeEnvelope } from '../src/events/envelope.js';
import { avroTypeOptions, type PgType } from '../src/events/pg-types.js';
import { ensureTopics, loadTopicFamilies } from '../src/kafka/topics.js';
import { createLogger } from '../src/observability/logger.js';
import type { Relation } from '../src/sources/postgres/pgoutput.js';
import { fixed, int, percentile, table } from './lib/stats.js';

const USAGE = `usage: npx tsx bench/discovery.ts [options]

  --locations N   index entries (token, row) loaded for the memory and latency measurements (default 1000000)
  --requests M    DSR requests answered one at a time for the latency measurement (default 200)
  --events E      change events discovery reads for the throughput measurement (default 200000)
`;

const WARMUP_REQUESTS = 10;
const REGION = 'US';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  // the heap figures need a full GC on demand; the index of a few million entries needs room
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', script, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(result.status ?? 1);
}

interface Options {
  locations: number;
  requests: number;
  events: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      locations: { type: 'string', default: '1000000' },
      requests: { type: 'string', default: '200' },
      events: { type: 'string', default: '200000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 1)
      throw new Error(`--${name} must be a positive integer, got '${text}'`);
    return n;
  };
  return {
    locations: positive('locations', values.locations),
    requests: positive('requests', values.requests),
    events: positive('events', values.events),
  };
}

const uniqueName = (prefix: string) => `${prefix}_${randomBytes(4).toString('hex')}`;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// ---------------------------------------------------------------------------------------------
// Synthetic people rows: realistic values, deterministic per row number.

const FIRST = ['maria', 'james', 'wei', 'fatima', 'olga', 'kwame', 'lucia', 'arjun', 'sofia', 'liam'];
const LAST = ['garcia', 'smith', 'chen', 'khan', 'ivanova', 'mensah', 'rossi', 'patel', 'novak', 'murphy'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net'];
const AREAS = [212, 415, 312, 617, 206, 303, 512, 646];
const NOTES = [
  'Called about invoice 2024-%; prefers contact after 5pm.',
  'Upgraded to the annual plan, order #A-%-77, shipped 2024-03-02.',
  'Asked for a callback regarding ticket %. No further action.',
  'Address change requested; verified with security question.',
];

interface Person {
  id: number;
  email: string;
  phone: string;
  fullName: string;
  note: string;
}

function person(id: number): Person {
  const first = FIRST[id % FIRST.length] as string;
  const last = LAST[Math.floor(id / FIRST.length) % LAST.length] as string;
  const domain = DOMAINS[id % DOMAINS.length] as string;
  // one phone number per id (up to 64 million): area, then exchange, then line number
  const area = AREAS[id % AREAS.length] as number;
  const rest = Math.floor(id / AREAS.length);
  const exchange = 200 + (rest % 800);
  const line = String(Math.floor(rest / 800) % 10_000).padStart(4, '0');
  let note = (NOTES[id % NOTES.length] as string).replace('%', String(id));
  // one row in ten mentions a (different) email address in its free text
  if (id % 10 === 3) note += ` Forward replies to ${first[0]}.${last}.alt${id}@${domain}.`;
  return {
    id,
    email: `${first}.${last}${id}@${domain}`,
    phone: `+1 ${area}-${exchange}-${line}`,
    fullName: `${first[0]?.toUpperCase()}${first.slice(1)} ${last[0]?.toUpperCase()}${last.slice(1)}`,
    note,
  };
}

const TYPES = new Map<number, PgType>([
  [20, { oid: 20, name: 'int8', kind: 'base' }],
  [25, { oid: 25, name: 'text', kind: 'base' }],
  [1184, { oid: 1184, name: 'timestamptz', kind: 'base' }],
]);

const PEOPLE: Relation = {
  oid: 910_001,
  schema: 'public',
  name: 'people',
  replicaIdentity: 'default',
  columns: [
    { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
    { name: 'email', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'phone', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'full_name', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'note', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'created_at', typeOid: 1184, typeMod: -1, isKey: false },
  ],
};

const CREATED_AT = '2024-05-17 09:31:12.123456+00';

function rowText(p: Person): string[] {
  return [String(p.id), p.email, p.phone, p.fullName, p.note, CREATED_AT];
}

// ---------------------------------------------------------------------------------------------

interface Scratch {
  kafka: Kafka;
  clientId: string;
  admin: Admin;
  registry: SchemaRegistry;
  source: string;
  topics: Set<string>;
  groups: Set<string>;
  subjects: Set<string>;
}

async function createTopic(scratch: Scratch, topic: string, partitions: number, compact = false) {
  await scratch.admin.createTopics({
    waitForLeaders: true,
    topics: [
      {
        topic,
        numPartitions: partitions,
        configEntries: compact
          ? [
              { name: 'cleanup.policy', value: 'compact' },
              { name: 'min.compaction.lag.ms', value: '0' },
            ]
          : [],
      },
    ],
  });
  scratch.topics.add(topic);
}

/** Sum of committed offsets of `groupId` on `topic`, and of the topic's ends. */
async function progress(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<{ done: number; end: number }> {
  const [committed, ends] = await Promise.all([
    admin.fetchOffsets({ groupId, topics: [topic] }),
    admin.fetchTopicOffsets(topic),
  ]);
  const done = (committed[0]?.partitions ?? []).reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);
  return { done, end: ends.reduce((n, e) => n + Number(e.high), 0) };
}

/** The `dsr-cdc.index-view.*` groups whose members are this process's client (views hide theirs). */
async function ownViewGroups(scratch: Scratch): Promise<string[]> {
  const { groups } = await scratch.admin.listGroups();
  const candidates = groups.map((g) => g.groupId).filter((g) => g.startsWith('dsr-cdc.index-view.'));
  if (candidates.length === 0) return [];
  const { groups: described } = await scratch.admin.describeGroups(candidates);
  return described
    .filter((g) => g.members.some((m) => m.clientId === scratch.clientId))
    .map((g) => g.groupId);
}

interface ThroughputResult {
  events: number;
  produceSeconds: number;
  indexRecords: number;
  totalSeconds: number;
  firstCommitSeconds: number;
  steadyEvents: number;
  steadySeconds: number;
  discoveryGroup: string;
}

async function measureThroughput(
  scratch: Scratch,
  options: Options,
  context: DiscoveryContext,
): Promise<ThroughputResult> {
  const contracts = new ContractCatalog({
    registry: scratch.registry,
    types: async () => TYPES,
    families: loadTopicFamilies(),
    source: { connector: 'postgres', name: scratch.source, db: 'bench' },
  });
  const encoder: TableEncoder = await contracts.forRelation(PEOPLE);
  const topic = encoder.topic.name;
  scratch.subjects.add(`${topic}-key`);
  scratch.subjects.add(`${topic}-value`);
  await ensureTopics(scratch.admin, [encoder.topic]);
  scratch.topics.add(topic);

  const producer = scratch.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const produceStart = performance.now();
  const CHUNK = 2_000;
  let lsn = 0x1_0000_0000n;
  for (let from = 1; from <= options.events; from += CHUNK) {
    const messages: { key: Buffer | null; value: Buffer }[] = [];
    for (let id = from; id < Math.min(from + CHUNK, options.events + 1); id++) {
      lsn += 200n;
      messages.push(
        encoder.encode({
          op: 'c',
          before: null,
          after: rowText(person(id)),
          lsn,
          commitLsn: lsn,
          txId: BigInt(1_000 + id),
          commitTs: 1_715_938_272_000_000n + BigInt(id),
          seq: 0n,
          snapshot: false,
        }),
      );
    }
    await producer.sendBatch({ acks: -1, topicMessages: [{ topic, messages }] });
  }
  const produceSeconds = (performance.now() - produceStart) / 1000;
  await producer.disconnect();
  console.log(`  produced ${int(options.events)} events in ${fixed(produceSeconds)} s`);

  const indexTopic = `${scratch.source}.subject-index`;
  const dlqTopic = `${scratch.source}.dlq`;
  await createTopic(scratch, indexTopic, 6, true);
  await createTopic(scratch, dlqTopic, 1);
  const discoveryGroup = `${scratch.source}.pii-discovery`;
  scratch.groups.add(discoveryGroup);

  const out = scratch.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await out.connect();
  let indexRecords = 0;
  const counting: Producer = {
    ...out,
    sendBatch: async (batch) => {
      const metadata = await out.sendBatch(batch);
      for (const t of batch.topicMessages ?? [])
        if (t.topic === indexTopic) indexRecords += t.messages.length;
      return metadata;
    },
  };
  const view = new IndexView(scratch.kafka, indexTopic);
  await view.start();
  const discovery = new Discovery(
    scratch.kafka,
    scratch.registry,
    counting,
    view,
    context,
    {
      groupId: discoveryGroup,
      topics: new RegExp(`^cdc\\.${scratch.source}\\.`),
      indexTopic,
      dlqTopic,
    },
    createLogger({ level: 'warn', component: 'bench-discovery' }),
  );
  const start = performance.now();
  await discovery.start();
  let firstCommit: { at: number; done: number } | undefined;
  let last = { at: start, done: 0 };
  let lastMove = start;
  for (;;) {
    const { done, end } = await progress(scratch.admin, discoveryGroup, topic);
    const now = performance.now();
    if (done > 0 && firstCommit === undefined) firstCommit = { at: now, done };
    if (done !== last.done) lastMove = now;
    last = { at: now, done };
    if (done >= end) break;
    if (now - lastMove > 60_000) throw new Error(`discovery stalled at ${done} of ${end} events`);
    await sleep(50);
  }
  for (const group of await ownViewGroups(scratch)) scratch.groups.add(group);
  await discovery.stop();
  await view.stop();
  await out.disconnect();
  const first = firstCommit ?? last;
  return {
    events: options.events,
    produceSeconds,
    indexRecords,
    totalSeconds: (last.at - start) / 1000,
    firstCommitSeconds: (first.at - start) / 1000,
    steadyEvents: last.done - first.done,
    steadySeconds: (last.at - first.at) / 1000,
    discoveryGroup,
  };
}

interface MemoryResult {
  entries: number;
  rows: number;
  buildSeconds: number;
  heapBefore: number;
  heapAfter: number;
  rssBefore: number;
  rssAfter: number;
  /** The rows are people firstId … firstId + rows - 1. */
  firstId: number;
}

function fullGc(): void {
  for (let i = 0; i < 3; i++) gc?.();
}

/** Fills `view.index` with `entries` index entries of people rows, as discovery writes them. */
function measureMemory(view: IndexView, entries: number, context: DiscoveryContext): MemoryResult {
  fullGc();
  const heapBefore = process.memoryUsage().heapUsed;
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  let rows = 0;
  let held = 0; // index.size walks the whole index: counted here instead
  let lsn = 0x2_0000_0000n;
  // ids far above the throughput run's, so the two never share a row
  const firstId = 10_000_001;
  for (let id = firstId; held < entries; id++) {
    const p = person(id);
    lsn += 200n;
    const envelope: ChangeEnvelope = {
      op: 'c',
      before: null,
      after: {
        id: BigInt(id),
        email: p.email,
        phone: p.phone,
        full_name: p.fullName,
        note: p.note,
        created_at: 0n,
      },
      unchanged: [],
      source: {
        connector: 'postgres',
        name: 'bench',
        db: 'bench',
        schema: 'public',
        table: 'people',
        lsn,
        commitLsn: lsn,
        txId: BigInt(id),
        commitTs: 1_715_938_272_000_000n,
        snapshot: false,
        seq: 0n,
      },
      tsMs: 1_715_938_272_000n,
    };
    for (const record of discover(view.index, { key: { id: BigInt(id) }, envelope }, context)) {
      // what IndexView holds: one parsed copy per topic record
      view.index.apply({
        key: record.key,
        value: record.value ? JSON.parse(JSON.stringify(record.value)) : null,
      });
      if (record.value) held++;
    }
    rows++;
  }
  const buildSeconds = (performance.now() - started) / 1000;
  fullGc();
  return {
    entries: view.index.size,
    rows,
    buildSeconds,
    heapBefore,
    heapAfter: process.memoryUsage().heapUsed,
    rssBefore,
    rssAfter: process.memoryUsage().rss,
    firstId,
  };
}

interface LatencyResult {
  samples: number[];
  locations: number[];
  incomplete: number;
}

async function measureLatency(
  scratch: Scratch,
  options: Options,
  view: IndexView,
  people: { firstId: number; rows: number },
  discoveryGroup: string,
  pepper: Buffer,
): Promise<LatencyResult> {
  const topics = {
    requests: `${scratch.source}.requests`,
    results: `${scratch.source}.results`,
    audit: `${scratch.source}.audit`,
    dlq: `${scratch.source}.answer-dlq`,
  };
  await createTopic(scratch, topics.requests, 3);
  await createTopic(scratch, topics.results, 3);
  await createTopic(scratch, topics.audit, 3);
  await createTopic(scratch, topics.dlq, 1);
  const answerGroup = `${scratch.source}.answer`;
  const readerGroup = `${scratch.source}.results-reader`;
  scratch.groups.add(answerGroup);
  scratch.groups.add(readerGroup);

  const producer = scratch.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const answerer = new Answerer(
    scratch.kafka,
    producer,
    view,
    {
      groupId: answerGroup,
      discoveryGroupId: discoveryGroup,
      cdcTopics: new RegExp(`^cdc\\.${scratch.source}\\.`),
      requestsTopic: topics.requests,
      resultsTopic: topics.results,
      auditTopic: topics.audit,
      dlqTopic: topics.dlq,
      pepper,
      waitMs: 30_000,
      depth: 1,
      detect: { defaultRegion: REGION },
    },
    createLogger({ level: 'warn', component: 'bench-answerer' }),
  );
  await answerer.start();

  const waiting = new Map<string, (value: { locations: number; complete: boolean }) => void>();
  const reader: Consumer = scratch.kafka.consumer({ groupId: readerGroup, maxWaitTimeInMs: 100 });
  await reader.connect();
  await reader.subscribe({ topic: topics.results, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const key = message.key?.toString() ?? '';
      const result = JSON.parse(message.value?.toString() ?? '{}') as {
        locations?: unknown[];
        status?: string;
      };
      waiting.get(key)?.({
        locations: result.locations?.length ?? 0,
        complete: result.status === 'complete',
      });
      waiting.delete(key);
    },
  });

  const samples: number[] = [];
  const locations: number[] = [];
  let incomplete = 0;
  for (let i = 0; i < WARMUP_REQUESTS + options.requests; i++) {
    const requestId = `bench-${i}`;
    const { email } = person(people.firstId + ((i * 7_919) % people.rows));
    const answered = new Promise<{ locations: number; complete: boolean }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to ${requestId} within 60 s`)), 60_000);
      waiting.set(requestId, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
    const sent = performance.now();
    await producer.send({
      topic: topics.requests,
      acks: -1,
      messages: [
        {
          key: requestId,
          value: JSON.stringify({
            requestId,
            type: 'access',
            identifiers: [{ type: 'email', value: email }],
            submittedAt: new Date().toISOString(),
          }),
        },
      ],
    });
    const result = await answered;
    if (i < WARMUP_REQUESTS) continue;
    samples.push(performance.now() - sent);
    locations.push(result.locations);
    if (!result.complete) incomplete++;
  }
  await reader.disconnect();
  await answerer.stop();
  await producer.disconnect();
  return { samples, locations, incomplete };
}

async function cleanup(scratch: Scratch): Promise<string[]> {
  const problems: string[] = [];
  const existing = new Set(await scratch.admin.listTopics());
  const topics = [...scratch.topics].filter((t) => existing.has(t));
  if (topics.length > 0) {
    await scratch.admin.deleteTopics({ topics }).catch((e: Error) => problems.push(`topics: ${e.message}`));
  }
  // a group is deletable once its last member has left, which the broker may see late; a group
  // that never committed an offset is gone by itself once empty (GROUP_ID_NOT_FOUND, 69)
  let remaining = [...scratch.groups];
  for (let i = 0; remaining.length > 0; i++) {
    try {
      await scratch.admin.deleteGroups(remaining);
      break;
    } catch (error) {
      const failed = ((error as { groups?: { groupId: string; errorCode: number }[] }).groups ?? []).filter(
        (g) => g.errorCode !== 69,
      );
      remaining = failed.map((g) => g.groupId);
      if (remaining.length > 0 && i >= 10) {
        problems.push(`groups ${failed.map((g) => `${g.groupId} (error ${g.errorCode})`).join(', ')}`);
        break;
      }
      await sleep(500);
    }
  }
  const url = loadConnections().registry.url;
  for (const subject of scratch.subjects) {
    await fetch(`${url}/subjects/${subject}`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${url}/subjects/${subject}?permanent=true`, { method: 'DELETE' }).catch(() => undefined);
  }
  return problems;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const connections = loadConnections();
  const clientId = uniqueName('bench-discovery');
  const kafka = new KafkaClient({ clientId, brokers: connections.kafka.brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  try {
    await admin.connect();
  } catch (error) {
    throw new Error(
      `cannot reach Kafka at ${connections.kafka.brokers.join(',')} (${(error as Error).message}); is the stack up? run \`npm run stack -- up\``,
    );
  }
  const scratch: Scratch = {
    kafka,
    clientId,
    admin,
    registry: new SchemaRegistry(
      { host: connections.registry.url },
      { [SchemaType.AVRO]: avroTypeOptions() },
    ),
    source: uniqueName('bench'),
    topics: new Set(),
    groups: new Set(),
    subjects: new Set(),
  };
  const pepper = randomBytes(32);
  const context: DiscoveryContext = {
    pepper,
    classification: parseClassification({ columns: [] }),
    detect: { defaultRegion: REGION },
  };
  console.log(
    `discovery benchmark: ${int(options.events)} events, ${int(options.locations)} index entries, ${int(options.requests)} requests`,
  );
  try {
    console.log('\n1. discovery throughput (one process, detectors on)');
    const t = await measureThroughput(scratch, options, context);
    console.log(
      table([
        ['events', int(t.events)],
        [
          'index records written',
          `${int(t.indexRecords)} (${fixed(t.indexRecords / t.events, 2)} per event)`,
        ],
        ['start → all committed', `${fixed(t.totalSeconds)} s → ${int(t.events / t.totalSeconds)} events/s`],
        ['start → first commit', `${fixed(t.firstCommitSeconds, 2)} s (join, first fetch)`],
        [
          'first → last commit',
          `${int(t.steadyEvents)} events in ${fixed(t.steadySeconds)} s → ${int(t.steadyEvents / t.steadySeconds)} events/s`,
        ],
      ]),
    );

    console.log('\n2. index memory (SubjectIndex in an IndexView, filled in-process)');
    const emptyIndexTopic = `${scratch.source}.subject-index-loaded`;
    await createTopic(scratch, emptyIndexTopic, 6, true);
    // the view is never started: its index is the one filled here, its topic stays empty
    const view = new IndexView(kafka, emptyIndexTopic);
    const m = measureMemory(view, options.locations, context);
    const heap = m.heapAfter - m.heapBefore;
    const rss = m.rssAfter - m.rssBefore;
    console.log(
      table([
        [
          'index entries (token, row)',
          `${int(m.entries)} (of ${int(m.rows)} rows, ${fixed(m.entries / m.rows, 2)} per row)`,
        ],
        ['built in', `${fixed(m.buildSeconds)} s (detect + tokenise + apply)`],
        ['heap used, after full GC', `${mib(m.heapBefore)} → ${mib(m.heapAfter)}: +${mib(heap)}`],
        ['per million entries (heap)', mib((heap / m.entries) * 1e6)],
        ['per million rows (heap)', mib((heap / m.rows) * 1e6)],
        ['bytes per entry (heap)', int(heap / m.entries)],
        ['RSS', `${mib(m.rssBefore)} → ${mib(m.rssAfter)}: +${mib(rss)}`],
      ]),
    );

    console.log(`\n3. DSR answer latency (Answerer over the ${int(m.entries)}-entry index, sequential)`);
    const l = await measureLatency(scratch, options, view, m, t.discoveryGroup, pepper);
    const sorted = [...l.samples].sort((a, b) => a - b);
    console.log(
      table([
        ['requests', `${int(l.samples.length)} (after ${WARMUP_REQUESTS} warm-up)`],
        ['p50', `${fixed(percentile(sorted, 50))} ms`],
        ['p90', `${fixed(percentile(sorted, 90))} ms`],
        ['p99', `${fixed(percentile(sorted, 99))} ms`],
        ['max', `${fixed(sorted.at(-1) ?? Number.NaN)} ms`],
        ['locations per answer', `${Math.min(...l.locations)}–${Math.max(...l.locations)}`],
        ['incomplete answers', int(l.incomplete)],
      ]),
    );
  } finally {
    const problems = await cleanup(scratch);
    await admin.disconnect().catch(() => undefined);
    if (problems.length > 0) console.error(`cleanup problems:\n  ${problems.join('\n  ')}`);
  }
}

try {
  await main();
} catch (error) {
  console.error(`error: ${(error as Error).message}`);
  process.exitCode = 2;
}
