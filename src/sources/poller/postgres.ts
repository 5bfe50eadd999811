/**
 * The Postgres driver of the SQL poller, for databases without a replication slot (a read replica
 * without logical decoding, a managed database without the privilege).
 *
 * Horizon (why no late-committing row is skipped): each run samples, in one statement, the cursor
 * bound (`now() − safetyLagMs` in timestamp mode, the largest visible cursor in incrementing mode),
 * the virtual xids of every transaction of the database open at that moment (pg_locks), and
 * `pg_snapshot_xmax`. A sample becomes the poll's upper bound only once none of those transactions
 * is open any more and `pg_snapshot_xmin` has passed the sample's xmax (prepared transactions hold
 * an xid but no virtual xid). A transaction's `now()` is its start, and it holds its virtual xid
 * from its start, before it writes (and gets an xid): so every row such a transaction writes with
 * a cursor below the bound is committed, and visible to the page queries, before the bound is used.
 * `safetyLagMs` (default 200 ms) covers the microseconds between a transaction's start timestamp
 * and its virtual xid lock, and must be raised when cursors come from a client's clock.
 *
 * Hot standby (a read replica, `pg_is_in_recovery()`): pg_locks there shows only the standby's own
 * sessions, never the primary's open transactions, so the horizon above cannot see a late commit
 * coming. Only the lag protects such rows, and it must cover the longest write transaction on the
 * primary plus the replay lag: the lag is then required in the config (see `safetyLagFor`) and
 * also holds back incrementing ids (a sample is used only once it is that old).
 *
 * Values are read as Postgres' text output under the replication source's session settings, so
 * an event of a polled row is identical to the replication source's event of the same row.
 */
import pg from 'pg';
import { DsrCdcError } from '../../errors.js';
import { loadColumns, loadTypes } from '../../events/pg-catalog.js';
import type { PgType } from '../../events/pg-types.js';
import { pgErrorText } from '../pg-error-text.js';
import { TEXT_TYPES } from '../postgres/snapshot.js';
import { EXACT_TEXT_OPTIONS } from '../postgres/source.js';
import type { SqlTableConfig } from './config.js';
import {
  checkColumns,
  checkCursorKind,
  type HorizonReading,
  type SqlDriver,
  type SqlTablePlan,
} from './sql.js';
import { quoteIdent, splitTable } from './watermark.js';

/** The safety lag on a primary, where the transaction horizon does the rest. */
export const PRIMARY_SAFETY_LAG_MS = 200;

/**
 * The safety lag a poll runs with (pure). On a primary the configured lag, else the default; on a
 * hot standby the lag is all that protects late commits, so a default chosen for a primary is
 * refused (CONFIG_INVALID) and an explicit one comes with a warning saying so.
 */
export function safetyLagFor(
  source: string,
  standby: boolean,
  configuredMs: number | undefined,
): { lagMs: number; warning?: string } {
  if (!standby) return { lagMs: configuredMs ?? PRIMARY_SAFETY_LAG_MS };
  const field = `sources.${source}.safetyLagMs`;
  if (configuredMs === undefined) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `poller '${source}' reads a hot standby (pg_is_in_recovery()), where the primary's open transactions are invisible: only safetyLagMs holds back rows of a transaction that commits late, and the default (${PRIMARY_SAFETY_LAG_MS} ms) is meant for a primary; set ${field} to more than the longest write transaction on the primary plus the standby's replay lag`,
      { field },
    );
  }
  return {
    lagMs: configuredMs,
    warning: `the database is a hot standby: the primary's open transactions are invisible here, so only safetyLagMs (${configuredMs} ms) protects rows of late commits; it must exceed the longest write transaction on the primary plus the replay lag`,
  };
}

const TIMESTAMP_TYPES = new Set(['timestamptz', 'timestamp', 'date']);
const INTEGER_TYPES = new Set(['int2', 'int4', 'int8']);

