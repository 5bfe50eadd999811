/**
 * The SQL poller (Postgres and MySQL/MariaDB alike; the differences live in a SqlDriver): for each
 * table, pages of rows after the stored watermark and below the poll's horizon, each row published
 * as a change event, the watermark stored after Kafka acknowledged the page.
 *
 * What a poller emits (it sees states, not changes, so it cannot tell an insert from an update):
 * - timestamp mode: op `u` with `before` null for every row whose cursor moved, first seen or not
 *   ("the row is now this"); incrementing mode (append-only): op `c`.
 * - deletes: op `d` when the soft-delete column marks the row, or when a key comparison run finds a
 *   key this process had seen missing from the table (`before` holds the key columns only).
 * - `source.seq` is the cursor as a number (µs since the epoch for timestamps): with the key it
 *   identifies a row version, so a row re-published after a crash is an exact duplicate.
 */

import { DsrCdcError } from '../../errors.js';
import type { ChangeToEncode, ContractCatalog, TableEncoder } from '../../events/contracts.js';
import type { PgType } from '../../events/pg-types.js';
import type { Logger } from '../../observability/logger.js';
import type { TestReport } from '../../runtime/component.js';
import type { Relation } from '../../sources/postgres/pgoutput.js';
import type { SqlTableConfig } from './config.js';
import type { PollerPublisher } from './publisher.js';
import {
  buildPageQuery,
  type CursorKind,
  cursorOrdinal,
  type Dialect,
  type HorizonSample,
  quoteIdent,
  releaseHorizon,
  splitTable,
  type Watermark,
} from './watermark.js';

/** What a driver found out about a configured table. */
export interface SqlTablePlan {
  schema: string;
  table: string;
  mode: 'timestamp' | 'incrementing';
  /** Every column, in table order (what is selected and published). */
  columns: string[];
  cursor: string;
  cursorKind: CursorKind;
  /** The table's key columns (the event key). */
  key: string[];
  /** Soft-delete column and whether it is a boolean (else: deleted when not null). */
  softDelete?: { column: string; boolean: boolean };
  compareKeysEvery?: number;
  /** The shape the ContractCatalog registers contracts from. */
  relation: Relation;
  /** Problems worth a warning, e.g. a cursor without an index (never values). */
  warnings: string[];
}

export interface HorizonReading {
  sample: HorizonSample;
  /** Whether an earlier sample is safe now. */
  released: (sample: HorizonSample) => boolean;
}

/** The database-specific part of a SQL poller. Rows are arrays aligned with `plan.columns`. */
export interface SqlDriver {
  readonly dialect: Dialect;
  /** Which database/namespace the envelope's `source.db` names. */
  readonly db: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** The TypeCatalog of the poller's ContractCatalog (the Postgres types columns map as). */
  types(oids: number[]): Promise<Map<number, PgType>>;
  /** Catalog checks: throws CONFIG_INVALID naming a missing table or column. */
  describe(table: SqlTableConfig): Promise<SqlTablePlan>;
  horizon(plan: SqlTablePlan): Promise<HorizonReading>;
  /** Runs a page query; values as the database's text form (for the watermark). */
  query(sql: string, params: string[]): Promise<(string | null)[][]>;
  /** The text the contract's value mapping reads (Postgres text form), per column. */
  toEventText(plan: SqlTablePlan, row: (string | null)[]): (string | null)[];
}

export interface SqlPollerOptions {
  name: string;
  tables: readonly SqlTableConfig[];
  pageRows: number;
  /** How long a run waits for its own horizon sample to become safe before using an older one. */
  horizonWaitMs?: number;
}

interface TableRuntime {
  plan: SqlTablePlan;
  encoder: TableEncoder;
  samples: HorizonSample[];
  /** Keys seen by this process (delete detection by comparison); undefined until the first comparison. */
  knownKeys?: Set<string>;
}

const tableId = (plan: { schema: string; table: string }) => `${plan.schema}.${plan.table}`;

export class SqlPoller {
  private tables: TableRuntime[] | undefined;
  private runs = 0;

  constructor(
    private readonly options: SqlPollerOptions,
    private readonly driver: SqlDriver,
    private readonly contracts: ContractCatalog,
    private readonly publisher: PollerPublisher,
    private readonly logger: Logger,
  ) {}

  /** Connects, checks every table and registers its contracts (once per process). */
  async open(): Promise<void> {
    await this.driver.connect();
    if (!this.publisher.opened) await this.publisher.open();
    if (this.tables) return;
    const tables: TableRuntime[] = [];
    for (const config of this.options.tables) {
      const plan = await this.driver.describe(config);
      for (const warning of plan.warnings) this.logger.warn({ table: tableId(plan) }, warning);
      const encoder = await this.contracts.forRelation(plan.relation);
      tables.push({ plan, encoder, samples: [] });
    }
    await this.publisher.ensureTopics(tables.map((t) => t.encoder.topic));
    this.tables = tables;
  }

  async close(): Promise<void> {
    await this.driver.close().catch(() => undefined);
    await this.publisher.close();
  }

