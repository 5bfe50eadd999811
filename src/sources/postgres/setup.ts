/**
 * Up-front checks of a replication source, and its publication and slot. Everything a user can
 * fix is reported before any data moves, as a DsrCdcError that says what to run.
 */
import pg from 'pg';
import { DsrCdcError } from '../../errors.js';
import type { ForeignKey } from '../../events/envelope.js';
import { type PostgresSourceSettings, tableMatcher } from './settings.js';

export interface CapturedTable {
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  /** Columns that key the table's events: the primary key, the identity index, or (FULL) all. */
  keyColumns: string[];
  /**
   * No primary key and no identity index: REPLICA IDENTITY FULL keys events by every column. Such
   * a key may hold NULLs and types without ordering, so its fields are nullable and the snapshot
   * walks the table in physical (ctid) order instead of key order.
   */
  keyless: boolean;
  /** Foreign keys to other tables (pg_constraint), carried in the table's contract. */
  foreignKeys: ForeignKey[];
}

const IDENTITY = { d: 'default', n: 'nothing', f: 'full', i: 'index' } as const;

const qualified = (schema: string, name: string) =>
  `${pg.escapeIdentifier(schema)}.${pg.escapeIdentifier(name)}`;

function prerequisite(message: string): DsrCdcError {
  return new DsrCdcError('PREREQUISITE_MISSING', message);
}

/** Checks server, role, publication and tables; returns the tables this source captures. */
export async function inspectSource(
  client: pg.ClientBase,
  settings: PostgresSourceSettings,
): Promise<CapturedTable[]> {
  const { rows: server } = await client.query<{ wal_level: string; replication: boolean; user: string }>(
    `SELECT current_setting('wal_level') AS wal_level, current_user AS user,
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replication`,
  );
  const {
    wal_level: walLevel,
    replication,
    user,
  } = server[0] as { wal_level: string; replication: boolean; user: string };
  if (walLevel !== 'logical') {
    throw prerequisite(
      `source '${settings.name}': wal_level is '${walLevel}'; logical replication needs ` +
        '`ALTER SYSTEM SET wal_level = logical` and a restart of Postgres',
    );
  }
  if (!replication) {
    throw prerequisite(
      `source '${settings.name}': role ${user} may not replicate; run \`ALTER ROLE ${pg.escapeIdentifier(user)} REPLICATION\``,
    );
  }

  const matches = tableMatcher(settings.include, settings.exclude);
  const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [
    settings.publication,
  ]);
  if (publication.rowCount === 0) {
    const candidates = await client.query<{ schema: string; name: string }>(
      `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const tables = candidates.rows.filter((t) => matches(`${t.schema}.${t.name}`));
    await createPublication(client, settings, tables);
  }

  const { rows } = await client.query<{
    oid: number;
    schema: string;
    name: string;
    identity: keyof typeof IDENTITY;
    can_select: boolean;
    primary_key: string[] | null;
    identity_index: string[] | null;
    columns: string[];
    foreign_keys: ForeignKey[] | null;
  }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relreplident AS identity,
            has_table_privilege(c.oid, 'SELECT') AS can_select,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
            (SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
               CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              WHERE i.indrelid = c.oid AND i.indisreplident) AS identity_index,
            (SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
              WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
            (SELECT json_agg(json_build_object(
                      'columns', (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
                                    JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
                      'references', json_build_object(
                        'schema', rn.nspname, 'table', rc.relname,
                        'columns', (SELECT array_agg(a.attname ORDER BY k.ord) FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
                                      JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum)))
                    ORDER BY f.conname)
               FROM pg_constraint f
               JOIN pg_class rc ON rc.oid = f.confrelid
               JOIN pg_namespace rn ON rn.oid = rc.relnamespace
              WHERE f.conrelid = c.oid AND f.contype = 'f') AS foreign_keys
       FROM pg_publication_tables p
       JOIN pg_namespace n ON n.nspname = p.schemaname
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
      WHERE p.pubname = $1
      ORDER BY 2, 3`,
    [settings.publication],
  );
  const captured = rows.filter((t) => matches(`${t.schema}.${t.name}`));
  if (captured.length === 0) {
    throw prerequisite(
      `source '${settings.name}': publication ${settings.publication} holds no table matching ` +
        `include ${JSON.stringify(settings.include)} / exclude ${JSON.stringify(settings.exclude)}; ` +
        `as the tables' owner run \`ALTER PUBLICATION ${pg.escapeIdentifier(settings.publication)} ADD TABLE <schema>.<table>\``,
    );
  }
  return captured.map((t) => {
    const name = qualified(t.schema, t.name);
    if (!t.can_select) {
      throw prerequisite(
        `source '${settings.name}': run \`GRANT SELECT ON ${name} TO ${pg.escapeIdentifier(user)}\``,
      );
    }
    const replicaIdentity = IDENTITY[t.identity];
    const keyColumns =
      t.identity === 'i' ? t.identity_index : (t.primary_key ?? (t.identity === 'f' ? t.columns : null));
    if (t.identity === 'n' || !keyColumns || keyColumns.length === 0) {
      throw prerequisite(
        `source '${settings.name}': table ${name} has no primary key and REPLICA IDENTITY ${replicaIdentity.toUpperCase()}, ` +
          `so its updates and deletes cannot be keyed; add a primary key, or run \`ALTER TABLE ${name} REPLICA IDENTITY FULL\``,
      );
    }
    const keyless = t.identity === 'f' && !t.primary_key;
    return {
      oid: t.oid,
      schema: t.schema,
      name: t.name,
      replicaIdentity,
      keyColumns,
      keyless,
      foreignKeys: t.foreign_keys ?? [],
    };
  });
}

