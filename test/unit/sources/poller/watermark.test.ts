import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../../src/errors.js';
import {
  buildPageQuery,
  comparePositions,
  cursorOrdinal,
  releaseHorizon,
} from '../../../../src/sources/poller/watermark.js';

describe('buildPageQuery', () => {
  const base = {
    schema: 'app',
    table: 'user"s',
    columns: ['id', 'updated_at', 'email'],
    cursor: 'updated_at',
    key: ['id'],
    limit: 500,
  };

  it('compares the (cursor, key) row value after the watermark in Postgres, below the horizon', () => {
    const query = buildPageQuery({
      ...base,
      dialect: 'postgres',
      after: { cursor: '2026-01-01 00:00:00+00', key: ['7'] },
      upper: { value: '2026-01-02 00:00:00+00', inclusive: false },
    });
    expect(query.sql).toBe(
      'SELECT "id", "updated_at", "email" FROM "app"."user""s" WHERE ("updated_at", "id") > ($1, $2) ' +
        'AND "updated_at" < $3 ORDER BY "updated_at", "id" LIMIT 500',
    );
    expect(query.params).toEqual(['2026-01-01 00:00:00+00', '7', '2026-01-02 00:00:00+00']);
  });

  it('expands the comparison for MySQL and reads everything without a watermark', () => {
    const query = buildPageQuery({
      ...base,
      dialect: 'mysql',
      key: ['a', 'b'],
      after: { cursor: 'c0', key: ['a0', 'b0'] },
      upper: { value: '9', inclusive: true },
    });
    expect(query.sql).toBe(
      'SELECT `id`, `updated_at`, `email` FROM `app`.`user"s` WHERE (`updated_at` > ? OR (`updated_at` = ? AND ' +
        '(`a` > ? OR (`a` = ? AND `b` > ?)))) AND `updated_at` <= ? ORDER BY `updated_at`, `a`, `b` LIMIT 500',
    );
    expect(query.params).toEqual(['c0', 'c0', 'a0', 'a0', 'b0', '9']);
    const first = buildPageQuery({ ...base, dialect: 'mysql', after: null, upper: null });
    expect(first.sql).toBe(
      'SELECT `id`, `updated_at`, `email` FROM `app`.`user"s` ORDER BY `updated_at`, `id` LIMIT 500',
    );
    expect(first.params).toEqual([]);
  });

  it('refuses a watermark that does not fit the key', () => {
    expect(() =>
      buildPageQuery({ ...base, dialect: 'postgres', after: { cursor: 'x', key: [] }, upper: null }),
    ).toThrow(DsrCdcError);
  });
});

describe('releaseHorizon', () => {
  it('uses the latest released sample and keeps the later ones waiting', () => {
    const samples = [
      { guard: '1', bound: 'a' },
      { guard: '2', bound: 'b' },
      { guard: '5', bound: 'c' },
    ];
    const released = (s: { guard: string }) => Number(s.guard) <= 2;
    expect(releaseHorizon(samples, released)).toEqual({ bound: samples[1], waiting: [samples[2]] });
    expect(releaseHorizon(samples, () => false)).toEqual({ bound: undefined, waiting: samples });
  });
});

describe('cursorOrdinal', () => {
  it('reads timestamps as µs since the epoch, with or without an offset', () => {
    expect(cursorOrdinal('timestamp', '1970-01-01 00:00:00+00', 'c')).toBe(0n);
    expect(cursorOrdinal('timestamp', '2026-01-01T00:00:00.000001Z', 'c')).toBe(1767225600000001n);
    expect(cursorOrdinal('timestamp', '2026-01-01 02:00:00.5+02', 'c')).toBe(1767225600500000n);
    expect(cursorOrdinal('timestamp', '2026-01-01 00:00:00-05:30', 'c')).toBe(1767245400000000n);
    expect(cursorOrdinal('timestamp', '1969-12-31 23:59:59.999999', 'c')).toBe(-1n);
    // years below 100 are years, not 19xx
    expect(
      cursorOrdinal('timestamp', '0044-03-15', 'c') < cursorOrdinal('timestamp', '1000-01-01', 'c'),
    ).toBe(true);
    expect(cursorOrdinal('integer', '-42', 'c')).toBe(-42n);
  });

  it('names the column, never the value, when a cursor is malformed', () => {
    expect(() => cursorOrdinal('integer', 'secret@example.test', 'updated_at')).toThrow(
      'cursor "updated_at": expected an integer',
    );
    const malformed = () => cursorOrdinal('timestamp', 'secret@example.test', 'updated_at');
    expect(malformed).toThrow('cursor "updated_at": expected a timestamp');
    expect(malformed).toThrow(
      expect.objectContaining({ code: 'EVENT_INVALID', message: expect.not.stringContaining('secret') }),
    );
  });

  it('orders timestamps as the instants they name (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1000-01-01T00:00:00Z'),
          max: new Date('9000-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.date({
          min: new Date('1000-01-01T00:00:00Z'),
          max: new Date('9000-01-01T00:00:00Z'),
          noInvalidDate: true,
        }),
        (a, b) => {
          const x = cursorOrdinal('timestamp', a.toISOString(), 'c');
          const y = cursorOrdinal('timestamp', b.toISOString(), 'c');
          expect(x).toBe(BigInt(a.getTime()) * 1000n);
          expect(x < y).toBe(a.getTime() < b.getTime());
        },
      ),
    );
  });
});

describe('comparePositions', () => {
  it('orders by cursor, then by key (numerically when both are integers)', () => {
    const at = (cursor: string, ...key: string[]) => ({ cursor, key });
    expect(comparePositions('integer', at('1', '9'), at('2', '1'))).toBe(-1);
    expect(comparePositions('integer', at('2', '10'), at('2', '9'))).toBe(1);
    expect(comparePositions('integer', at('2', 'b'), at('2', 'a'))).toBe(1);
    expect(
      comparePositions('timestamp', at('2026-01-01T00:00:00Z', '1'), at('2026-01-01 00:00:00+00', '1')),
    ).toBe(0);
  });
});