  /** One poll of every table up to its horizon; returns the rows published. */
  async runOnce(signal?: AbortSignal): Promise<number> {
    await this.open();
    this.runs += 1;
    let rows = 0;
    for (const table of this.tables ?? []) {
      if (signal?.aborted) break;
      rows += await this.pollTable(table, signal);
      const every = table.plan.compareKeysEvery;
      if (every !== undefined && (this.runs - 1) % every === 0) rows += await this.compareKeys(table);
    }
    return rows;
  }

  async test(): Promise<TestReport['checks']> {
    const checks = await connectAndRead(this.driver, this.options.tables);
    for (const config of this.options.tables) {
      try {
        const plan = await this.driver.describe(config);
        checks.push({
          name: `table ${config.table}`,
          ok: true,
          ...(plan.warnings.length ? { detail: plan.warnings.join('; ') } : {}),
        });
      } catch (error) {
        checks.push({ name: `table ${config.table}`, ok: false, detail: (error as Error).message });
      }
    }
    return checks;
  }

  private async upperBound(table: TableRuntime): Promise<HorizonSample | undefined> {
    const first = await this.driver.horizon(table.plan);
    table.samples.push(first.sample);
    const deadline = Date.now() + (this.options.horizonWaitMs ?? 2_000);
    let reading = first;
    // wait briefly for transactions open at the sample to end, so a run publishes up to its start
    while (!reading.released(first.sample) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      reading = await this.driver.horizon(table.plan);
    }
    const { bound, waiting } = releaseHorizon(table.samples, reading.released);
    // keep the released sample: it stays the bound until a later one is released
    table.samples = bound ? [bound, ...waiting] : waiting;
    return bound;
  }

  private async pollTable(table: TableRuntime, signal?: AbortSignal): Promise<number> {
    const { plan, encoder } = table;
    const id = tableId(plan);
    const upper = await this.upperBound(table);
    if (!upper || upper.bound === null) return 0;
    const orderKey = plan.key.filter((k) => k !== plan.cursor);
    const cursorIndex = plan.columns.indexOf(plan.cursor);
    const keyIndexes = orderKey.map((k) => plan.columns.indexOf(k));
    const fullKeyIndexes = plan.key.map((k) => plan.columns.indexOf(k));
    const softIndex = plan.softDelete ? plan.columns.indexOf(plan.softDelete.column) : -1;
    let after: Watermark | null = this.publisher.watermark(id) ?? null;
    let published = 0;
    for (;;) {
      const { sql, params } = buildPageQuery({
        dialect: this.driver.dialect,
        schema: plan.schema,
        table: plan.table,
        columns: plan.columns,
        cursor: plan.cursor,
        key: orderKey,
        after,
        upper: { value: upper.bound as string, inclusive: plan.mode === 'incrementing' },
        limit: this.options.pageRows,
      });
      const rows = await this.driver.query(sql, params);
      if (rows.length === 0) break;
      for (const row of rows) {
        const cursor = row[cursorIndex];
        if (cursor === null || cursor === undefined) continue; // NULL cursors never match `> watermark`
        const seq = cursorOrdinal(plan.cursorKind, cursor, plan.cursor);
        const text = this.driver.toEventText(plan, row);
        const deleted = softIndex >= 0 && isMarked(row[softIndex] ?? null, plan.softDelete?.boolean ?? false);
        const change: ChangeToEncode = {
          op: deleted ? 'd' : plan.mode === 'incrementing' ? 'c' : 'u',
          before: deleted ? text : null,
          after: deleted ? null : text,
          lsn: null,
          commitLsn: null,
          txId: null,
          commitTs: plan.cursorKind === 'timestamp' ? seq : null,
          seq,
          snapshot: false,
        };
        await this.publisher.publish(encoder, change);
        table.knownKeys?.add(JSON.stringify(fullKeyIndexes.map((i) => row[i])));
      }
      const last = rows[rows.length - 1] as (string | null)[];
      after = { cursor: last[cursorIndex] as string, key: keyIndexes.map((i) => last[i] as string) };
      await this.publisher.commit({ [id]: after });
      published += rows.length;
      if (rows.length < this.options.pageRows || signal?.aborted) break;
    }
    return published;
  }

  /**
   * Emits op d for every key seen before (by this process) that the table no longer has. The
   * first comparison after a start only records the keys: deletes while no process ran are not
   * detected (the soft-delete column is the way to catch those).
   */
  private async compareKeys(table: TableRuntime): Promise<number> {
    const { plan, encoder } = table;
    const current = new Map((await allKeys(this.driver, plan)).map((k) => [JSON.stringify(k), k] as const));
    const known = table.knownKeys;
    table.knownKeys = new Set(current.keys());
    if (!known) return 0;
    let deleted = 0;
    const now = BigInt(Date.now()) * 1000n;
    for (const key of known) {
      if (current.has(key)) continue;
      const values = JSON.parse(key) as (string | null)[];
      const before = plan.columns.map((c) => {
        const i = plan.key.indexOf(c);
        return i >= 0 ? (values[i] ?? null) : null;
      });
      await this.publisher.publish(encoder, {
        op: 'd',
        before: this.driver.toEventText(plan, before),
        after: null,
        lsn: null,
        commitLsn: null,
        txId: null,
        commitTs: null,
        seq: now,
        snapshot: false,
      });
      deleted += 1;
    }
    if (deleted > 0) await this.publisher.commit({});
    return deleted;
  }
}

