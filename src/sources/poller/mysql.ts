/**
 * The MySQL/MariaDB driver of the SQL poller (`mysql2`).
 *
 * Types: each MySQL column maps to the Postgres type whose Avro mapping holds it exactly (table in
 * docs/type-mapping.md, "MySQL/MariaDB pollers"), and its value is rewritten into that type's
 * Postgres text form, so the one mapping in events/pg-types.ts serves both. Types without an exact
 * counterpart (TIME, which spans ±838 hours; spatial types; anything unknown) travel as strings.
 *
 * Horizon: MySQL exposes no transaction horizon, so the bound is the clock: timestamp mode reads
 * rows with a cursor below `NOW(6) − safetyLagMs`; incrementing mode reads ids up to the largest id
 * seen at least `safetyLagMs` ago. The lag must exceed the longest write transaction.
 */
import mysql from 'mysql2/promise';
import { DsrCdcError } from '../../errors.js';
import type { PgType } from '../../events/pg-types.js';
import type { SqlTableConfig } from './config.js';
import {
  checkColumns,
  checkCursorKind,
  type HorizonReading,
  type SqlDriver,
  type SqlTablePlan,
} from './sql.js';
import { quoteIdent, splitTable } from './watermark.js';

/** The Postgres types MySQL columns map to (OIDs as in pg_type, so contracts read the same). */
const PG: Record<string, PgType> = Object.fromEntries(
  (
    [
      [16, 'bool'],
      [17, 'bytea'],
      [20, 'int8'],
      [21, 'int2'],
      [23, 'int4'],
      [25, 'text'],
      [114, 'json'],
      [700, 'float4'],
      [701, 'float8'],
      [1082, 'date'],
      [1114, 'timestamp'],
      [1184, 'timestamptz'],
      [1700, 'numeric'],
    ] as const
  ).map(([oid, name]) => [name, { oid, name, kind: 'base' }]),
);

/** A type of no exact counterpart: the MySQL text as a string (`pg.type` names the MySQL type). */
const FALLBACK_OID_BASE = 2_000_000_000;

interface MysqlColumn {
  name: string;
  dataType: string;
  columnType: string;
  precision: number | null;
  scale: number | null;
}

interface Mapped {
  type: PgType;
  typeMod: number;
  /** Rewrites MySQL's text into the Postgres text form of `type`. */
  text: (value: string) => string;
}

const same = (value: string) => value;

/** The mapping of one MySQL column (pure). */
export function mapMysqlColumn(column: MysqlColumn, fallbacks: Map<string, PgType>): Mapped {
  const unsigned = /\bunsigned\b/i.test(column.columnType);
  const base = (name: string, typeMod = -1, text = same): Mapped => ({
    type: PG[name] as PgType,
    typeMod,
    text,
  });
  switch (column.dataType.toLowerCase()) {
    case 'tinyint':
      return base('int2');
    case 'smallint':
      return base(unsigned ? 'int4' : 'int2');
    case 'mediumint':
      return base('int4');
    case 'int':
      return base(unsigned ? 'int8' : 'int4');
    case 'bigint':
      return unsigned ? base('numeric', ((20 << 16) | 0) + 4) : base('int8');
    case 'decimal':
      return base('numeric', (((column.precision ?? 10) << 16) | (column.scale ?? 0)) + 4);
    case 'float':
      return base('float4');
    case 'double':
      return base('float8');
    case 'char':
    case 'varchar':
    case 'tinytext':
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
      return base('text');
    case 'json':
      return base('json');
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
    case 'bit':
      return base('bytea', -1, (value) => `\\x${Buffer.from(value, 'latin1').toString('hex')}`);
    case 'year':
      return base('int2');
    case 'date':
      return base('date');
    case 'datetime':
      return base('timestamp');
    case 'timestamp':
      // the session runs in UTC (time_zone '+00:00'), so the text is the UTC instant
      return base('timestamptz', -1, (value) => `${value}+00`);
    default: {
      const name = `mysql.${column.dataType.toLowerCase()}`;
      let type = fallbacks.get(name);
      if (!type) {
        type = { oid: FALLBACK_OID_BASE + fallbacks.size, name, kind: 'other' };
        fallbacks.set(name, type);
      }
      return { type, typeMod: -1, text: same };
    }
  }
}

