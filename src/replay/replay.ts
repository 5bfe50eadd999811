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
import { type Bound, checkOrder, matchTopics, type PartitionFacts, resolveTopic } from './bounds.js';
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
        const first = checkFirst.get(`${topic}/${partition}`);
        if (first !== undefined) {
          checkFirst.delete(`${topic}/${partition}`);
          checkRetention(topic, partition, messages[0] as KafkaMessage, first);
        }
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
    const checkFirst = new Map<string, number>();
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
      for (const { partition, fromMs } of resolved.checkFirst)
        checkFirst.set(`${topic}/${partition}`, fromMs);
    }
    return { topics, ranges, checkFirst };
  } finally {
    await admin.disconnect();
  }
}

/** The range starts at the earliest available event: fails if retention deleted the ones before it. */
function checkRetention(topic: string, partition: number, first: KafkaMessage, fromMs: number): void {
  const at = Number(first.timestamp);
  if (at > fromMs) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `--from: ${new Date(fromMs).toISOString()} is before the retention of ${topic} partition ${partition}: ` +
        `its earliest available event (offset ${first.offset}) is from ${new Date(at).toISOString()}, ` +
        'earlier ones were deleted; use a later --from, or --from earliest for what is left',
      { field: '--from' },
    );
  }
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
