/**
 * The loader's SQL, built as plain strings from a table's contract (pure). Identifiers are always
 * quoted; values always travel as binds, never in the SQL text.
 *
 * Applying a batch (one partition of one table, in one transaction with its offsets):
 *   1. stage: the batch's rows, one per key (the last change in source order), as text, into the
 *      table's stage table under the partition's number;
 *   2. UPDATE the target rows the stage has newer changes for (columns the source did not send are
 *      left as they are), INSERT the keys the target does not have, DELETE (or mark deleted) the
 *      keys whose last change is a delete;
 *   3. move the partition's offset in the offsets table, fenced by the offset read at assignment.
 * "Newer" compares the source position (_DSR_COMMIT_LSN, _DSR_SEQ), so applying a change twice, or
 * an older one after a newer, changes nothing.
 */
import { DsrCdcError } from '../../errors.js';

export interface LoadColumn {
  /** Snowflake column name (upper case). */
  target: string;
  /** Its Snowflake type, e.g. NUMBER(12,2). */
  type: string;
}

export interface TableContract {
  /** Fully qualified, quoted target table, e.g. "DB"."SCHEMA"."TABLE". */
  table: string;
  stage: string;
  columns: LoadColumn[];
  key: string[];
  /** Keys of tables without a primary key may be NULL (REPLICA IDENTITY FULL). */
  keyNullable: boolean;
}

export const META_COLUMNS: readonly LoadColumn[] = [
  { target: '_DSR_OP', type: 'VARCHAR' },
  { target: '_DSR_COMMIT_LSN', type: 'NUMBER(20,0)' },
  { target: '_DSR_SEQ', type: 'NUMBER(20,0)' },
  { target: '_DSR_COMMIT_TS', type: 'TIMESTAMP_TZ(6)' },
  { target: '_DSR_COERCION_FLAGS', type: 'ARRAY' },
  { target: '_DSR_DELETED', type: 'BOOLEAN' },
  { target: '_DSR_LOADED_AT', type: 'TIMESTAMP_TZ(6)' },
];

export const OFFSETS_TABLE = '_DSR_CDC_OFFSETS';

