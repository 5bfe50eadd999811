/**
 * The bounds of a replay, from the command line to offsets per partition. Pure: the caller asks
 * Kafka for each partition's low and high watermarks and for the offsets the time bounds point at,
 * and hands them in.
 *
 * - `--from` is inclusive: an ISO time (the first event at or after it), an offset (in every
 *   partition), offsets per partition (`0:42,1:17`, other partitions are not replayed) or `earliest`.
 * - `--to` is inclusive: an ISO time (the last event at or before it), an offset, offsets per
 *   partition, or `now` (the end each partition has when the replay starts).
 * Bad bounds are CONFIG_INVALID naming the option and what to give instead.
 */
import { DsrCdcError } from '../errors.js';
import type { PartitionRange } from '../kafka/read-range.js';

export type Bound =
  | { kind: 'time'; ms: number; text: string }
  | { kind: 'offset'; offset: bigint }
  | { kind: 'offsets'; offsets: ReadonlyMap<number, bigint> }
  | { kind: 'earliest' }
  | { kind: 'now' };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;
const OFFSET = /^(?:0|[1-9]\d*)$/;
const PARTITION_OFFSET = /^(0|[1-9]\d*):(0|[1-9]\d*)$/;

function invalid(option: string, expected: string): DsrCdcError {
  return new DsrCdcError('CONFIG_INVALID', `${option}: ${expected}`, { field: option });
}

export function parseBound(text: string, option: '--from' | '--to'): Bound {
  const word = option === '--from' ? 'earliest' : 'now';
  const expected =
    `expected an ISO-8601 time with a time zone (2026-01-31T12:00:00Z), an offset (42), ` +
    `offsets per partition (0:42,1:17) or ${word}`;
  const trimmed = text.trim();
  if (trimmed === word) return option === '--from' ? { kind: 'earliest' } : { kind: 'now' };
  if (OFFSET.test(trimmed)) return { kind: 'offset', offset: BigInt(trimmed) };
  if (ISO_TIME.test(trimmed)) {
    const ms = Date.parse(trimmed);
    if (Number.isNaN(ms) || !isCalendarDate(trimmed.slice(0, 10)))
      throw invalid(option, `${trimmed} is not a valid time; ${expected}`);
    return { kind: 'time', ms, text: new Date(ms).toISOString() };
  }
  if (trimmed.includes(':') && trimmed.split(',').every((part) => PARTITION_OFFSET.test(part.trim()))) {
    const offsets = new Map<number, bigint>();
    for (const part of trimmed.split(',')) {
      const [partition, offset] = part.trim().split(':') as [string, string];
      if (offsets.has(Number(partition))) throw invalid(option, `partition ${partition} is given twice`);
      offsets.set(Number(partition), BigInt(offset));
    }
    return { kind: 'offsets', offsets };
  }
  throw invalid(option, expected);
}

/** Date.parse rolls 2026-02-30 over into March: the day must exist in its month. */
function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

function describe(bound: Bound): string {
  switch (bound.kind) {
    case 'time':
      return bound.text;
    case 'offset':
      return `offset ${bound.offset}`;
    case 'offsets':
      return [...bound.offsets].map(([p, o]) => `${p}:${o}`).join(',');
    default:
      return bound.kind;
  }
}

/** Throws when `to` is before `from` where that shows without Kafka (both times, both offsets). */
export function checkOrder(from: Bound, to: Bound): void {
  const before =
    (from.kind === 'time' && to.kind === 'time' && to.ms < from.ms) ||
    (from.kind === 'offset' && to.kind === 'offset' && to.offset < from.offset) ||
    (from.kind === 'offsets' &&
      to.kind === 'offsets' &&
      [...from.offsets].some(([p, o]) => (to.offsets.get(p) ?? o) < o));
  if (before) {
    throw invalid(
      '--to',
      `${describe(to)} is before --from ${describe(from)}; give an end at or after the start`,
    );
  }
}

/** What Kafka says about one partition: its watermarks and the offsets the time bounds point at. */
export interface PartitionFacts {
  partition: number;
  /** Earliest available offset (retention deleted everything before it). */
  low: bigint;
  /** The offset the next event will get. */
  high: bigint;
  /** `--from` time: the first offset whose timestamp is at or after it (`high` when none is). */
  fromTimeOffset?: bigint;
  /** `--to` time: the first offset whose timestamp is after it (`high` when none is). */
  toTimeOffset?: bigint;
}

/**
 * A partition whose range, for a `--from` time, starts at its earliest available offset although
 * events before it were deleted (`low` > 0): retention may have deleted part of the range. Checked
 * against the earliest retained event before anything is read (see checkRetention), whether the
 * range is empty or not.
 */
export interface RetentionCheck {
  topic: string;
  partition: number;
  fromMs: number;
  low: bigint;
  high: bigint;
}

