/**
 * Replayed events as NDJSON lines or CSV rows. Pure.
 *
 * Decoded Avro values hold bigints (every long: int8, µs timestamps, positions) and Buffers (bytea),
 * which JSON has no form for: a bigint is written as its exact decimal string (JSON numbers lose
 * precision past 2^53), a Buffer as Postgres' hex form `\x…`. Decimals arrive as exact text (see
 * avro-text.ts).
 */
import { stringify } from 'csv-stringify/sync';

export interface ReplayRecord {
  topic: string;
  partition: number;
  offset: string;
  /** The Kafka record timestamp, ISO-8601 UTC. */
  timestamp: string;
  /** The registry schema id the value was written with; null for JSON and empty values. */
  schemaId: number | null;
  key: unknown;
  value: unknown;
}

export type ReplayFormat = 'ndjson' | 'csv';
export const REPLAY_FORMATS: readonly ReplayFormat[] = ['ndjson', 'csv'];

// JSON.stringify hands a replacer what toJSON() returned, so the Buffer is read from the holder
function replacer(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (Buffer.isBuffer(raw)) return `\\x${raw.toString('hex')}`;
  return typeof value === 'bigint' ? value.toString() : value;
}

/** JSON text of a decoded value, bigints and Buffers included. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, replacer) ?? 'null';
}

export function ndjsonLine(record: ReplayRecord): string {
  return `${jsonText(record)}\n`;
}

export const CSV_COLUMNS = ['topic', 'partition', 'offset', 'timestamp', 'schema_id', 'op', 'key', 'value'];

/** The CSV header line. */
export function csvHeader(): string {
  return stringify([CSV_COLUMNS]);
}

/** CSV rows: the record's fields, the change envelope's `op` if the value is one, key and value as JSON. */
export function csvRows(records: readonly ReplayRecord[]): string {
  return stringify(
    records.map((r) => [
      r.topic,
      r.partition,
      r.offset,
      r.timestamp,
      r.schemaId ?? '',
      opOf(r.value),
      r.key === null ? '' : jsonText(r.key),
      r.value === null ? '' : jsonText(r.value),
    ]),
  );
}

function opOf(value: unknown): string {
  const op = (value as { op?: unknown } | null)?.op;
  return typeof op === 'string' ? op : '';
}

/** One batch of records in `format` (CSV without its header). */
export function render(format: ReplayFormat, records: readonly ReplayRecord[]): string {
  return format === 'csv' ? csvRows(records) : records.map(ndjsonLine).join('');
}