/** A quoted identifier. */
export function q(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function createTable(t: TableContract): string {
  const columns = [...t.columns, ...META_COLUMNS].map((c) => `${q(c.target)} ${c.type}`);
  return `CREATE TABLE IF NOT EXISTS ${t.table} (${columns.join(', ')})`;
}

/** Stage columns: the partition, the unchanged-columns set, metadata and every column as text. */
export function createStage(t: TableContract): string {
  const columns = [
    `"_DSR_PARTITION" NUMBER(10,0)`,
    `"_DSR_UNCHANGED" VARCHAR`,
    `"_DSR_OP" VARCHAR`,
    `"_DSR_COMMIT_LSN" NUMBER(20,0)`,
    `"_DSR_SEQ" NUMBER(20,0)`,
    `"_DSR_COMMIT_TS" VARCHAR`,
    `"_DSR_COERCION_FLAGS" VARCHAR`,
    ...t.columns.map((c) => `${q(c.target)} VARCHAR`),
  ];
  return `CREATE TABLE IF NOT EXISTS ${t.stage} (${columns.join(', ')})`;
}

export const STAGE_META = [
  '_DSR_PARTITION',
  '_DSR_UNCHANGED',
  '_DSR_OP',
  '_DSR_COMMIT_LSN',
  '_DSR_SEQ',
  '_DSR_COMMIT_TS',
  '_DSR_COERCION_FLAGS',
];

export function addColumn(table: string, column: LoadColumn): string {
  return `ALTER TABLE ${table} ADD COLUMN ${q(column.target)} ${column.type}`;
}

/** Snowflake allows only a NUMBER's precision to grow in place (scale unchanged). */
export function widenColumn(table: string, column: LoadColumn): string {
  return `ALTER TABLE ${table} ALTER COLUMN ${q(column.target)} SET DATA TYPE ${column.type}`;
}

export function clearStage(t: TableContract): string {
  return `DELETE FROM ${t.stage} WHERE "_DSR_PARTITION" = ?`;
}

/**
 * The most values one statement binds inline, set as the connection's arrayBindingThreshold
 * (snowflake.ts). snowflake-sdk stages an array bind whose values (rows × columns) exceed it: it
 * runs CREATE OR REPLACE TEMPORARY STAGE and PUTs the rows (bind_uploader.js) on the same session,
 * and DDL commits the open transaction, which would split a batch from its offsets. The stage
 * insert is therefore sent in chunks of at most this many values (bindChunks).
 */
export const MAX_INLINE_BINDS = 100_000;

/** Rows of an array bind in chunks of at most `maxBinds` values each, in order. */
export function bindChunks<T extends readonly unknown[]>(
  rows: readonly T[],
  maxBinds = MAX_INLINE_BINDS,
): T[][] {
  const width = rows[0]?.length ?? 1;
  if (width > maxBinds) {
    throw new DsrCdcError(
      'INTERNAL',
      `a row of ${width} values exceeds the inline bind limit of ${maxBinds}`,
    );
  }
  const size = Math.floor(maxBinds / width);
  const chunks: T[][] = [];
  for (let i = 0; i < rows.length; i += size) chunks.push(rows.slice(i, i + size));
  return chunks;
}

/** Multi-row bind insert: STAGE_META then every column, in `t.columns` order (see bindChunks). */
export function insertStage(t: TableContract): string {
  const names = [...STAGE_META, ...t.columns.map((c) => c.target)];
  return `INSERT INTO ${t.stage} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
}

/**
 * The typed value of a staged text column: a cast (the text is the type's exact literal, see the
 * coercion matrix, so nothing is rounded), PARSE_JSON for VARIANT and ARRAY, hex for BINARY.
 */
export function typed(column: LoadColumn, from = 'S'): string {
  const ref = `${from}.${q(column.target)}`;
  switch (column.type.replace(/\(.*$/, '')) {
    case 'VARCHAR':
      return ref;
    case 'BINARY':
      return `TO_BINARY(${ref}, 'HEX')`;
    case 'VARIANT':
      return `PARSE_JSON(${ref})`;
    case 'ARRAY':
      return `PARSE_JSON(${ref})::ARRAY`;
    default:
      return `${ref}::${column.type}`;
  }
}

function keyMatch(t: TableContract): string {
  const columns = new Map(t.columns.map((c) => [c.target, c]));
  return t.key
    .map((k) => {
      const target = `T.${q(k)}`;
      const source = typed(columns.get(k) as LoadColumn);
      return t.keyNullable
        ? `(${target} = ${source} OR (${target} IS NULL AND S.${q(k)} IS NULL))`
        : `${target} = ${source}`;
    })
    .join(' AND ');
}

const NEWER = `(S."_DSR_COMMIT_LSN" > T."_DSR_COMMIT_LSN" OR (S."_DSR_COMMIT_LSN" = T."_DSR_COMMIT_LSN" AND S."_DSR_SEQ" > T."_DSR_SEQ"))`;

const META_VALUES: Record<string, string> = {
  _DSR_OP: 'S."_DSR_OP"',
  _DSR_COMMIT_LSN: 'S."_DSR_COMMIT_LSN"',
  _DSR_SEQ: 'S."_DSR_SEQ"',
  _DSR_COMMIT_TS: 'S."_DSR_COMMIT_TS"::TIMESTAMP_TZ(6)',
  _DSR_COERCION_FLAGS: 'PARSE_JSON(S."_DSR_COERCION_FLAGS")::ARRAY',
  _DSR_DELETED: 'FALSE',
  _DSR_LOADED_AT: 'CURRENT_TIMESTAMP()',
};

/**
 * UPDATE of target rows whose staged change (not a delete) is newer, for the staged rows with the
 * unchanged-columns set `unchanged` (a key of `unchangedKey`): those columns keep their value.
 */
export function updateRows(t: TableContract, unchanged: readonly string[]): string {
  const keep = new Set(unchanged);
  const sets = [
    ...t.columns.filter((c) => !keep.has(c.target)).map((c) => `${q(c.target)} = ${typed(c)}`),
    ...Object.entries(META_VALUES).map(([name, value]) => `${q(name)} = ${value}`),
  ];
  return (
    `UPDATE ${t.table} AS T SET ${sets.join(', ')} FROM ${t.stage} AS S ` +
    `WHERE S."_DSR_PARTITION" = ? AND S."_DSR_UNCHANGED" = ? AND S."_DSR_OP" <> 'd' AND ${keyMatch(t)} AND ${NEWER}`
  );
}

/** INSERT of staged keys (not deletes) the target does not hold. */
export function insertRows(t: TableContract): string {
  const names = [...t.columns.map((c) => c.target), ...Object.keys(META_VALUES)];
  const values = [...t.columns.map((c) => typed(c)), ...Object.values(META_VALUES)];
  return (
    `INSERT INTO ${t.table} (${names.map(q).join(', ')}) SELECT ${values.join(', ')} FROM ${t.stage} AS S ` +
    `WHERE S."_DSR_PARTITION" = ? AND S."_DSR_OP" <> 'd' AND NOT EXISTS (SELECT 1 FROM ${t.table} AS T WHERE ${keyMatch(t)})`
  );
}

/** Deletes of staged keys whose last change is a delete: removed, or marked `_DSR_DELETED`. */
export function deleteRows(t: TableContract, mode: 'hard' | 'soft'): string {
  const where = `S."_DSR_PARTITION" = ? AND S."_DSR_OP" = 'd' AND ${keyMatch(t)} AND ${NEWER}`;
  if (mode === 'hard') return `DELETE FROM ${t.table} AS T USING ${t.stage} AS S WHERE ${where}`;
  return (
    `UPDATE ${t.table} AS T SET "_DSR_DELETED" = TRUE, "_DSR_OP" = 'd', "_DSR_COMMIT_LSN" = S."_DSR_COMMIT_LSN", ` +
    `"_DSR_SEQ" = S."_DSR_SEQ", "_DSR_COMMIT_TS" = S."_DSR_COMMIT_TS"::TIMESTAMP_TZ(6), "_DSR_LOADED_AT" = CURRENT_TIMESTAMP() ` +
    `FROM ${t.stage} AS S WHERE ${where}`
  );
}

/** A truncate at a source position: every row changed before it goes (binds: lsn, lsn, seq). */
export function truncateRows(t: TableContract, mode: 'hard' | 'soft'): string {
  const older = `("_DSR_COMMIT_LSN" < ? OR ("_DSR_COMMIT_LSN" = ? AND "_DSR_SEQ" < ?))`;
  if (mode === 'hard') return `DELETE FROM ${t.table} WHERE ${older}`;
  return `UPDATE ${t.table} SET "_DSR_DELETED" = TRUE, "_DSR_OP" = 't', "_DSR_LOADED_AT" = CURRENT_TIMESTAMP() WHERE ${older} AND "_DSR_DELETED" = FALSE`;
}

export function createOffsets(schema: string): string {
  return (
    `CREATE TABLE IF NOT EXISTS ${schema}.${q(OFFSETS_TABLE)} ` +
    `("TOPIC" VARCHAR, "PARTITION" NUMBER(10,0), "NEXT_OFFSET" NUMBER(20,0), "LOADED_AT" TIMESTAMP_TZ(6))`
  );
}

/** binds: topic, partition */
export function readOffset(schema: string): string {
  return `SELECT "NEXT_OFFSET" FROM ${schema}.${q(OFFSETS_TABLE)} WHERE "TOPIC" = ? AND "PARTITION" = ?`;
}

/** Fenced move: binds next, topic, partition, expected; exactly one row must change. */
export function moveOffset(schema: string): string {
  return (
    `UPDATE ${schema}.${q(OFFSETS_TABLE)} SET "NEXT_OFFSET" = ?, "LOADED_AT" = CURRENT_TIMESTAMP() ` +
    `WHERE "TOPIC" = ? AND "PARTITION" = ? AND "NEXT_OFFSET" = ?`
  );
}

/** binds: topic, partition, next */
export function insertOffset(schema: string): string {
  return `INSERT INTO ${schema}.${q(OFFSETS_TABLE)} ("TOPIC", "PARTITION", "NEXT_OFFSET", "LOADED_AT") SELECT ?, ?, ?, CURRENT_TIMESTAMP()`;
}

/** Columns of a table as INFORMATION_SCHEMA reports them (binds: schema, table). */
export function tableColumns(database: string): string {
  return (
    `SELECT "COLUMN_NAME", "DATA_TYPE", "NUMERIC_PRECISION", "NUMERIC_SCALE" FROM ${q(database)}."INFORMATION_SCHEMA"."COLUMNS" ` +
    `WHERE "TABLE_SCHEMA" = ? AND "TABLE_NAME" = ? ORDER BY "ORDINAL_POSITION"`
  );
}