const STRING_TYPES = new Set([
  'BLOB',
  'TINY_BLOB',
  'MEDIUM_BLOB',
  'LONG_BLOB',
  'STRING',
  'VAR_STRING',
  'BIT',
  'GEOMETRY',
]);

/**
 * Every value as text: binary strings as latin1 (byte-exact), the rest as UTF-8. mysql2's own
 * parser (`next`) tells binary from text strings: a Buffer for binary, a string for text.
 */
const asText = (
  field: { type: string; extendedFormat?: string; string(encoding?: string): string | null },
  next: () => unknown,
): string | null => {
  // JSON (MySQL's type, MariaDB's json-format LONGTEXT): the exact text, never mysql2's parse
  if (field.type === 'JSON' || field.extendedFormat === 'json') return field.string('utf8');
  if (!STRING_TYPES.has(field.type)) return field.string();
  const value = next();
  return Buffer.isBuffer(value) ? value.toString('latin1') : (value as string | null);
};

/**
 * What an error of MySQL/MariaDB may say in our messages (pure): they reach run history, logs and
 * the status API, and some quote a row value ("Incorrect DATETIME value: '<v>'", "Truncated
 * incorrect DOUBLE value: '<v>'", "Duplicate entry '<v>' for key …"); of those only the error code
 * (given alongside) is kept.
 */
