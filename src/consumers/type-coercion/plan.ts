/**
 * A table's coercion plan, built from its `cdc.*` contracts: the Snowflake column of every field
 * (see matrix.ts), the key columns, the `warehouse.*` contract that carries the coerced rows, and
 * the coercion of one change envelope into one warehouse row. Pure.
 *
 * Warehouse row (`warehouse.<source>.<schema>.<table>` value): the metadata fields below plus one
 * nullable string per column holding its Snowflake text literal. Each column field names its
 * Snowflake column and type (`snowflake.column`, `snowflake.type`), and the record lists the key
 * columns (`dsr-cdc.key`), so the loader creates and checks tables from the contract alone.
 */
import { DsrCdcError } from '../../errors.js';
import { type AvroSchema, avroNamespace, type ChangeEnvelope, type Op } from '../../events/envelope.js';
import { type CoercionSettings, type ColumnPlan, planColumn, timestampText } from './matrix.js';

/** Metadata fields of every warehouse row. */
export const META = {
  op: '_dsr_op',
  commitLsn: '_dsr_commit_lsn',
  seq: '_dsr_seq',
  commitTs: '_dsr_commit_ts',
  unchanged: '_dsr_unchanged',
  flags: '_dsr_coercion_flags',
} as const;

export const KEY_PROPERTY = 'dsr-cdc.key';
export const KEY_NULLABLE_PROPERTY = 'dsr-cdc.keyNullable';
export const SNOWFLAKE_TYPE_PROPERTY = 'snowflake.type';
export const SNOWFLAKE_COLUMN_PROPERTY = 'snowflake.column';

export interface WarehouseRow {
  _dsr_op: Op;
  /** With `_dsr_seq`, the source order of the table's changes (0 for snapshot reads and pollers). */
  _dsr_commit_lsn: bigint;
  _dsr_seq: bigint;
  /** Source commit time as TIMESTAMP_TZ text, when the source knows it. */
  _dsr_commit_ts: string | null;
  /** Columns whose value the source did not send (unchanged TOAST): the loader keeps what it has. */
  _dsr_unchanged: string[];
  /** Columns set to NULL because Snowflake cannot hold their value (see the matrix). */
  _dsr_coercion_flags: string[];
  [column: string]: unknown;
}

export interface TablePlan {
  topic: string;
  columns: ColumnPlan[];
  keyFields: string[];
  keySchema: AvroSchema;
  valueSchema: AvroSchema;
  /** The warehouse row and key of an envelope; throws EVENT_INVALID for a value it cannot read. */
  coerce(
    envelope: ChangeEnvelope,
    onOutOfRange: 'null' | 'dlq',
  ): { key: Record<string, unknown> | null; row: WarehouseRow };
}

type RawField = { name: string; type: unknown; 'pg.column'?: string };

/** The row record fields of a raw `cdc.*` envelope contract (its `before` field). */
export function rowFields(envelopeContract: Record<string, unknown>): RawField[] {
  const fields = envelopeContract.fields as { name: string; type: unknown }[] | undefined;
  const before = fields?.find((f) => f.name === 'before');
  const record = (Array.isArray(before?.type) ? before.type : []).find(
    (t): t is { fields: RawField[] } => typeof t === 'object' && t !== null && 'fields' in t,
  );
  if (!record) {
    throw new DsrCdcError(
      'EVENT_INVALID',
      'the value contract is not a dsr-cdc change envelope (no row record)',
    );
  }
  return record.fields;
}

