/**
 * Replay: read a range of one or more topics, decode every event through the schema registry (each
 * event names its schema id, so a range spanning several contract versions decodes whole), and
 * write them in per-partition order with their topic, partition, offset and timestamp.
 *
 * The range is fixed before the first read (see bounds.ts) and the read stops at its end, so events
 * produced meanwhile are not included. Memory does not grow with the range: each fetched batch is
 * decoded, written and awaited before its partition is fetched again (see readRange).
 *
 * A value in the registry's wire format is decoded with its schema; other values must be JSON (the
 * dsr.* topics), other keys are read as text. Anything else is corrupt: the replay fails naming its
 * offset, or with `skipCorrupt` reports it and goes on.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { DsrCdcError, isDsrCdcError } from '../errors.js';
import { decodeWire } from '../events/registry.js';
import { type ReadRangeOptions, readRange, type TopicRange } from '../kafka/read-range.js';
import {
  type Bound,
  checkOrder,
  checkRetention,
  matchTopics,
  type PartitionFacts,
  type RetentionCheck,
  resolveTopic,
} from './bounds.js';
import type { Progress } from './progress.js';
import { csvHeader, type ReplayFormat, type ReplayRecord, render } from './render.js';
import type { LocationFilter } from './subject.js';

export interface ReplayOptions {
  /** A topic name, or a pattern with `*`. */
  topic: string;
  from: Bound;
  to: Bound;
  format: ReplayFormat;
  skipCorrupt: boolean;
  /** Keep only the events of these locations (a data subject's rows). */
  filter?: LocationFilter;
  read?: ReadRangeOptions;
}

export interface ReplayDeps {
  kafka: Kafka;
  /** Decodes values for output (readableAvroTypeOptions). */
  registry: SchemaRegistry;
  /** Decodes keys as discovery does, for `filter` (avroTypeOptions). */
  keyRegistry?: SchemaRegistry;
  /** Awaited before the next batch is read: backpressure from the output. */
  write: (text: string) => Promise<void> | void;
  progress: Progress;
  /** One line about a skipped corrupt event (no values: they may be personal data). */
  warn: (line: string) => void;
}

export interface ReplaySummary {
  topics: string[];
  /** Events in the range. */
  total: number;
  read: number;
  written: number;
  skipped: number;
}

export async function replay(deps: ReplayDeps, options: ReplayOptions): Promise<ReplaySummary> {
  checkOrder(options.from, options.to);
  const { topics, ranges, checkFirst } = await resolveRanges(deps.kafka, options);
  await checkRetentions(deps.kafka, checkFirst, options.read);
  const total = ranges.reduce(
    (sum, r) => sum + r.partitions.reduce((n, p) => n + Number(p.end - p.start), 0),
    0,
  );
  const summary: ReplaySummary = { topics, total, read: 0, written: 0, skipped: 0 };
  if (options.format === 'csv') await deps.write(csvHeader());
  deps.progress.start(total);
  try {
    await readRange(
      deps.kafka,
      ranges,
      async (topic, partition, messages) => {
        const records: ReplayRecord[] = [];
        for (const message of messages) {
          const record = await decodeRecord(deps, options, topic, partition, message, summary);
          if (record) records.push(record);
        }
        summary.read += messages.length;
        summary.written += records.length;
        if (records.length > 0) await deps.write(render(options.format, records));
        deps.progress.update(summary.read);
      },
      options.read,
    );
  } finally {
    deps.progress.stop();
  }
  return summary;
}

