/**
 * Loads the catalog facts pg-types.ts maps from: a table's columns, or a set of type OIDs (what a
 * pgoutput relation message names), with every type they reach (array elements, domain bases,
 * enum labels). Each load is one statement, so its answer is one catalog snapshot.
 */
import type pg from 'pg';
import { DsrCdcError } from '../errors.js';
import type { PgColumn, PgType } from './pg-types.js';

/** A client or a pool: anything that runs one query. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** The recursive CTE `reachable(oid)`: the seed types plus their elements and bases, transitively. */
const reachable = (seed: string) => `reachable(oid) AS (
  ${seed}
  UNION
  SELECT next.oid
    FROM reachable r
    JOIN pg_catalog.pg_type t ON t.oid = r.oid
   CROSS JOIN LATERAL (VALUES (t.typelem), (t.typbasetype)) AS next(oid)
   WHERE next.oid <> 0
)`;

/** A JSON array of TypeRow, one per reachable type. */
const TYPES_JSON = `(SELECT coalesce(json_agg(json_build_object(
    'oid', t.oid::int8, 'name', t.typname, 'typtype', t.typtype,
    'isArray', t.typelem <> 0 AND e.typarray = t.oid,
    'elem', t.typelem::int8, 'base', t.typbasetype::int8, 'baseTypeMod', t.typtypmod,
    'delimiter', t.typdelim,
    'enumLabels', (SELECT json_agg(enumlabel ORDER BY enumsortorder)
                     FROM pg_catalog.pg_enum WHERE enumtypid = t.oid))), '[]')
   FROM reachable r
   JOIN pg_catalog.pg_type t ON t.oid = r.oid
   LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem) AS types`;

const TYPES_SQL = `WITH RECURSIVE ${reachable('SELECT unnest($1::oid[])')} SELECT ${TYPES_JSON}`;

const COLUMNS_SQL = `
WITH RECURSIVE rel AS (
  SELECT c.oid
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2
), cols AS (
  SELECT a.attnum, a.attname, a.atttypid, a.atttypmod, a.attnotnull, a.attndims
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = (SELECT oid FROM rel) AND a.attnum > 0 AND NOT a.attisdropped
), ${reachable('SELECT atttypid FROM cols')}
SELECT
  EXISTS (SELECT 1 FROM rel) AS found,
  (SELECT coalesce(json_agg(json_build_object(
            'name', attname, 'typeOid', atttypid::int8, 'typeMod', atttypmod,
            'notNull', attnotnull, 'dimensions', attndims) ORDER BY attnum), '[]')
     FROM cols) AS columns,
  ${TYPES_JSON}`;

interface ColumnRow {
  name: string;
  typeOid: number;
  typeMod: number;
  notNull: boolean;
  dimensions: number;
}

interface TypeRow {
  oid: number;
  name: string;
  typtype: string;
  isArray: boolean;
  elem: number;
  base: number;
  baseTypeMod: number;
  delimiter: string;
  enumLabels: string[] | null;
}

const KINDS: Record<string, PgType['kind']> = { d: 'domain', e: 'enum', c: 'composite', r: 'range' };

/**
 * The types with these OIDs, each with its element / base types resolved, keyed by OID. An
 * array is recognised by its element's typarray pointing back at it, so int2vector and other
 * subscriptable base types stay base types. Throws REQUEST_REJECTED when a type does not exist
 * or the query fails.
 */
export async function loadTypes(client: Queryable, oids: readonly number[]): Promise<Map<number, PgType>> {
  const row = await queryOne<{ types: TypeRow[] }>(client, TYPES_SQL, [oids], 'types');
  const types = resolveTypes(row.types);
  const missing = oids.filter((oid) => !types.has(oid));
  if (missing.length > 0) {
    throw new DsrCdcError('REQUEST_REJECTED', `type oid(s) ${missing.join(', ')} do not exist`);
  }
  return types;
}

/**
 * The columns of `schema.table` in attnum order (dropped columns left out), with their types
 * resolved as loadTypes does and their declared array dimensions. Throws REQUEST_REJECTED when
 * the relation does not exist or the query fails.
 */
export async function loadColumns(client: Queryable, schema: string, table: string): Promise<PgColumn[]> {
  const row = await queryOne<{ found: boolean; columns: ColumnRow[]; types: TypeRow[] }>(
    client,
    COLUMNS_SQL,
    [schema, table],
    `${schema}.${table}`,
  );
  if (!row.found) throw new DsrCdcError('REQUEST_REJECTED', `relation ${schema}.${table} does not exist`);
  const types = resolveTypes(row.types);
  return row.columns.map((c) => ({
    name: c.name,
    type: typeOf(types, c.typeOid),
    typeMod: c.typeMod,
    notNull: c.notNull,
    dimensions: c.dimensions,
  }));
}

async function queryOne<Row extends pg.QueryResultRow>(
  client: Queryable,
  sql: string,
  params: unknown[],
  what: string,
): Promise<Row> {
  let result: pg.QueryResult<Row>;
  try {
    result = await client.query<Row>(sql, params);
  } catch (error) {
    throw new DsrCdcError('REQUEST_REJECTED', `cannot read the catalog (${what})`, { cause: error });
  }
  const [row] = result.rows;
  if (row === undefined) throw new DsrCdcError('INTERNAL', `catalog query (${what}) returned no row`);
  return row;
}

function resolveTypes(rows: TypeRow[]): Map<number, PgType> {
  const types = new Map<number, PgType>();
  for (const t of rows) {
    const kind = KINDS[t.typtype] ?? (t.typtype === 'b' ? (t.isArray ? 'array' : 'base') : 'other');
    const type: PgType = { oid: t.oid, name: t.name, kind, delimiter: t.delimiter };
    if (kind === 'domain') type.baseTypeMod = t.baseTypeMod;
    if (kind === 'enum') type.enumLabels = t.enumLabels ?? [];
    types.set(t.oid, type);
  }
  for (const t of rows) {
    const type = typeOf(types, t.oid);
    if (type.kind === 'array') type.element = typeOf(types, t.elem);
    if (type.kind === 'domain') type.base = typeOf(types, t.base);
  }
  return types;
}

function typeOf(types: Map<number, PgType>, oid: number): PgType {
  const type = types.get(oid);
  if (type === undefined) throw new DsrCdcError('INTERNAL', `type ${oid} missing from the catalog answer`);
  return type;
}
