/** The loader's SQL: identifiers always quoted, values only ever as binds. */
import { describe, expect, it } from 'vitest';
import * as sql from '../../../../src/consumers/snowflake-loader/sql.js';

const CONTRACT: sql.TableContract = {
  table: `"DB"."S"."SHOP__PUBLIC__ACCOUNTS"`,
  stage: `"DB"."S"."SHOP__PUBLIC__ACCOUNTS__DSR_STAGE"`,
  columns: [
    { target: 'ID', type: 'NUMBER(19,0)' },
    { target: 'select', type: 'VARCHAR' }, // a reserved word, and lower case
    { target: 'SAY "HI"', type: 'VARIANT' },
    { target: 'AMOUNT', type: 'NUMBER(10,2)' },
    { target: 'SEEN', type: 'TIMESTAMP_TZ(6)' },
  ],
  key: ['ID'],
  keyNullable: false,
};

/** Every statement the loader builds for CONTRACT. */
const STATEMENTS: Record<string, string> = {
  createTable: sql.createTable(CONTRACT),
  createStage: sql.createStage(CONTRACT),
  clearStage: sql.clearStage(CONTRACT),
  insertStage: sql.insertStage(CONTRACT),
  updateRows: sql.updateRows(CONTRACT, ['SAY "HI"']),
  insertRows: sql.insertRows(CONTRACT),
  deleteHard: sql.deleteRows(CONTRACT, 'hard'),
  deleteSoft: sql.deleteRows(CONTRACT, 'soft'),
  truncateHard: sql.truncateRows(CONTRACT, 'hard'),
  truncateSoft: sql.truncateRows(CONTRACT, 'soft'),
  addColumn: sql.addColumn(CONTRACT.table, { target: 'new col', type: 'DATE' }),
  readOffset: sql.readOffset('"DB"."S"'),
  moveOffset: sql.moveOffset('"DB"."S"'),
  insertOffset: sql.insertOffset('"DB"."S"'),
  tableColumns: sql.tableColumns('DB'),
};

const binds = (statement: string) => (statement.match(/\?/g) ?? []).length;