function isMarked(value: string | null, boolean: boolean): boolean {
  if (value === null) return false;
  return boolean ? ['t', 'true', '1'].includes(value.toLowerCase()) : true;
}

/** Every key of the table (for delete detection by comparison). */
async function allKeys(driver: SqlDriver, plan: SqlTablePlan): Promise<string[][]> {
  const q = (name: string) => quoteIdent(driver.dialect, name);
  return (await driver.query(
    `SELECT ${plan.key.map(q).join(', ')} FROM ${q(plan.schema)}.${q(plan.table)}`,
    [],
  )) as string[][];
}

/** Connectivity and permission checks: connect, then read one row of each table. */
async function connectAndRead(
  driver: SqlDriver,
  tables: readonly SqlTableConfig[],
): Promise<TestReport['checks']> {
  const checks: TestReport['checks'] = [];
  try {
    await driver.connect();
    checks.push({ name: 'connect', ok: true });
  } catch (error) {
    checks.push({ name: 'connect', ok: false, detail: (error as Error).message });
    return checks;
  }
  const q = (name: string) => quoteIdent(driver.dialect, name);
  for (const config of tables) {
    const [schema, table] = splitTable(config.table);
    const select = await driver.query(`SELECT 1 FROM ${q(schema)}.${q(table)} LIMIT 1`, []).then(
      () => ({ ok: true }),
      (error: Error) => ({ ok: false, detail: error.message }),
    );
    checks.push({ name: `select ${config.table}`, ...select });
  }
  return checks;
}

/** Checks the configured cursor and key against the table's columns; names what is missing. */
export function checkColumns(
  source: string,
  config: SqlTableConfig,
  columns: readonly string[],
  primaryKey: readonly string[],
): { cursor: string; key: string[] } {
  const field = (suffix: string) => `sources.${source}.tables[${config.table}].${suffix}`;
  const missing = (what: string, column: string, suffix: string) =>
    new DsrCdcError(
      'CONFIG_INVALID',
      `${what} column "${column}" does not exist in ${config.table}; fix ${field(suffix)}`,
      {
        field: field(suffix),
      },
    );
  const key = config.key ? [...config.key] : [...primaryKey];
  if (key.length === 0) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${config.table} has no primary key; name its key columns in ${field('key')}`,
      { field: field('key') },
    );
  }
  for (const column of key) if (!columns.includes(column)) throw missing('key', column, 'key');
  let cursor = config.cursor;
  if (cursor === undefined) {
    if (config.mode === 'timestamp') {
      throw new DsrCdcError('CONFIG_INVALID', `${field('cursor')}: timestamp mode needs a cursor column`, {
        field: field('cursor'),
      });
    }
    if (key.length !== 1) {
      throw new DsrCdcError(
        'CONFIG_INVALID',
        `${field('cursor')}: incrementing mode needs the integer column to follow; the key has ${key.length} columns`,
        { field: field('cursor') },
      );
    }
    cursor = key[0] as string;
  }
  if (!columns.includes(cursor)) throw missing('cursor', cursor, 'cursor');
  const soft = config.deletes?.softDeleteColumn;
  if (soft !== undefined && !columns.includes(soft))
    throw missing('soft-delete', soft, 'deletes.softDeleteColumn');
  return { cursor, key };
}

/**
 * Whether the cursor column's kind fits the table's mode; throws CONFIG_INVALID naming the column
 * and the fix. Timestamp mode compares the cursor with the clock (`now() − safetyLagMs`), which an
 * integer cannot be compared with: an integer cursor is the key of an append-only table, polled in
 * incrementing mode. `typeName` is the column's database type, for the message.
 */
export function checkCursorKind(
  source: string,
  config: SqlTableConfig,
  cursor: string,
  kind: CursorKind | undefined,
  typeName: string,
): CursorKind {
  const field = `sources.${source}.tables[${config.table}]`;
  const column = `cursor column "${cursor}" of ${config.table} is ${typeName}`;
  if (config.mode === 'incrementing') {
    if (kind === 'integer') return kind;
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${column}: incrementing mode needs an integer column; fix ${field}.cursor`,
      { field: `${field}.cursor` },
    );
  }
  if (kind === 'timestamp') return kind;
  if (kind === 'integer') {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${column}, an integer: timestamp mode bounds cursors by the clock (now − safetyLagMs) and needs a timestamp or date column; for an append-only table keyed by an increasing integer use mode: incrementing (${field}.mode)`,
      { field: `${field}.mode` },
    );
  }
  throw new DsrCdcError(
    'CONFIG_INVALID',
    `${column}: timestamp mode needs a timestamp or date column; fix ${field}.cursor`,
    { field: `${field}.cursor` },
  );
}