async function resolveRanges(kafka: Kafka, options: ReplayOptions) {
  const { from, to } = options;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const topics = matchTopics(options.topic, await admin.listTopics());
    const ranges: TopicRange[] = [];
    const checkFirst: RetentionCheck[] = [];
    for (const topic of topics) {
      const watermarks = await admin.fetchTopicOffsets(topic);
      const fromTime = from.kind === 'time' ? await admin.fetchTopicOffsetsByTimestamp(topic, from.ms) : [];
      // the first offset after the (inclusive) end time
      const toTime = to.kind === 'time' ? await admin.fetchTopicOffsetsByTimestamp(topic, to.ms + 1) : [];
      const facts: PartitionFacts[] = watermarks.map(({ partition, low, high }) => {
        const fromOffset = fromTime.find((o) => o.partition === partition)?.offset;
        const toOffset = toTime.find((o) => o.partition === partition)?.offset;
        return {
          partition,
          low: BigInt(low),
          high: BigInt(high),
          ...(fromOffset === undefined ? {} : { fromTimeOffset: BigInt(fromOffset) }),
          ...(toOffset === undefined ? {} : { toTimeOffset: BigInt(toOffset) }),
        };
      });
      const resolved = resolveTopic(topic, facts, from, to);
      ranges.push({ topic, partitions: resolved.partitions });
      checkFirst.push(...resolved.checkFirst);
    }
    return { topics, ranges, checkFirst };
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads the earliest retained event of each partition to check (one offset each, in one read) and
 * throws when retention deleted events the range asks for (see checkRetention). Before anything
 * is written, and whether the range left is empty or not.
 */
async function checkRetentions(
  kafka: Kafka,
  checks: readonly RetentionCheck[],
  read: ReadRangeOptions | undefined,
): Promise<void> {
  const earliest = new Map<string, { offset: bigint; ms: number }>();
  const ranges: TopicRange[] = [...new Set(checks.map((c) => c.topic))].map((topic) => ({
    topic,
    partitions: checks
      .filter((c) => c.topic === topic)
      .map(({ partition, low, high }) => ({ partition, start: low, end: high > low ? low + 1n : low })),
  }));
  await readRange(
    kafka,
    ranges,
    (topic, partition, [first]) => {
      if (first !== undefined) {
        earliest.set(`${topic}/${partition}`, { offset: BigInt(first.offset), ms: Number(first.timestamp) });
      }
    },
    read,
  );
  for (const check of checks) checkRetention(check, earliest.get(`${check.topic}/${check.partition}`));
}

async function decodeRecord(
  deps: ReplayDeps,
  options: ReplayOptions,
  topic: string,
  partition: number,
  message: KafkaMessage,
  summary: ReplaySummary,
): Promise<ReplayRecord | null> {
  let decoded: { key: unknown; value: unknown; schemaId: number | null };
  try {
    const value =
      message.value === null ? { value: null, schemaId: null } : await decodeValue(deps, message.value);
    if (options.filter && !options.filter.concernsTable(value.value)) return null;
    decoded = { key: await decodeKey(deps.registry, message.key), ...value };
    if (options.filter) {
      const key = deps.keyRegistry ? await decodeKey(deps.keyRegistry, message.key) : decoded.key;
      if (!options.filter.keeps(key as Record<string, unknown> | null, value.value)) return null;
    }
  } catch (error) {
    if (!isDsrCdcError(error) || error.code !== 'EVENT_INVALID') throw error;
    const where = `${topic} partition ${partition} offset ${message.offset}`;
    if (!options.skipCorrupt) {
      throw new DsrCdcError(
        'EVENT_INVALID',
        `corrupt event at ${where}: ${error.message}; rerun with --skip-corrupt to skip such events`,
        { cause: error },
      );
    }
    summary.skipped += 1;
    deps.warn(`skipped corrupt event at ${where}: ${error.message}`);
    return null;
  }
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: new Date(Number(message.timestamp)).toISOString(),
    ...decoded,
  };
}

async function decodeValue(
  deps: ReplayDeps,
  bytes: Buffer,
): Promise<{ value: unknown; schemaId: number | null }> {
  if (bytes[0] === 0) return decodeWire(deps.registry, bytes);
  try {
    return { value: JSON.parse(bytes.toString('utf8')), schemaId: null };
  } catch {
    throw new DsrCdcError('EVENT_INVALID', 'neither in the schema registry wire format nor JSON');
  }
}

async function decodeKey(registry: SchemaRegistry, bytes: Buffer | null): Promise<unknown> {
  if (bytes === null) return null;
  return bytes[0] === 0 ? (await decodeWire(registry, bytes)).value : bytes.toString('utf8');
}