export interface ResolvedTopic {
  partitions: PartitionRange[];
  checkFirst: RetentionCheck[];
}

/** The range of every partition of `topic`; throws when a bound cannot be served. */
export function resolveTopic(
  topic: string,
  facts: readonly PartitionFacts[],
  from: Bound,
  to: Bound,
): ResolvedTopic {
  const partitions: PartitionRange[] = [];
  const checkFirst: ResolvedTopic['checkFirst'] = [];
  for (const fact of facts) {
    const { partition, low, high } = fact;
    if (from.kind === 'offsets' && !from.offsets.has(partition)) continue;
    if (to.kind === 'offsets' && !to.offsets.has(partition)) continue;
    const start = startOf(topic, fact, from);
    if (from.kind === 'time' && start === low && low > 0n)
      checkFirst.push({ topic, partition, fromMs: from.ms, low, high });
    let end =
      to.kind === 'time' ? (fact.toTimeOffset ?? high) : isOffsets(to) ? offsetOf(to, partition) + 1n : high;
    if (end > high) end = high;
    if (end < start) {
      throw invalid(
        '--to',
        `${describe(to)} ends before --from ${describe(from)} starts in ${topic} partition ${partition} ` +
          `(offsets ${start} to ${end - 1n}); give an end at or after the start`,
      );
    }
    partitions.push({ partition, start, end });
  }
  for (const [option, bound] of [
    ['--from', from],
    ['--to', to],
  ] as const) {
    if (bound.kind !== 'offsets') continue;
    const missing = [...bound.offsets.keys()].filter((p) => !facts.some((f) => f.partition === p));
    if (missing.length > 0) {
      throw invalid(option, `${topic} has no partition ${missing.join(', ')} (it has ${facts.length})`);
    }
  }
  return { partitions, checkFirst };
}

/**
 * Throws when retention deleted events a `--from` time asks for: the earliest retained event of
 * the partition (offset `low`, absent when retention deleted them all) is later than the time, or
 * there is none to show that the deleted ones were all earlier. A time before retention is an
 * error even when the range left is empty (`--to` before the retained events too): an empty
 * answer would claim that nothing happened.
 */
export function checkRetention(
  { topic, partition, fromMs, low, high }: RetentionCheck,
  earliest: { offset: bigint; ms: number } | undefined,
): void {
  const from = new Date(fromMs).toISOString();
  if (earliest === undefined) {
    throw invalid(
      '--from',
      `${from} may be before the retention of ${topic} partition ${partition}: retention deleted ` +
        `its events before offset ${low}, and ${high > low ? `offset ${low} holds no event` : 'none is left'} ` +
        'to show they were all earlier; use --from earliest for what is left',
    );
  }
  if (earliest.ms > fromMs) {
    throw invalid(
      '--from',
      `${from} is before the retention of ${topic} partition ${partition}: its earliest available ` +
        `event (offset ${earliest.offset}) is from ${new Date(earliest.ms).toISOString()}, earlier ones ` +
        'were deleted; use a later --from, or --from earliest for what is left',
    );
  }
}

/**
 * The topics `pattern` names: an exact name, or a pattern where `*` stands for any characters
 * (`cdc.app.public.*`). Kafka's internal topics (`__…`) are never matched by a pattern.
 */
export function matchTopics(pattern: string, topics: readonly string[]): string[] {
  if (!pattern.includes('*')) {
    if (!topics.includes(pattern)) {
      throw invalid(
        '--topic',
        `topic ${pattern} does not exist; list topics or use a pattern such as cdc.<source>.*`,
      );
    }
    return [pattern];
  }
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
  const matched = topics.filter((t) => !t.startsWith('__') && regex.test(t)).sort();
  if (matched.length === 0) throw invalid('--topic', `no topic matches the pattern ${pattern}`);
  return matched;
}

function startOf(
  topic: string,
  { partition, low, high, fromTimeOffset }: PartitionFacts,
  from: Bound,
): bigint {
  if (from.kind === 'time') return fromTimeOffset ?? high;
  if (!isOffsets(from)) return low;
  const offset = offsetOf(from, partition);
  if (offset < low) {
    throw invalid(
      '--from',
      `offset ${offset} of ${topic} partition ${partition} was deleted by retention; its earliest ` +
        `available offset is ${low} (use --from ${low} or --from earliest)`,
    );
  }
  return offset < high ? offset : high;
}

type OffsetBound = Extract<Bound, { kind: 'offset' | 'offsets' }>;

function isOffsets(bound: Bound): bound is OffsetBound {
  return bound.kind === 'offset' || bound.kind === 'offsets';
}

/** The offset an offset bound gives `partition` (one listed in it). */
function offsetOf(bound: OffsetBound, partition: number): bigint {
  return bound.kind === 'offset' ? bound.offset : (bound.offsets.get(partition) as bigint);
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
