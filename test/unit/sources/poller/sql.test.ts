import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../../src/errors.js';
import type { PgType } from '../../../../src/events/pg-types.js';
import { mapMysqlColumn, mysqlErrorText } from '../../../../src/sources/poller/mysql.js';
import { checkColumns, checkCursorKind } from '../../../../src/sources/poller/sql.js';

describe('checkColumns', () => {
  const columns = ['id', 'updated_at', 'deleted_at'];
  const table = (extra: Record<string, unknown>) =>
    ({ table: 'app.users', mode: 'timestamp', ...extra }) as Parameters<typeof checkColumns>[1];

  it('takes the primary key unless a key is configured, and the key as the cursor in incrementing mode', () => {
    expect(checkColumns('s', table({ cursor: 'updated_at' }), columns, ['id'])).toEqual({
      cursor: 'updated_at',
      key: ['id'],
    });
    expect(checkColumns('s', table({ mode: 'incrementing' }), columns, ['id'])).toEqual({
      cursor: 'id',
      key: ['id'],
    });
  });

  it('names the missing column and the config field to fix', () => {
    expect(() => checkColumns('s', table({ cursor: 'changed' }), columns, ['id'])).toThrow(
      'cursor column "changed" does not exist in app.users; fix sources.s.tables[app.users].cursor',
    );
    expect(() => checkColumns('s', table({ cursor: 'updated_at', key: ['uid'] }), columns, ['id'])).toThrow(
      'key column "uid" does not exist',
    );
    expect(() =>
      checkColumns('s', table({ cursor: 'updated_at', deletes: { softDeleteColumn: 'gone' } }), columns, [
        'id',
      ]),
    ).toThrow('soft-delete column "gone"');
    expect(() => checkColumns('s', table({ cursor: 'updated_at' }), columns, [])).toThrow(
      'has no primary key',
    );
    expect(() => checkColumns('s', table({}), columns, ['id'])).toThrow(
      'timestamp mode needs a cursor column',
    );
  });
});

describe('checkCursorKind', () => {
  const table = (mode: 'timestamp' | 'incrementing') =>
    ({ table: 'app.orders', mode }) as Parameters<typeof checkCursorKind>[1];

  it('accepts a timestamp cursor in timestamp mode and an integer in incrementing mode', () => {
    expect(checkCursorKind('s', table('timestamp'), 'updated_at', 'timestamp', 'timestamptz')).toBe(
      'timestamp',
    );
    expect(checkCursorKind('s', table('incrementing'), 'id', 'integer', 'int8')).toBe('integer');
  });

  it('refuses an integer cursor in timestamp mode, naming the table, the column and mode: incrementing', () => {
    // the bound of timestamp mode is now() − lag: an integer compared with it is a type error
    // (Postgres) or a comparison with a year (MySQL), never a working poll
    const refuse = () => checkCursorKind('s', table('timestamp'), 'version', 'integer', 'int8');
    expect(refuse).toThrow(DsrCdcError);
    expect(refuse).toThrow('cursor column "version" of app.orders is int8, an integer');
    expect(refuse).toThrow('use mode: incrementing (sources.s.tables[app.orders].mode)');
  });

  it('names the fix for a cursor of no usable kind', () => {
    expect(() => checkCursorKind('s', table('timestamp'), 'name', undefined, 'text')).toThrow(
      'cursor column "name" of app.orders is text: timestamp mode needs a timestamp or date column; fix sources.s.tables[app.orders].cursor',
    );
    expect(() => checkCursorKind('s', table('incrementing'), 'at', 'timestamp', 'timestamptz')).toThrow(
      'incrementing mode needs an integer column',
    );
  });
});

describe('mapMysqlColumn', () => {
  const map = (
    dataType: string,
    columnType = dataType,
    precision: number | null = null,
    scale: number | null = null,
  ) => mapMysqlColumn({ name: 'c', dataType, columnType, precision, scale }, new Map<string, PgType>());

  it('maps each MySQL type to the Postgres type that holds it exactly', () => {
    expect(map('int').type.name).toBe('int4');
    expect(map('int', 'int(10) unsigned').type.name).toBe('int8');
    expect(map('bigint', 'bigint(20) unsigned')).toMatchObject({
      type: { name: 'numeric' },
      typeMod: (20 << 16) + 4,
    });
    expect(map('decimal', 'decimal(10,2)', 10, 2)).toMatchObject({
      type: { name: 'numeric' },
      typeMod: ((10 << 16) | 2) + 4,
    });
    expect(map('datetime').type.name).toBe('timestamp');
    expect(map('varchar').type.name).toBe('text');
    expect(map('time').type).toMatchObject({ name: 'mysql.time', kind: 'other' });
  });

  it('rewrites values into the Postgres text form', () => {
    expect(map('timestamp').text('2026-01-01 00:00:00.000001')).toBe('2026-01-01 00:00:00.000001+00');
    expect(map('varbinary').text('\u0000\u00ff')).toBe('\\x00ff');
  });
});

describe('mysqlErrorText', () => {
  it('hides messages that quote a row value', () => {
    for (const message of [
      "Incorrect datetime value: 'ann@example.test' for column `dsr`.`t`.`updated_at` at row 1",
      "Truncated incorrect DOUBLE value: 'ann@example.test'",
      "Incorrect integer value: 'ann@example.test' for column 'id' at row 1",
      "Duplicate entry 'ann@example.test' for key 'email'",
    ]) {
      expect(mysqlErrorText(message)).not.toContain('ann@example.test');
    }
  });

  it('keeps messages that name objects only', () => {
    expect(mysqlErrorText("Table 'dsr.users' doesn't exist")).toBe("Table 'dsr.users' doesn't exist");
    expect(mysqlErrorText("SELECT command denied to user 'cdc'@'%' for table `dsr`.`users`")).toContain(
      'SELECT command denied',
    );
  });
});
