/**
 * Smoke test of the Snowflake endpoint (by default the local emulator, stack/snowflake): types
 * round-trip exactly through snowflake-sdk, array binds, UPDATE and MERGE compute what Snowflake
 * computes, and a bad statement fails at once with its error. Every statement is meant to be
 * valid on a real Snowflake account as well (DSR_CDC_SNOWFLAKE_URL and friends).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import * as sql from '../../src/consumers/snowflake-loader/sql.js';
import { type Binds, connectSnowflake, type SnowflakeTestClient } from '../support/snowflake.js';

const suffix = randomBytes(4).toString('hex').toUpperCase();
const TABLE = `SMOKE_${suffix}`;
const SOURCE = `SMOKE_${suffix}_SRC`;
/** A loader table (sql.ts builds its statements) for the soft-delete check. */
const SOFT: sql.TableContract = {
  table: sql.q(`SMOKE_${suffix}_SOFT`),
  stage: sql.q(`SMOKE_${suffix}_SOFT__DSR_STAGE`),
  columns: [
    { target: 'ID', type: 'NUMBER(19,0)' },
    { target: 'EMAIL', type: 'VARCHAR' },
  ],
  key: ['ID'],
  keyNullable: false,
};

/** 38 significant digits: far beyond 2^53, so only an exact decimal path keeps it. */
const BIG_ID = '12345678901234567890123456789012345678';

// ID, AMOUNT, NAME, ACTIVE, CREATED_AT (TIMESTAMP_NTZ), SEEN_AT (TIMESTAMP_TZ), BORN (DATE)
const ROWS: Binds = [
  [
    BIG_ID,
    '1234.567890123',
    'alice',
    true,
    '1969-07-20 20:17:40.123',
    '2024-03-01T12:00:00.250+02:00',
    '1969-07-20',
  ],
  ['2', '-0.000000001', 'bob', false, '2024-02-29 23:59:59.999', '2024-02-29T23:59:59+00:00', '2000-01-01'],
  ['3', null, null, null, null, null, null],
];

interface SmokeRow {
  ID: string;
  AMOUNT: string | null;
  NAME: string | null;
  ACTIVE: boolean | null;
  CREATED_AT: Date | null;
  SEEN_AT: Date | null;
  BORN: Date | null;
  ATTRS: unknown;
  PAYLOAD: Buffer | null;
}

/** The instant of a DATE or TIMESTAMP value (the driver returns them as Dates). */
const iso = (value: Date | null) => (value === null ? null : value.toISOString());