export function mysqlErrorText(message: string): string {
  return /\b(value|entry)\b[^']*'/i.test(message) ? 'the message quotes a value and is not shown' : message;
}

export class MysqlPollerDriver implements SqlDriver {
  readonly dialect = 'mysql' as const;
  private connection: mysql.Connection | undefined;
  private readonly fallbacks = new Map<string, PgType>();
  private readonly mappings = new Map<string, Mapped[]>();

  constructor(
    private readonly source: string,
    private readonly options: mysql.ConnectionOptions,
    private readonly safetyLagMs: number,
  ) {}

  get db(): string {
    return String(this.options.database ?? '');
  }

  async connect(): Promise<void> {
    if (this.connection) return;
    try {
      const connection = await mysql.createConnection({
        ...this.options,
        connectTimeout: 10_000,
        rowsAsArray: true,
        typeCast: asText as never,
      });
      connection.on('error', () => undefined); // a dropped connection fails the running query instead
      await connection.query("SET time_zone = '+00:00'");
      this.connection = connection;
    } catch (error) {
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `cannot connect to MySQL/MariaDB for poller '${this.source}': ${(error as Error).message}`,
        {
          retryable: true,
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.end().catch(() => connection.destroy());
  }

  async types(oids: number[]): Promise<Map<number, PgType>> {
    const all = [...Object.values(PG), ...this.fallbacks.values()];
    return new Map(oids.flatMap((oid) => all.filter((t) => t.oid === oid).map((t) => [oid, t] as const)));
  }

  async describe(config: SqlTableConfig): Promise<SqlTablePlan> {
    const [schema, table] = splitTable(config.table);
    const field = `sources.${this.source}.tables[${config.table}].table`;
    const columns = (
      await this.query(
        `SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE FROM information_schema.COLUMNS
          WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [schema, table],
      )
    ).map(([name, dataType, columnType, precision, scale]) => ({
      name: name as string,
      dataType: dataType as string,
      columnType: columnType as string,
      precision: precision === null || precision === undefined ? null : Number(precision),
      scale: scale === null || scale === undefined ? null : Number(scale),
    }));
    if (columns.length === 0) {
      throw new DsrCdcError(
        'CONFIG_INVALID',
        `table ${config.table} does not exist (or is not visible to the poller's account); fix ${field}`,
        {
          field,
        },
      );
    }
    const names = columns.map((c) => c.name);
    const pk = await this.query(
      `SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
        WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`,
      [schema, table],
    );
    const { cursor, key } = checkColumns(
      this.source,
      config,
      names,
      pk.map(([name]) => name as string),
    );
    const mapped = columns.map((c) => mapMysqlColumn(c, this.fallbacks));
    this.mappings.set(config.table, mapped);
    const typeOf = (name: string) => (mapped[names.indexOf(name)] as Mapped).type.name;
    const cursorType = typeOf(cursor);
    const cursorKind = checkCursorKind(
      this.source,
      config,
      cursor,
      ['timestamp', 'timestamptz', 'date'].includes(cursorType)
        ? 'timestamp'
        : ['int2', 'int4', 'int8'].includes(cursorType)
          ? 'integer'
          : undefined,
      columns[names.indexOf(cursor)]?.columnType ?? cursorType,
    );
    const binaryKey = key.find((k) => typeOf(k) === 'bytea');
    if (binaryKey) {
      throw new DsrCdcError(
        'CONFIG_INVALID',
        `key column "${binaryKey}" of ${config.table} is binary, which the MySQL poller cannot order by yet`,
        {
          field: `sources.${this.source}.tables[${config.table}].key`,
        },
      );
    }
    const indexed = await this.query(
      `SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1 LIMIT 1`,
      [schema, table, cursor],
    );
    const soft = config.deletes?.softDeleteColumn;
    return {
      schema,
      table,
      mode: config.mode,
      columns: names,
      cursor,
      cursorKind,
      key,
      ...(soft ? { softDelete: { column: soft, boolean: ['int2', 'bool'].includes(typeOf(soft)) } } : {}),
      ...(config.deletes?.compareKeysEvery ? { compareKeysEvery: config.deletes.compareKeysEvery } : {}),
      relation: {
        oid: 0,
        schema,
        name: table,
        replicaIdentity: 'default',
        columns: columns.map((c, i) => ({
          name: c.name,
          typeOid: (mapped[i] as Mapped).type.oid,
          typeMod: (mapped[i] as Mapped).typeMod,
          isKey: key.includes(c.name),
        })),
      },
      warnings:
        indexed.length > 0
          ? []
          : [
              `cursor column "${cursor}" of ${config.table} leads no index: every poll scans the table; create an index on (${[cursor, ...key.filter((k) => k !== cursor)].join(', ')})`,
            ],
    };
  }

  async horizon(plan: SqlTablePlan): Promise<HorizonReading> {
    const q = (name: string) => quoteIdent('mysql', name);
    if (plan.mode === 'incrementing') {
      const [[max = null] = []] = await this.query(
        `SELECT MAX(${q(plan.cursor)}) FROM ${q(plan.schema)}.${q(plan.table)}`,
        [],
      );
      const lag = this.safetyLagMs;
      return {
        sample: { guard: String(Date.now()), bound: max },
        released: (sample) => Number(sample.guard) <= Date.now() - lag,
      };
    }
    const [[bound = null] = []] = await this.query(
      `SELECT DATE_FORMAT(NOW(6) - INTERVAL ? MICROSECOND, '%Y-%m-%d %H:%i:%s.%f')`,
      [String(this.safetyLagMs * 1000)],
    );
    return { sample: { guard: String(Date.now()), bound }, released: () => true };
  }

  async query(sql: string, params: string[]): Promise<(string | null)[][]> {
    if (!this.connection) throw new DsrCdcError('INTERNAL', 'MySQL poller used before connect()');
    try {
      const [rows] = await this.connection.query<mysql.RowDataPacket[]>(sql, params);
      return rows as unknown as (string | null)[][];
    } catch (error) {
      const code = (error as { code?: string; fatal?: boolean }).code ?? '';
      if ((error as { fatal?: boolean }).fatal || /^(ECONN|ETIMEDOUT|PROTOCOL_)/.test(code)) {
        this.connection = undefined;
        throw new DsrCdcError(
          'CONNECTION_FAILED',
          `MySQL/MariaDB query failed: ${(error as Error).message}`,
          { retryable: true, cause: error },
        );
      }
      throw new DsrCdcError(
        'REQUEST_REJECTED',
        `MySQL/MariaDB refused a query (${code}): ${mysqlErrorText((error as Error).message)}`,
        { cause: error },
      );
    }
  }

  toEventText(plan: SqlTablePlan, row: (string | null)[]): (string | null)[] {
    const mapped = this.mappings.get(`${plan.schema}.${plan.table}`) ?? [];
    return row.map((value, i) => (value === null ? null : (mapped[i]?.text ?? same)(value)));
  }
}
