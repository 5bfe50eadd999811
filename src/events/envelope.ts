/**
 * The change envelope every source publishes to `cdc.*` topics (Debezium-like, so people and
 * tools already know it): op, before, after, source, tsMs — plus `unchanged`, the columns whose
 * value the source did not send (Postgres' unchanged TOAST values), which are null in `after`
 * and must not be read as a new value.
 *
 * `source.commitLsn` + `source.seq` (or, for pollers, the watermark in `source.seq`) totally
 * orders the events of a table and is the dedupe key all the way into the warehouse.
 */

import { type AvroRecordSchema, avroName } from './pg-types.js';

export type Op = 'c' | 'u' | 'd' | 'r' | 't';

export interface SourceInfo {
  connector: 'postgres' | 'poller';
  /** The configured source name. */
  name: string;
  db: string;
  schema: string;
  table: string;
  /** WAL position of this change (null for snapshot reads and pollers). */
  lsn: bigint | null;
  /** WAL position of the transaction's commit; with seq the dedupe key. */
  commitLsn: bigint | null;
  txId: bigint | null;
  /** Commit time, microseconds since the Unix epoch. */
  commitTs: bigint | null;
  snapshot: boolean;
  /** Position within the transaction (0, 1, …), or within the snapshot / poll. */
  seq: bigint;
}

export interface ChangeEnvelope<Row = Record<string, unknown>> {
  op: Op;
  before: Row | null;
  after: Row | null;
  unchanged: string[];
  source: SourceInfo;
  tsMs: bigint;
}

/** A foreign key of a captured table: its columns reference the key columns of another table. */
export interface ForeignKey {
  columns: string[];
  references: { schema: string; table: string; columns: string[] };
}

/** The envelope schema property that lists the table's foreign keys. */
export const FOREIGN_KEYS_PROPERTY = 'dsr-cdc.foreignKeys';

/** An Avro schema in its JSON form. */
export type AvroSchema = Record<string, unknown> | string | AvroSchema[];

/** A dotted Avro namespace built from free-form parts (each part made an Avro name). */
export function avroNamespace(...parts: string[]): string {
  return parts.map(avroName).join('.');
}

const SOURCE_SCHEMA = {
  type: 'record',
  name: 'Source',
  namespace: 'dev.dsrcdc',
  fields: [
    { name: 'connector', type: 'string' },
    { name: 'name', type: 'string' },
    { name: 'db', type: 'string' },
    { name: 'schema', type: 'string' },
    { name: 'table', type: 'string' },
    { name: 'lsn', type: ['null', 'long'], default: null },
    { name: 'commitLsn', type: ['null', 'long'], default: null },
    { name: 'txId', type: ['null', 'long'], default: null },
    { name: 'commitTs', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }], default: null },
    { name: 'snapshot', type: 'boolean', default: false },
    { name: 'seq', type: 'long' },
  ],
} as const;

/**
 * The value schema of a table's topic: the envelope around `rowSchema` (a record schema whose
 * name is unique within `namespace`). A new column produces a new row schema and so a new
 * version of this contract.
 */
export function envelopeSchema(
  namespace: string,
  rowSchema: AvroRecordSchema,
  foreignKeys: readonly ForeignKey[] = [],
): AvroSchema {
  return {
    type: 'record',
    name: 'Envelope',
    namespace,
    // the table's foreign keys travel with its contract, so consumers (PII discovery's relational
    // reach) know which rows a row points at without access to the source's catalog
    [FOREIGN_KEYS_PROPERTY]: foreignKeys,
    fields: [
      { name: 'op', type: { type: 'enum', name: 'Op', symbols: ['c', 'u', 'd', 'r', 't'] } },
      { name: 'before', type: ['null', rowSchema], default: null },
      { name: 'after', type: ['null', `${rowSchema.namespace}.${rowSchema.name}`], default: null },
      { name: 'unchanged', type: { type: 'array', items: 'string' }, default: [] },
      { name: 'source', type: SOURCE_SCHEMA },
      { name: 'tsMs', type: 'long' },
    ],
  };
}
