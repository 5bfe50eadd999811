/**
 * Folding a partition's changes into what the stage gets: per key, the last change in source
 * order, with the columns a later update did not send (unchanged TOAST) filled from an earlier
 * change of the same batch when it had them. A truncate splits the batch: changes before it are
 * applied before it, changes after it after it. Pure.
 */
import type { WarehouseRow } from '../type-coercion/plan.js';
import type { LoadColumn } from './sql.js';

export interface Change {
  row: WarehouseRow;
  /** Field name of each Snowflake column in this change's contract. */
  fields: ReadonlyMap<string, string>;
}

export type Segment = { kind: 'rows'; rows: StagedRow[] } | { kind: 'truncate'; lsn: bigint; seq: bigint };

/** A staged row: metadata then every column's text, in the table's column order. */
export interface StagedRow {
  unchanged: string;
  values: (string | null)[];
}

const isNewer = (a: WarehouseRow, b: WarehouseRow) =>
  a._dsr_commit_lsn > b._dsr_commit_lsn ||
  (a._dsr_commit_lsn === b._dsr_commit_lsn && a._dsr_seq >= b._dsr_seq);

export function fold(
  changes: readonly Change[],
  columns: readonly LoadColumn[],
  key: readonly string[],
): Segment[] {
  const segments: Segment[] = [];
  let byKey = new Map<
    string,
    { row: WarehouseRow; values: Map<string, string | null>; unchanged: Set<string> }
  >();
  const flush = () => {
    if (byKey.size === 0) return;
    segments.push({
      kind: 'rows',
      rows: [...byKey.values()].map(({ row, values, unchanged }) => ({
        unchanged: [...unchanged].sort().join(','),
        values: [
          row._dsr_op,
          row._dsr_commit_lsn.toString(),
          row._dsr_seq.toString(),
          row._dsr_commit_ts,
          JSON.stringify(row._dsr_coercion_flags),
          ...columns.map((c) => values.get(c.target) ?? null),
        ],
      })),
    });
    byKey = new Map();
  };
  for (const { row, fields } of changes) {
    if (row._dsr_op === 't') {
      flush();
      segments.push({ kind: 'truncate', lsn: row._dsr_commit_lsn, seq: row._dsr_seq });
      continue;
    }
    const values = new Map<string, string | null>();
    for (const c of columns) {
      const field = fields.get(c.target);
      values.set(c.target, field === undefined ? null : ((row[field] as string | null | undefined) ?? null));
    }
    const id = JSON.stringify(key.map((k) => values.get(k) ?? null));
    const earlier = byKey.get(id);
    if (earlier && !isNewer(row, earlier.row)) continue; // a re-delivered older change
    const unchanged = new Set(row._dsr_unchanged);
    if (earlier && row._dsr_op === 'u' && earlier.row._dsr_op !== 'd') {
      for (const target of [...unchanged]) {
        if (!earlier.unchanged.has(target)) {
          values.set(target, earlier.values.get(target) ?? null);
          unchanged.delete(target);
        }
      }
    }
    byKey.set(id, { row, values, unchanged });
  }
  flush();
  return segments;
}