/** The base type a column maps as (domains resolved). */
function baseType(type: PgType): PgType {
  return type.kind === 'domain' && type.base ? baseType(type.base) : type;
}

export class PostgresPollerDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  private client: pg.Client | undefined;
  /** Whether the connected server is a hot standby (checked at each connect: a promotion ends it). */
  private standby = false;

  constructor(
    private readonly source: string,
    private readonly connection: pg.ClientConfig,
    /** As configured: undefined takes the primary's default, and is refused on a standby. */
    private readonly safetyLagMs: number | undefined,
  ) {}

  get db(): string {
    return String(this.connection.database ?? '');
  }

  async connect(): Promise<void> {
    if (this.client) return;
    const client = new pg.Client({ ...this.connection, options: EXACT_TEXT_OPTIONS });
    client.on('error', () => undefined); // a dropped connection fails the running query instead
    try {
      await client.connect();
    } catch (error) {
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `cannot connect to Postgres for poller '${this.source}': ${(error as Error).message}`,
        { retryable: true, cause: error },
      );
    }
    this.client = client;
    const { rows } = await this.run<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby', []);
    this.standby = rows[0]?.standby === true;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end();
  }

  private get connected(): pg.Client {
    if (!this.client) throw new DsrCdcError('INTERNAL', 'Postgres poller used before connect()');
    return this.client;
  }

  /** The TypeCatalog of the poller's ContractCatalog: type facts over the poller's own connection. */
  types(oids: number[]): Promise<Map<number, PgType>> {
    return loadTypes(this.connected, oids);
  }

  async describe(config: SqlTableConfig): Promise<SqlTablePlan> {
    const { warning: standbyWarning } = safetyLagFor(this.source, this.standby, this.safetyLagMs);
    const [schema, table] = splitTable(config.table);
    const field = `sources.${this.source}.tables[${config.table}].table`;
    const { rows } = await this.run<{ oid: number | null }>('SELECT to_regclass($1)::oid::int8 AS oid', [
      `${quoteIdent('postgres', schema)}.${quoteIdent('postgres', table)}`,
    ]);
    const oid = rows[0]?.oid ?? null;
    if (oid === null) {
      throw new DsrCdcError(
        'CONFIG_INVALID',
        `table ${config.table} does not exist (or is not visible to the poller's role); fix ${field}`,
        {
          field,
        },
      );
    }
    const columns = await loadColumns(this.connected, schema, table);
    const names = columns.map((c) => c.name);
    const pk = await this.run<{ name: string }>(
      `SELECT a.attname AS name FROM pg_index i
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.n`,
      [oid],
    );
    const { cursor, key } = checkColumns(
      this.source,
      config,
      names,
      pk.rows.map((r) => r.name),
    );
    const cursorType = baseType((columns.find((c) => c.name === cursor) as (typeof columns)[number]).type);
    const cursorKind = checkCursorKind(
      this.source,
      config,
      cursor,
      TIMESTAMP_TYPES.has(cursorType.name)
        ? 'timestamp'
        : INTEGER_TYPES.has(cursorType.name)
          ? 'integer'
          : undefined,
      cursorType.name,
    );
    const indexed = await this.run<{ indexed: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                       WHERE i.indrelid = $1 AND a.attname = $2) AS indexed`,
      [oid, cursor],
    );
    const warnings = [
      ...(indexed.rows[0]?.indexed
        ? []
        : [
            `cursor column "${cursor}" of ${config.table} leads no index: every poll scans the table; create an index on (${[cursor, ...key.filter((k) => k !== cursor)].join(', ')})`,
          ]),
      ...(standbyWarning ? [standbyWarning] : []),
    ];
    const soft = config.deletes?.softDeleteColumn;
    return {
      schema,
      table,
      mode: config.mode,
      columns: names,
      cursor,
      cursorKind,
      key,
      ...(soft
        ? {
            softDelete: {
              column: soft,
              boolean:
                baseType((columns.find((c) => c.name === soft) as (typeof columns)[number]).type).name ===
                'bool',
            },
          }
        : {}),
      ...(config.deletes?.compareKeysEvery ? { compareKeysEvery: config.deletes.compareKeysEvery } : {}),
      relation: {
        oid,
        schema,
        name: table,
        replicaIdentity: 'default',
        columns: columns.map((c) => ({
          name: c.name,
          typeOid: c.type.oid,
          typeMod: c.typeMod,
          isKey: key.includes(c.name),
        })),
      },
      warnings,
    };
  }

  async horizon(plan: SqlTablePlan): Promise<HorizonReading> {
    const { lagMs } = safetyLagFor(this.source, this.standby, this.safetyLagMs);
    const bound =
      plan.mode === 'incrementing'
        ? `(SELECT max(${quoteIdent('postgres', plan.cursor)}) FROM ${quoteIdent('postgres', plan.schema)}.${quoteIdent('postgres', plan.table)})::text`
        : `(now() - make_interval(secs => $1::float8 / 1000))::text`;
    // every transaction of this database open now, by virtual xid: held from a transaction's start,
    // before it has an xid (pg_locks and these pg_stat_activity columns need no privilege)
    const { rows } = await this.run<{ xmin: string; xmax: string; vxids: string[]; bound: string | null }>(
      `SELECT pg_snapshot_xmin(s)::text AS xmin, pg_snapshot_xmax(s)::text AS xmax,
              (SELECT coalesce(json_agg(l.virtualtransaction), '[]') FROM pg_locks l
                 JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'virtualxid' AND l.granted AND l.pid <> pg_backend_pid()
                  AND a.datname = current_database()) AS vxids,
              ${bound} AS bound
         FROM pg_current_snapshot() AS s`,
      plan.mode === 'incrementing' ? [] : [lagMs],
    );
    const row = rows[0] as { xmin: string; xmax: string; vxids: string[]; bound: string | null };
    const xmin = BigInt(row.xmin);
    const open = new Set(row.vxids);
    // on a standby an incrementing bound waits out the lag too: the primary's open inserts are unseen
    const minAgeMs = this.standby && plan.mode === 'incrementing' ? lagMs : 0;
    const now = Date.now();
    return {
      sample: { guard: JSON.stringify({ xmax: row.xmax, vxids: row.vxids, at: now }), bound: row.bound },
      released: (sample) => {
        const guard = JSON.parse(sample.guard) as { xmax: string; vxids: string[]; at: number };
        return (
          BigInt(guard.xmax) <= xmin &&
          guard.vxids.every((vxid) => !open.has(vxid)) &&
          now - guard.at >= minAgeMs
        );
      },
    };
  }

  async query(sql: string, params: string[]): Promise<(string | null)[][]> {
    try {
      const result = await this.connected.query<(string | null)[]>({
        text: sql,
        values: params,
        rowMode: 'array',
        types: TEXT_TYPES,
      });
      return result.rows;
    } catch (error) {
      throw translate(error, 'page query');
    }
  }

  toEventText(_plan: SqlTablePlan, row: (string | null)[]): (string | null)[] {
    return row;
  }

  private async run<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.connected.query<R>(sql, params);
    } catch (error) {
      throw translate(error, 'catalog query');
    }
  }
}

/** Connection problems are retryable; anything Postgres refused (permission, bad SQL) is not. */
function translate(error: unknown, what: string): DsrCdcError {
  if (error instanceof DsrCdcError) return error;
  const code = (error as { code?: string }).code;
  const message = pgErrorText(code, (error as Error).message);
  if (code === undefined || code.startsWith('08') || code === '57P01') {
    return new DsrCdcError('CONNECTION_FAILED', `Postgres ${what} failed: ${message}`, {
      retryable: true,
      cause: error,
    });
  }
  return new DsrCdcError('REQUEST_REJECTED', `Postgres refused the ${what} (${code}): ${message}`, {
    cause: error,
  });
}
