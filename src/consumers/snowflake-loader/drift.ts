/**
 * The schema drift gate (pure): the columns an incoming contract has against the columns the
 * Snowflake table has (INFORMATION_SCHEMA.COLUMNS). An added column is added (every warehouse
 * column is nullable) and a NUMBER that needs more precision at the same scale is widened; a
 * column the table has but the contract lacks (dropped at the source), or any other type change,
 * stops the table: loading on would silently lose or mangle data.
 *
 * A column the table has but the contract lacks is a drop only when the contract is the subject's
 * latest version: an older version (a lagging partition, or a batch re-read after a restart) lacks
 * the columns a newer version added, and its rows simply leave them as they are.
 */
import { type LoadColumn, META_COLUMNS } from './sql.js';

export interface TableColumn {
  COLUMN_NAME: string;
  DATA_TYPE: string;
  NUMERIC_PRECISION: number | null;
  NUMERIC_SCALE: number | null;
}

/** Columns to add, NUMBER columns to widen (more precision, same scale), and reasons to stop. */
export type Drift = { add: LoadColumn[]; widen: LoadColumn[]; problems: string[] };

/** The INFORMATION_SCHEMA spelling of a type we create. */
export function canonicalType(type: string): string {
  const number = /^NUMBER\((\d+),(\d+)\)$/.exec(type);
  if (number) return `NUMBER(${number[1]},${number[2]})`;
  const base = type.replace(/\(.*$/, '');
  return base === 'VARCHAR' ? 'TEXT' : base;
}

function describe(column: TableColumn): string {
  return column.DATA_TYPE === 'NUMBER'
    ? `NUMBER(${column.NUMERIC_PRECISION},${column.NUMERIC_SCALE})`
    : column.DATA_TYPE;
}

/** Equal types; an ARRAY column may be reported as VARIANT (the emulator, fakesnow, does so). */
function sameType(reported: string, wanted: string): boolean {
  return reported === wanted || (wanted === 'ARRAY' && reported === 'VARIANT');
}

export function drift(
  contract: readonly LoadColumn[],
  table: readonly TableColumn[],
  latest: boolean,
): Drift {
  const existing = new Map(table.map((c) => [c.COLUMN_NAME, c]));
  const ours = new Set(META_COLUMNS.map((c) => c.target));
  const wanted = new Set(contract.map((c) => c.target));
  const add: LoadColumn[] = [];
  const widen: LoadColumn[] = [];
  const problems: string[] = [];
  for (const column of contract) {
    const found = existing.get(column.target);
    const precision = numberPrecision(found, column);
    if (!found) add.push(column);
    else if (precision !== undefined) {
      // int4 → int8 and the like: Snowflake widens a NUMBER in place; a narrower one fits as it is
      if (precision > Number(found.NUMERIC_PRECISION)) widen.push(column);
    } else if (!sameType(describe(found), canonicalType(column.type))) {
      problems.push(
        `column ${column.target} changed type from ${describe(found)} to ${canonicalType(column.type)}; ` +
          'migrate the Snowflake column (or drop and reload the table), then restart the loader',
      );
    }
  }
  for (const column of latest ? table : []) {
    if (!ours.has(column.COLUMN_NAME) && !wanted.has(column.COLUMN_NAME)) {
      problems.push(
        `column ${column.COLUMN_NAME} is no longer in the source contract (dropped at the source?); ` +
          'drop it from the Snowflake table (or keep loading elsewhere), then restart the loader',
      );
    }
  }
  return { add, widen, problems };
}

/** The contract's NUMBER precision when both are NUMBERs of the same scale, else undefined. */
function numberPrecision(found: TableColumn | undefined, column: LoadColumn): number | undefined {
  const wanted = /^NUMBER\((\d+),(\d+)\)$/.exec(column.type);
  if (found?.DATA_TYPE !== 'NUMBER' || !wanted) return undefined;
  return Number(wanted[2]) === Number(found.NUMERIC_SCALE) ? Number(wanted[1]) : undefined;
}
