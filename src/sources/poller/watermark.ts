/**
 * Keyset watermarks of the pollers (pure).
 *
 * A watermark is the position (cursor, key…) of the last row a poller has durably published. The
 * next page is every row strictly after it in (cursor, key) order, up to the poll's upper bound:
 * equal cursors are told apart by the key, so a burst of rows with one timestamp larger than a page
 * is read across pages without loss or repeat. Values are kept as the source's own text form, which
 * the database compares back in the column's type.
 *
 * The upper bound (the horizon) keeps a poll from passing rows that may still appear below it: a
 * transaction that committed late with an earlier cursor. It comes from samples: each poll records
 * what bound it saw and when that bound becomes safe (see `releaseHorizon`).
 */
import { DsrCdcError } from '../../errors.js';

export interface Watermark {
  /** The cursor value, as text. */
  cursor: string;
  /** The key values of the row (without the cursor column in incrementing mode), as text. */
  key: string[];
}

export type Dialect = 'postgres' | 'mysql';

export interface PageQuerySpec {
  dialect: Dialect;
  schema: string;
  table: string;
  /** Columns to select, in order. */
  columns: readonly string[];
  cursor: string;
  /** Key columns that order rows with equal cursors (the cursor column left out). */
  key: readonly string[];
  /** Rows after this position; every row when null. */
  after: Watermark | null;
  /** Rows below this cursor (or at it, when inclusive); no bound when null. */
  upper: { value: string; inclusive: boolean } | null;
  limit: number;
}

/** `schema.table` (as the config names a table) → [schema, table]. */
export function splitTable(qualified: string): [string, string] {
  const dot = qualified.indexOf('.');
  return [qualified.slice(0, dot), qualified.slice(dot + 1)];
}

export function quoteIdent(dialect: Dialect, name: string): string {
  return dialect === 'postgres' ? `"${name.replace(/"/g, '""')}"` : `\`${name.replace(/`/g, '``')}\``;
}

/**
 * One page of rows after the watermark in (cursor, key) order. Postgres compares the row value
 * `(cursor, k1, …) > ($1, $2, …)`, which an index on (cursor, key) serves; MySQL/MariaDB get the
 * expanded form `c > ? OR (c = ? AND (k1 > ? OR …))`, which their optimizers turn into a range.
 */
export function buildPageQuery(spec: PageQuerySpec): { sql: string; params: string[] } {
  const q = (name: string) => quoteIdent(spec.dialect, name);
  const params: string[] = [];
  const param = (value: string) => {
    params.push(value);
    return spec.dialect === 'postgres' ? `$${params.length}` : '?';
  };
  const order = [spec.cursor, ...spec.key];
  const where: string[] = [];
  if (spec.after) {
    const values = [spec.after.cursor, ...spec.after.key];
    if (values.length !== order.length) {
      throw new DsrCdcError(
        'INTERNAL',
        `watermark of ${spec.schema}.${spec.table} has ${values.length} values for ${order.length} columns`,
      );
    }
    if (spec.dialect === 'postgres') {
      where.push(`(${order.map(q).join(', ')}) > (${values.map(param).join(', ')})`);
    } else {
      where.push(expandedAfter(order.map(q), values, param));
    }
  }
  if (spec.upper)
    where.push(`${q(spec.cursor)} ${spec.upper.inclusive ? '<=' : '<'} ${param(spec.upper.value)}`);
  const sql =
    `SELECT ${spec.columns.map(q).join(', ')} FROM ${q(spec.schema)}.${q(spec.table)}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${order.map(q).join(', ')} LIMIT ${Math.trunc(spec.limit)}`;
  return { sql, params };
}

/** `a > x OR (a = x AND (b > y OR (b = y AND c > z)))` */
function expandedAfter(columns: string[], values: string[], param: (value: string) => string): string {
  const [column, ...restColumns] = columns;
  const [value, ...restValues] = values;
  const greater = `${column} > ${param(value as string)}`;
  if (restColumns.length === 0) return greater;
  return `(${greater} OR (${column} = ${param(value as string)} AND ${expandedAfter(restColumns, restValues, param)}))`;
}

// ---------------------------------------------------------------------------------------------
// Horizon

/** A bound seen by one poll, and the condition (per source) under which it becomes safe to use. */
export interface HorizonSample {
  /** Postgres: the snapshot's xmax (next xid) as text; MySQL: the clock time in ms, as text. */
  guard: string;
  /** The cursor bound observed at that time (text), or null when the table was empty. */
  bound: string | null;
}

/**
 * The latest released bound and the samples still waiting. Samples are in the order they were
 * taken and their bounds never decrease, so the latest released one is the highest safe bound.
 */
export function releaseHorizon(
  samples: readonly HorizonSample[],
  released: (sample: HorizonSample) => boolean,
): { bound: HorizonSample | undefined; waiting: HorizonSample[] } {
  let last = -1;
  samples.forEach((sample, i) => {
    if (released(sample)) last = i;
  });
  return { bound: last >= 0 ? samples[last] : undefined, waiting: samples.slice(last + 1) };
}

// ---------------------------------------------------------------------------------------------
// Cursor values

/** The kind of cursor: a point in time (µs) or an integer. Anything else cannot order changes. */
export type CursorKind = 'timestamp' | 'integer';

const TIMESTAMP_TEXT =
  /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * The cursor as a bigint: µs since the Unix epoch for timestamps (text without an offset is read
 * as UTC), the integer itself otherwise. This is the envelope's `source.seq` for pollers: with
 * the key, the dedupe key of a row version. Throws EVENT_INVALID naming the column, not the value.
 */
export function cursorOrdinal(kind: CursorKind, text: string, column: string): bigint {
  if (kind === 'integer') {
    if (!/^-?\d+$/.test(text)) throw badCursor(column, 'an integer');
    return BigInt(text);
  }
  const m = TIMESTAMP_TEXT.exec(text.trim());
  if (!m) throw badCursor(column, 'a timestamp');
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = m;
  const date = new Date(0);
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d)); // Date.UTC would read years 0–99 as 19xx
  const days = BigInt(Math.floor(date.getTime() / 86_400_000));
  let micros =
    days * 86_400_000_000n +
    BigInt((Number(h) * 3600 + Number(mi) * 60 + Number(s)) * 1_000_000) +
    BigInt(fraction.padEnd(6, '0').slice(0, 6));
  if (zone && zone.toUpperCase() !== 'Z') {
    const [, sign, oh, om = '0'] = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone) ?? [];
    const offset = BigInt((Number(oh) * 60 + Number(om)) * 60_000_000);
    micros += sign === '-' ? offset : -offset;
  }
  return micros;
}

function badCursor(column: string, expected: string): DsrCdcError {
  return new DsrCdcError('EVENT_INVALID', `cursor "${column}": expected ${expected}`, { field: column });
}

/** Compares two positions in (cursor, key) order; key values compare as integers when both are. */
export function comparePositions(kind: CursorKind, a: Watermark, b: Watermark, column = 'cursor'): number {
  const byCursor = cursorOrdinal(kind, a.cursor, column) - cursorOrdinal(kind, b.cursor, column);
  if (byCursor !== 0n) return byCursor < 0n ? -1 : 1;
  for (let i = 0; i < Math.max(a.key.length, b.key.length); i++) {
    const [x = '', y = ''] = [a.key[i], b.key[i]];
    const integers = /^-?\d+$/.test(x) && /^-?\d+$/.test(y);
    const order = integers ? Number(BigInt(x) - BigInt(y)) : x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return order < 0 ? -1 : 1;
  }
  return 0;
}