export function tablePlan(
  warehouseTopic: string,
  envelopeContract: Record<string, unknown>,
  keyContract: Record<string, unknown> | null,
  settings: CoercionSettings,
): TablePlan {
  const fields = rowFields(envelopeContract);
  const columns = fields.map((field) => planColumn(field as Parameters<typeof planColumn>[0], settings));
  // the Snowflake table and stage add their own _DSR_ columns: a source column may not take one
  const clash = columns.find((c) => c.target.startsWith('_DSR_'));
  if (clash) {
    throw new DsrCdcError(
      'CONTRACT_REJECTED',
      `column "${clash.column}" starts with _dsr_, which dsr-cdc reserves for its metadata columns; rename it`,
    );
  }
  const targets = new Map<string, string>();
  for (const c of columns) {
    const other = targets.get(c.target);
    if (other !== undefined) {
      throw new DsrCdcError(
        'CONTRACT_REJECTED',
        `columns "${other}" and "${c.column}" are both ${c.target} in Snowflake (names are upper-cased); rename one`,
      );
    }
    targets.set(c.target, c.column);
  }
  const keyFields = keyContract
    ? ((keyContract.fields as { name: string }[] | undefined) ?? []).map((f) => f.name)
    : columns.map((c) => c.field);
  const namespace = avroNamespace(...warehouseTopic.split('.'));
  const columnField = (c: ColumnPlan) => ({
    name: c.field,
    type: ['null', 'string'],
    default: null,
    'pg.column': c.column,
    [SNOWFLAKE_COLUMN_PROPERTY]: c.target,
    [SNOWFLAKE_TYPE_PROPERTY]: c.snowflakeType,
  });
  const byField = new Map(columns.map((c) => [c.field, c]));
  const keyColumns = keyFields.map((f) => {
    const column = byField.get(f);
    if (!column)
      throw new DsrCdcError('EVENT_INVALID', `key field "${f}" is not a column of the row contract`);
    return column;
  });
  const valueSchema: AvroSchema = {
    type: 'record',
    name: 'Row',
    namespace,
    [KEY_PROPERTY]: keyColumns.map((c) => c.target),
    // a table without a primary key is keyed by all its columns, any of which may be NULL
    [KEY_NULLABLE_PROPERTY]: keyContract === null || keyFieldsNullable(keyContract),
    fields: [
      { name: META.op, type: 'string' },
      { name: META.commitLsn, type: 'long' },
      { name: META.seq, type: 'long' },
      { name: META.commitTs, type: ['null', 'string'], default: null },
      { name: META.unchanged, type: { type: 'array', items: 'string' }, default: [] },
      { name: META.flags, type: { type: 'array', items: 'string' }, default: [] },
      ...columns.map(columnField),
    ],
  };
  const keySchema: AvroSchema = {
    type: 'record',
    name: 'Key',
    namespace,
    fields: keyColumns.map(columnField),
  };

  return {
    topic: warehouseTopic,
    columns,
    keyFields,
    keySchema,
    valueSchema,
    coerce(envelope, onOutOfRange) {
      const image = envelope.op === 'd' ? envelope.before : envelope.op === 't' ? null : envelope.after;
      const unchanged = new Set(envelope.unchanged);
      const row: WarehouseRow = {
        _dsr_op: envelope.op,
        _dsr_commit_lsn: envelope.source.commitLsn ?? 0n,
        _dsr_seq: envelope.source.seq,
        _dsr_commit_ts: envelope.source.commitTs === null ? null : commitTsText(envelope.source.commitTs),
        _dsr_unchanged: columns.filter((c) => unchanged.has(c.column)).map((c) => c.target),
        _dsr_coercion_flags: [],
      };
      for (const c of columns) {
        const value = image?.[c.field] ?? null;
        const coerced = unchanged.has(c.column) ? { text: null } : c.coerce(value);
        if ('outOfRange' in coerced) {
          if (onOutOfRange === 'dlq') {
            throw new DsrCdcError(
              'EVENT_INVALID',
              `column "${c.column}" (${c.snowflakeType}): ${coerced.outOfRange}`,
              {
                field: c.column,
              },
            );
          }
          row[c.field] = null;
          row._dsr_coercion_flags.push(c.target);
        } else {
          row[c.field] = coerced.text;
        }
      }
      const key =
        image === null ? null : Object.fromEntries(keyColumns.map((c) => [c.field, row[c.field] ?? null]));
      return { key, row };
    },
  };
}

function keyFieldsNullable(keyContract: Record<string, unknown>): boolean {
  const fields = (keyContract.fields as { type: unknown }[] | undefined) ?? [];
  return fields.some((f) => Array.isArray(f.type) && f.type.includes('null'));
}

/** The source commit time as TIMESTAMP_TZ text (null in the unreachable case Snowflake cannot hold it). */
function commitTsText(micros: bigint): string | null {
  const coerced = timestampText(micros, true);
  return 'text' in coerced ? coerced.text : null;
}
