/** The schema drift gate: an incoming contract against INFORMATION_SCHEMA.COLUMNS. */
import { describe, expect, it } from 'vitest';
import { canonicalType, drift, type TableColumn } from '../../../../src/consumers/snowflake-loader/drift.js';
import { type LoadColumn, META_COLUMNS } from '../../../../src/consumers/snowflake-loader/sql.js';

/** A column as INFORMATION_SCHEMA reports it. */
function info(name: string, type: string): TableColumn {
  const number = /^NUMBER\((\d+),(\d+)\)$/.exec(type);
  return {
    COLUMN_NAME: name,
    DATA_TYPE: number ? 'NUMBER' : type,
    NUMERIC_PRECISION: number ? Number(number[1]) : null,
    NUMERIC_SCALE: number ? Number(number[2]) : null,
  };
}

const CONTRACT: LoadColumn[] = [
  { target: 'ID', type: 'NUMBER(19,0)' },
  { target: 'EMAIL', type: 'VARCHAR' },
  { target: 'BALANCE', type: 'NUMBER(10,2)' },
  { target: 'SEEN', type: 'TIMESTAMP_TZ(6)' },
  { target: 'BORN', type: 'TIMESTAMP_NTZ(6)' },
  { target: 'AT', type: 'TIME(6)' },
  { target: 'PROFILE', type: 'VARIANT' },
  { target: 'TAGS', type: 'ARRAY' },
  { target: 'BLOB', type: 'BINARY' },
  { target: 'OK', type: 'BOOLEAN' },
  { target: 'RATIO', type: 'FLOAT' },
  { target: 'DAY', type: 'DATE' },
];

/** The table as Snowflake reports it after CREATE TABLE from CONTRACT (metadata columns included). */
const TABLE: TableColumn[] = [
  info('ID', 'NUMBER(19,0)'),
  info('EMAIL', 'TEXT'),
  info('BALANCE', 'NUMBER(10,2)'),
  info('SEEN', 'TIMESTAMP_TZ'),
  info('BORN', 'TIMESTAMP_NTZ'),
  info('AT', 'TIME'),
  info('PROFILE', 'VARIANT'),
  info('TAGS', 'ARRAY'),
  info('BLOB', 'BINARY'),
  info('OK', 'BOOLEAN'),
  info('RATIO', 'FLOAT'),
  info('DAY', 'DATE'),
  ...META_COLUMNS.map((c) => info(c.target, canonicalType(c.type))),
];

describe('drift', () => {
  it('finds nothing when the table is what the contract creates (metadata columns ignored)', () => {
    expect(drift(CONTRACT, TABLE, true)).toEqual({ add: [], widen: [], problems: [] });
  });

  it('adds a column the contract gained', () => {
    const added = { target: 'PHONE', type: 'VARCHAR' };
    expect(drift([...CONTRACT, added], TABLE, true)).toEqual({ add: [added], widen: [], problems: [] });
  });

  it('stops on a column the table has but the contract lost, naming it and the fix', () => {
    const { add, problems } = drift(
      CONTRACT.filter((c) => c.target !== 'EMAIL'),
      TABLE,
      true,
    );
    expect(add).toEqual([]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/column EMAIL is no longer in the source contract.*then restart the loader/);
  });

  it('does not take a column an older contract version lacks for a drop (a newer version added it)', () => {
    const older = CONTRACT.filter((c) => c.target !== 'EMAIL');
    expect(drift(older, TABLE, false)).toEqual({ add: [], widen: [], problems: [] });
  });

  it('still stops an older contract version on a changed type', () => {
    const changed = CONTRACT.map((c) => (c.target === 'EMAIL' ? { ...c, type: 'NUMBER(10,0)' } : c));
    expect(drift(changed, TABLE, false).problems).toHaveLength(1);
  });

  it('stops on a changed type, naming both types', () => {
    const changed = CONTRACT.map((c) => (c.target === 'EMAIL' ? { ...c, type: 'NUMBER(10,0)' } : c));
    const { problems } = drift(changed, TABLE, true);
    expect(problems).toEqual([
      expect.stringMatching(/column EMAIL changed type from TEXT to NUMBER\(10,0\)/),
    ]);
  });

  it.each<[string, string, boolean]>([
    ['NUMBER(10,2)', 'NUMBER(10,2)', true],
    ['NUMBER(12,2)', 'NUMBER(10,2)', true], // more precision: widened in place
    ['NUMBER(10,2)', 'NUMBER(12,2)', true], // less: the wider column holds it
    ['NUMBER(10,3)', 'NUMBER(10,2)', false], // scale
    ['NUMBER(38,0)', 'NUMBER(38,9)', false],
    ['FLOAT', 'NUMBER(10,2)', false],
    ['VARCHAR', 'TEXT', true],
    ['TIMESTAMP_TZ(6)', 'TIMESTAMP_TZ', true],
    ['TIMESTAMP_NTZ(6)', 'TIMESTAMP_TZ', false],
    ['VARIANT', 'ARRAY', false],
  ])('contract %s against table %s: compatible %s', (contractType, tableType, same) => {
    const { problems } = drift([{ target: 'X', type: contractType }], [info('X', tableType)], true);
    expect(problems.length === 0).toBe(same);
  });

  it('widens a NUMBER that needs more precision at the same scale, and only that', () => {
    const table = [info('A', 'NUMBER(10,0)'), info('B', 'NUMBER(19,0)'), info('C', 'NUMBER(10,2)')];
    const contract = [
      { target: 'A', type: 'NUMBER(19,0)' },
      { target: 'B', type: 'NUMBER(10,0)' },
      { target: 'C', type: 'NUMBER(12,3)' },
    ];
    const result = drift(contract, table, true);
    expect(result.widen).toEqual([{ target: 'A', type: 'NUMBER(19,0)' }]);
    expect(result.problems).toEqual([
      expect.stringMatching(/column C changed type from NUMBER\(10,2\) to NUMBER\(12,3\)/),
    ]);
  });

  it('reports every problem of a table at once', () => {
    const contract = CONTRACT.filter((c) => c.target !== 'TAGS').map((c) =>
      c.target === 'OK' ? { ...c, type: 'VARCHAR' } : c,
    );
    expect(drift(contract, TABLE, true).problems).toHaveLength(2);
  });
});

describe('canonicalType', () => {
  it.each([
    ['NUMBER(19,0)', 'NUMBER(19,0)'],
    ['VARCHAR', 'TEXT'],
    ['TIMESTAMP_TZ(6)', 'TIMESTAMP_TZ'],
    ['TIME(6)', 'TIME'],
    ['VARIANT', 'VARIANT'],
  ])('%s → %s', (type, expected) => {
    expect(canonicalType(type)).toBe(expected);
  });
});
