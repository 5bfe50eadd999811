/**
 * The consistent initial snapshot.
 *
 * The slot is created on a replication connection that exports a snapshot; existing rows are read
 * under that snapshot, in primary-key order and chunks, while the connection stays open. Streaming
 * then starts at the slot's consistent point: every change committed after the snapshot arrives
 * through the slot, every change before it is in the snapshot — no gap, no overlap.
 *
 * A snapshot interrupted midway resumes after its last durable chunk. The exported snapshot died
 * with the process, so the remaining chunks are read under a fresh snapshot, which may already
 * contain changes that the stream (starting at the original consistent point) delivers again
 * afterwards. Snapshot events always precede stream events, and the stream replays every later
 * change in order, so each key still ends in the table's state.
 */
import pg from 'pg';
import type { Relation } from './pgoutput.js';
import { parseLsn } from './pgoutput.js';
import type { CapturedTable } from './setup.js';

/** Query results as Postgres' text output, exactly as pgoutput would send the same values. */
export const TEXT_TYPES = {
  getTypeParser: () => (value: string) => value,
} as unknown as pg.CustomTypesConfig;

export interface ExportedSnapshot {
  consistentPoint: bigint;
  snapshotName: string;
  /** Closes the replication connection; the exported snapshot is gone after this. */
  release(): Promise<void>;
}

/** Creates the logical slot and keeps its exported snapshot alive until `release()`. */
export async function createSlotWithSnapshot(
  connection: pg.ClientConfig,
  slot: string,
): Promise<ExportedSnapshot> {
  const client = new pg.Client({ ...connection, replication: 'database' } as pg.ClientConfig);
  await client.connect();
  try {
    const { rows } = await client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${pg.escapeIdentifier(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    const row = rows[0];
    if (!row) throw new Error('CREATE_REPLICATION_SLOT returned no row');
    return {
      consistentPoint: parseLsn(row.consistent_point),
      snapshotName: row.snapshot_name,
      release: () => client.end(),
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** The table's columns in the order pgoutput sends them (attnum order, no generated columns). */
export async function describeTable(client: pg.ClientBase, table: CapturedTable): Promise<Relation> {
  const { rows } = await client.query<{ name: string; type_oid: number; type_mod: number }>(
    `SELECT attname AS name, atttypid::int AS type_oid, atttypmod AS type_mod FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [table.oid],
  );
  const keys = new Set(table.keyColumns);
  return {
    oid: table.oid,
    schema: table.schema,
    name: table.name,
    replicaIdentity: table.replicaIdentity,
    columns: rows.map((c) => ({
      name: c.name,
      typeOid: c.type_oid,
      typeMod: c.type_mod,
      isKey: keys.has(c.name),
    })),
  };
}

export interface Chunk {
  /** Rows aligned with the relation's columns, every value as text. */
  rows: string[][];
  /** Where the next chunk starts (key values, or the ctid of a keyless table); null at the end. */
  lastKey: string[] | null;
}

export interface ChunkReader {
  /** The next rows after `afterKey` (from the previous chunk's lastKey); no rows at the end. */
  next(afterKey: string[] | null): Promise<Chunk>;
  close(): Promise<void>;
}

/**
 * Opens a REPEATABLE READ transaction (under `snapshotName` when given) that reads `relation`
 * in key order, `chunkRows` rows at a time, every value as text.
 */
export async function openChunkReader(
  connection: pg.ClientConfig,
  relation: Relation,
  table: CapturedTable,
  chunkRows: number,
  snapshotName: string | null,
): Promise<ChunkReader> {
  const client = new pg.Client({ ...connection, types: TEXT_TYPES });
  await client.connect();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  if (snapshotName) await client.query(`SET TRANSACTION SNAPSHOT ${pg.escapeLiteral(snapshotName)}`);
  const name = `${pg.escapeIdentifier(relation.schema)}.${pg.escapeIdentifier(relation.name)}`;
  const columns = relation.columns.map((c) => pg.escapeIdentifier(c.name)).join(', ');
  const keyIndexes = table.keyColumns.map((k) => relation.columns.findIndex((c) => c.name === k));
  let first: string;
  let after: string;
  if (table.keyless) {
    // every column is the key, which may hold NULLs or unorderable types: walk the heap instead;
    // the position (the ctid) is appended to each row, and the caller records it as lastKey
    first = `SELECT ${columns}, ctid FROM ${name} ORDER BY ctid LIMIT ${chunkRows}`;
    after = `SELECT ${columns}, ctid FROM ${name} WHERE ctid > $1::tid ORDER BY ctid LIMIT ${chunkRows}`;
  } else {
    const keys = table.keyColumns.map((k) => pg.escapeIdentifier(k));
    const keyTypes = await client.query<{ type: string }>(
      `SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute a
         JOIN unnest($2::text[]) WITH ORDINALITY AS k(name, ord) ON a.attname = k.name
        WHERE attrelid = $1 ORDER BY k.ord`,
      [relation.oid, table.keyColumns],
    );
    const params = keyTypes.rows.map((r, i) => `$${i + 1}::${r.type}`);
    first = `SELECT ${columns} FROM ${name} ORDER BY ${keys.join(', ')} LIMIT ${chunkRows}`;
    after =
      `SELECT ${columns} FROM ${name} WHERE (${keys.join(', ')}) > (${params.join(', ')}) ` +
      `ORDER BY ${keys.join(', ')} LIMIT ${chunkRows}`;
  }
  return {
    async next(afterKey) {
      const result = await client.query<string[]>({
        text: afterKey ? after : first,
        values: afterKey ?? [],
        rowMode: 'array',
      });
      const last = result.rows.at(-1);
      if (!last) return { rows: [], lastKey: null };
      if (table.keyless) {
        return { rows: result.rows.map((row) => row.slice(0, -1)), lastKey: [last.at(-1) as string] };
      }
      return { rows: result.rows, lastKey: keyIndexes.map((i) => last[i] as string) };
    },
    async close() {
      await client.query('COMMIT').catch(() => undefined);
      await client.end();
    },
  };
}