describe('Snowflake (emulator) smoke', () => {
  let sf: SnowflakeTestClient | undefined;

  const db = () => {
    if (!sf) throw new Error('not connected');
    return sf;
  };

  beforeAll(async () => {
    sf = await connectSnowflake();
    const { database, schema } = loadConnections().snowflake;
    await sf.execute(`CREATE DATABASE IF NOT EXISTS ${database}`);
    await sf.execute(`CREATE SCHEMA IF NOT EXISTS ${database}.${schema}`);
    await sf.execute(`USE SCHEMA ${database}.${schema}`);
    await sf.execute(
      `CREATE TABLE ${TABLE} (ID NUMBER(38,0), AMOUNT NUMBER(38,9), NAME VARCHAR, ACTIVE BOOLEAN, ` +
        'CREATED_AT TIMESTAMP_NTZ, SEEN_AT TIMESTAMP_TZ, BORN DATE, ATTRS VARIANT, PAYLOAD BINARY)',
    );
  });

  afterAll(async () => {
    if (!sf) return;
    try {
      await sf.execute(`DROP TABLE IF EXISTS ${TABLE}`);
      await sf.execute(`DROP TABLE IF EXISTS ${SOURCE}`);
      await sf.execute(`DROP TABLE IF EXISTS ${SOFT.table}`);
      await sf.execute(`DROP TABLE IF EXISTS ${SOFT.stage}`);
    } finally {
      await sf.destroy();
    }
  });

  it('round-trips typed values, NULLs and array binds exactly', async () => {
    const inserted = await db().execute(
      `INSERT INTO ${TABLE} (ID, AMOUNT, NAME, ACTIVE, CREATED_AT, SEEN_AT, BORN) ` +
        'VALUES (?, ?, ?, ?, ?, ?, ?)',
      ROWS,
    );
    expect(inserted).toEqual([{ 'number of rows inserted': 3 }]);

    // VARIANT and BINARY take a function of the bound text (not allowed in VALUES on Snowflake)
    const update =
      `UPDATE ${TABLE} SET ATTRS = PARSE_JSON(?), PAYLOAD = TO_BINARY(?, 'HEX') ` +
      'WHERE ID = CAST(? AS NUMBER(38,0))';
    await db().execute(update, ['{"tags":["a","b"],"n":1.5}', 'DEADBEEF', BIG_ID]);
    await db().execute(update, ['[1,null,"x"]', '00FF', '2']);

    const rows = await db().execute<SmokeRow>(`SELECT * FROM ${TABLE} ORDER BY ID`, undefined, {
      fetchAsString: ['Number'],
    });
    expect(
      rows.map((row) => ({
        ...row,
        CREATED_AT: iso(row.CREATED_AT),
        // only the instant: the emulator keeps TIMESTAMP_TZ values in UTC, not their offset
        SEEN_AT: iso(row.SEEN_AT),
        BORN: iso(row.BORN),
        PAYLOAD: row.PAYLOAD?.toString('hex') ?? null,
      })),
    ).toEqual([
      {
        ID: '2',
        AMOUNT: '-0.000000001',
        NAME: 'bob',
        ACTIVE: false,
        CREATED_AT: '2024-02-29T23:59:59.999Z',
        SEEN_AT: '2024-02-29T23:59:59.000Z',
        BORN: '2000-01-01T00:00:00.000Z',
        ATTRS: [1, null, 'x'],
        PAYLOAD: '00ff',
      },
      {
        ID: '3',
        AMOUNT: null,
        NAME: null,
        ACTIVE: null,
        CREATED_AT: null,
        SEEN_AT: null,
        BORN: null,
        ATTRS: null,
        PAYLOAD: null,
      },
      {
        ID: BIG_ID,
        AMOUNT: '1234.567890123',
        NAME: 'alice',
        ACTIVE: true,
        CREATED_AT: '1969-07-20T20:17:40.123Z',
        SEEN_AT: '2024-03-01T10:00:00.250Z',
        BORN: '1969-07-20T00:00:00.000Z',
        ATTRS: { tags: ['a', 'b'], n: 1.5 },
        PAYLOAD: 'deadbeef',
      },
    ]);
  });

  it('MERGE updates, inserts and deletes as Snowflake does', async () => {
    await db().execute(`CREATE TABLE ${SOURCE} (ID NUMBER(38,0), NAME VARCHAR, OP VARCHAR)`);
    await db().execute(`INSERT INTO ${SOURCE} (ID, NAME, OP) VALUES (?, ?, ?)`, [
      ['2', 'bobby', 'U'],
      ['3', null, 'D'],
      ['4', 'dave', 'I'],
    ]);

    const merged = await db().execute(
      `MERGE INTO ${TABLE} t USING ${SOURCE} s ON t.ID = s.ID ` +
        "WHEN MATCHED AND s.OP = 'D' THEN DELETE " +
        'WHEN MATCHED THEN UPDATE SET NAME = s.NAME ' +
        'WHEN NOT MATCHED THEN INSERT (ID, NAME) VALUES (s.ID, s.NAME)',
    );
    expect(merged).toEqual([
      { 'number of rows inserted': 1, 'number of rows updated': 1, 'number of rows deleted': 1 },
    ]);

    const rows = await db().execute(`SELECT ID, NAME, ACTIVE FROM ${TABLE} ORDER BY ID`, undefined, {
      fetchAsString: ['Number'],
    });
    expect(rows).toEqual([
      { ID: '2', NAME: 'bobby', ACTIVE: false },
      { ID: '4', NAME: 'dave', ACTIVE: null },
      { ID: BIG_ID, NAME: 'alice', ACTIVE: true },
    ]);
  });

  it("the loader's soft delete keeps the row, flagged deleted, values (PII) included", async () => {
    await db().execute(sql.createTable(SOFT));
    await db().execute(sql.createStage(SOFT));
    // partition, unchanged, op, lsn, seq, commit ts, flags, ID, EMAIL (sql.insertStage)
    const stage = async (op: string, lsn: string, email: string | null) => {
      await db().execute(sql.clearStage(SOFT), [0]);
      await db().execute(sql.insertStage(SOFT), [['0', '', op, lsn, '0', null, '[]', '7', email]]);
    };
    await stage('c', '10', 'jane@example.test');
    await db().execute(sql.insertRows(SOFT), [0]);
    await stage('d', '11', null);
    await db().execute(sql.deleteRows(SOFT, 'soft'), [0]);
    const rows = await db().execute(
      `SELECT "ID", "EMAIL", "_DSR_OP", "_DSR_DELETED", "_DSR_COMMIT_LSN" FROM ${SOFT.table}`,
      undefined,
      { fetchAsString: ['Number'] },
    );
    expect(rows).toEqual([
      { ID: '7', EMAIL: 'jane@example.test', _DSR_OP: 'd', _DSR_DELETED: true, _DSR_COMMIT_LSN: '11' },
    ]);
  });

  it('fails a bad statement at once with its error', { timeout: 10_000 }, async () => {
    const missing = `SMOKE_${suffix}_MISSING`;
    for (const [sql, pattern] of [
      ['SELEC 1', /SELEC/],
      [`SELECT * FROM ${missing}`, new RegExp(missing)],
      // fakesnow answers this one with HTTP 500, which the driver would retry for minutes
      ["SELECT PARSE_JSON('not json')", /JSON/],
    ] as const) {
      const started = Date.now();
      await expect(db().execute(sql)).rejects.toThrow(pattern);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });
});
