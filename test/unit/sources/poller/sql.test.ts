import { describe, expect, it } from 'vitest';
import type { PgType } from '../../../../src/events/pg-types.js';
import { mapMysqlColumn } from '../../../../src/sources/poller/mysql.js';
import { checkColumns } from '../../../../src/sources/poller/sql.js';

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