describe('loader SQL', () => {
  it('quotes every identifier, doubling embedded quotes', () => {
    expect(sql.q('a"b')).toBe('"a""b"');
    for (const statement of Object.values(STATEMENTS)) {
      // outside quoted identifiers and string literals, no column name appears bare
      const bare = statement.replace(/"(?:[^"]|"")*"/g, '').replace(/'[^']*'/g, '');
      for (const { target } of CONTRACT.columns) {
        if (/^[A-Za-z]+$/.test(target)) expect(bare).not.toMatch(new RegExp(`\\b${target}\\b`));
      }
      expect(bare).not.toContain('HI');
    }
    expect(STATEMENTS.createTable).toContain('"SAY ""HI""" VARIANT');
    expect(STATEMENTS.addColumn).toBe(
      `ALTER TABLE "DB"."S"."SHOP__PUBLIC__ACCOUNTS" ADD COLUMN "new col" DATE`,
    );
  });

  it('takes every value as a bind: the documented bind count of each statement', () => {
    const expected: Record<string, number> = {
      createTable: 0,
      createStage: 0,
      clearStage: 1, // partition
      insertStage: 7 + CONTRACT.columns.length, // stage metadata, then one per column
      updateRows: 2, // partition, unchanged set
      insertRows: 1,
      deleteHard: 1,
      deleteSoft: 1,
      truncateHard: 3, // lsn, lsn, seq
      truncateSoft: 3,
      addColumn: 0,
      readOffset: 2,
      moveOffset: 4,
      insertOffset: 3,
      tableColumns: 2,
    };
    expect(Object.fromEntries(Object.entries(STATEMENTS).map(([name, s]) => [name, binds(s)]))).toEqual(
      expected,
    );
    // the only literals are fixed op codes and the hex format name
    for (const statement of Object.values(STATEMENTS)) {
      for (const literal of statement.match(/'[^']*'/g) ?? [])
        expect(["'d'", "'t'", "'HEX'"]).toContain(literal);
    }
  });

  it('creates the table with the contract’s columns then the metadata columns', () => {
    expect(STATEMENTS.createTable).toBe(
      'CREATE TABLE IF NOT EXISTS "DB"."S"."SHOP__PUBLIC__ACCOUNTS" (' +
        '"ID" NUMBER(19,0), "select" VARCHAR, "SAY ""HI""" VARIANT, "AMOUNT" NUMBER(10,2), "SEEN" TIMESTAMP_TZ(6), ' +
        '"_DSR_OP" VARCHAR, "_DSR_COMMIT_LSN" NUMBER(20,0), "_DSR_SEQ" NUMBER(20,0), "_DSR_COMMIT_TS" TIMESTAMP_TZ(6), ' +
        '"_DSR_COERCION_FLAGS" ARRAY, "_DSR_DELETED" BOOLEAN, "_DSR_LOADED_AT" TIMESTAMP_TZ(6))',
    );
  });

  it('stages with one multi-row bind insert of text columns', () => {
    expect(STATEMENTS.insertStage).toBe(
      'INSERT INTO "DB"."S"."SHOP__PUBLIC__ACCOUNTS__DSR_STAGE" ("_DSR_PARTITION", "_DSR_UNCHANGED", "_DSR_OP", ' +
        '"_DSR_COMMIT_LSN", "_DSR_SEQ", "_DSR_COMMIT_TS", "_DSR_COERCION_FLAGS", "ID", "select", "SAY ""HI""", ' +
        '"AMOUNT", "SEEN") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
    expect(STATEMENTS.createStage).toMatch(/"AMOUNT" VARCHAR, "SEEN" VARCHAR\)$/);
  });

  it('converts staged text with the conversion the coercion matrix writes for', () => {
    // hex for BINARY, JSON for VARIANT / ARRAY, text as it is; every other type from its literal
    expect(sql.typed({ target: 'B', type: 'BINARY' })).toBe(`TO_BINARY(S."B", 'HEX')`);
    expect(sql.typed({ target: 'V', type: 'VARIANT' })).toBe('PARSE_JSON(S."V")');
    expect(sql.typed({ target: 'A', type: 'ARRAY' })).toBe('PARSE_JSON(S."A")::ARRAY');
    expect(sql.typed({ target: 'T', type: 'VARCHAR' })).toBe('S."T"');
    for (const type of [
      'NUMBER(10,2)',
      'TIMESTAMP_TZ(6)',
      'TIMESTAMP_NTZ(6)',
      'TIME(6)',
      'DATE',
      'FLOAT',
      'BOOLEAN',
    ]) {
      const typed = sql.typed({ target: 'X', type });
      expect(typed).toContain('S."X"');
      expect(typed.replace(/, /g, ',')).toContain(type.replace(/\(.*$/, ''));
    }
  });

  it('updates only rows the staged change is newer than, keeping unchanged columns', () => {
    const update = STATEMENTS.updateRows as string;
    expect(update).not.toContain('"SAY ""HI""" =');
    expect(update).toContain('"select" = S."select"');
    expect(update).toContain(`S."_DSR_OP" <> 'd'`);
    expect(update).toContain(
      `(S."_DSR_COMMIT_LSN" > T."_DSR_COMMIT_LSN" OR (S."_DSR_COMMIT_LSN" = T."_DSR_COMMIT_LSN" AND S."_DSR_SEQ" > T."_DSR_SEQ"))`,
    );
    expect(update).toContain(`T."ID" = ${sql.typed({ target: 'ID', type: 'NUMBER(19,0)' })}`);
  });

  it('matches NULL keys of a table without a primary key', () => {
    const keyless = sql.insertRows({ ...CONTRACT, key: ['ID', 'select'], keyNullable: true });
    expect(keyless).toContain(`(T."select" = S."select" OR (T."select" IS NULL AND S."select" IS NULL))`);
  });

  it('fences the offset move by the offset read at assignment', () => {
    expect(STATEMENTS.moveOffset).toMatch(/WHERE "TOPIC" = \? AND "PARTITION" = \? AND "NEXT_OFFSET" = \?$/);
  });
});

describe('bindChunks', () => {
  const rows = (count: number, width: number) =>
    Array.from({ length: count }, (_, i) => Array.from({ length: width }, () => i));

  it('keeps every chunk at or under the limit, rows whole and in order', () => {
    const input = rows(23, 4);
    const chunks = sql.bindChunks(input, 10);
    expect(chunks.map((c) => c.length)).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
    expect(chunks.flat()).toEqual(input);
  });

  it('fills a chunk up to exactly the limit (the driver stages only above it)', () => {
    expect(sql.bindChunks(rows(10, 5), 25).map((c) => c.length)).toEqual([5, 5]);
  });

  it('sends a batch under the limit in one statement, and no statement for no rows', () => {
    expect(sql.bindChunks(rows(3, 7))).toHaveLength(1);
    expect(sql.bindChunks([])).toEqual([]);
  });

  it('refuses a row wider than the limit', () => {
    expect(() => sql.bindChunks(rows(1, 11), 10)).toThrow(
      /a row of 11 values exceeds the inline bind limit of 10/,
    );
  });
});

describe('soft deletes', () => {
  it('mark the row deleted and keep its values (the PII stays in the warehouse)', () => {
    const soft = STATEMENTS.deleteSoft as string;
    expect(soft).toMatch(
      /^UPDATE "DB"\."S"\."SHOP__PUBLIC__ACCOUNTS" AS T SET "_DSR_DELETED" = TRUE, "_DSR_OP" = 'd'/,
    );
    // only metadata columns are set: the row's own columns keep their values
    const sets = /SET (.*) FROM/.exec(soft)?.[1] ?? '';
    expect(sets.match(/"[^"]+" =/g)).toEqual([
      '"_DSR_DELETED" =',
      '"_DSR_OP" =',
      '"_DSR_COMMIT_LSN" =',
      '"_DSR_SEQ" =',
      '"_DSR_COMMIT_TS" =',
      '"_DSR_LOADED_AT" =',
    ]);
    expect(STATEMENTS.truncateSoft).toMatch(/^UPDATE .* SET "_DSR_DELETED" = TRUE/);
  });
});