async function createPublication(
  client: pg.ClientBase,
  settings: PostgresSourceSettings,
  tables: { schema: string; name: string }[],
): Promise<void> {
  const list = tables.map((t) => qualified(t.schema, t.name)).join(', ');
  const statement = `CREATE PUBLICATION ${pg.escapeIdentifier(settings.publication)} FOR TABLE ${list || '<schema>.<table>'}`;
  if (tables.length === 0) {
    throw prerequisite(
      `source '${settings.name}': publication ${settings.publication} does not exist and no table matches ` +
        `include ${JSON.stringify(settings.include)}; check the patterns, then run \`${statement}\``,
    );
  }
  try {
    await client.query(statement);
  } catch (error) {
    // only a table's owner may publish it, which the least-privilege pipeline role is not
    throw prerequisite(
      `source '${settings.name}': publication ${settings.publication} does not exist and this role cannot create it ` +
        `(${(error as Error).message}); as the tables' owner run \`${statement}\``,
    );
  }
}

export interface SlotState {
  exists: boolean;
  /** The slot's confirmed position, where streaming resumes. */
  confirmedFlushLsn: string | null;
}

/** Reads the slot; a slot invalidated by max_slot_wal_keep_size stops the source. */
export async function readSlot(client: pg.ClientBase, settings: PostgresSourceSettings): Promise<SlotState> {
  const { rows } = await client.query<{
    plugin: string;
    confirmed: string | null;
    wal_status: string | null;
    database: string;
  }>(
    `SELECT plugin, confirmed_flush_lsn::text AS confirmed, wal_status, database FROM pg_replication_slots
      WHERE slot_name = $1`,
    [settings.slot],
  );
  const slot = rows[0];
  if (!slot) return { exists: false, confirmedFlushLsn: null };
  if (slot.plugin !== 'pgoutput') {
    throw prerequisite(
      `source '${settings.name}': slot ${settings.slot} uses plugin ${slot.plugin}, not pgoutput; ` +
        `choose another slot name or drop it with \`SELECT pg_drop_replication_slot('${settings.slot}')\``,
    );
  }
  if (slot.wal_status === 'lost') {
    throw prerequisite(
      `source '${settings.name}': slot ${settings.slot} was invalidated (its WAL was removed), so changes were lost; ` +
        `drop it with \`SELECT pg_drop_replication_slot('${settings.slot}')\` and restart with snapshot mode 'initial'`,
    );
  }
  return { exists: true, confirmedFlushLsn: slot.confirmed };
}
