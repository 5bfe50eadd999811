import { describe, expect, it } from 'vitest';
import {
  type IndexedLocation,
  indexKey,
  parseIndexKey,
  parseIndexRecord,
  SubjectIndex,
} from '../../../../src/consumers/pii-discovery/subject-index.js';

const location = (table: string, id: number, type = 'email'): IndexedLocation => ({
  source: 'app',
  schema: 'public',
  table,
  primaryKey: { id },
  columns: [type],
  piiTypes: [type],
  identifierType: type,
  identifierColumn: type,
  matchReason: 'value-pattern',
  lastPosition: { commitLsn: '100', seq: '0' },
});

describe('SubjectIndex', () => {
  it('materialises puts and tombstones in both directions', () => {
    const index = new SubjectIndex();
    index.apply({ key: indexKey('tA', 'L1'), value: location('customers', 1) });
    index.apply({ key: indexKey('tA', 'L2'), value: location('tickets', 7) });
    index.apply({ key: indexKey('tB', 'L1'), value: location('customers', 1, 'phone') });
    expect(index.size).toBe(3);
    expect(
      index
        .locationsOf('tA')
        .map(([id]) => id)
        .sort(),
    ).toEqual(['L1', 'L2']);
    expect(index.tokensOf('L1').sort()).toEqual(['tA', 'tB']);

    index.apply({ key: indexKey('tA', 'L1'), value: null });
    expect(index.locationsOf('tA').map(([id]) => id)).toEqual(['L2']);
    expect(index.tokensOf('L1')).toEqual(['tB']);
    index.apply({ key: indexKey('tA', 'L1'), value: null }); // a repeated tombstone is harmless
    expect(index.size).toBe(2);
  });

  it('diffs a location: tombstones for identifiers it lost, records for the ones it holds', () => {
    const index = new SubjectIndex();
    index.apply({ key: indexKey('old', 'L1'), value: location('customers', 1) });
    index.apply({ key: indexKey('kept', 'L1'), value: location('customers', 1, 'phone') });
    const next = new Map([
      ['kept', location('customers', 1, 'phone')],
      ['new', location('customers', 1)],
    ]);
    const records = index.diff('L1', next);
    expect(records).toEqual([
      { key: indexKey('old', 'L1'), value: null },
      { key: indexKey('kept', 'L1'), value: next.get('kept') },
      { key: indexKey('new', 'L1'), value: next.get('new') },
    ]);
    for (const record of records) index.apply(record);
    expect(index.tokensOf('L1').sort()).toEqual(['kept', 'new']);
    // a deleted row: everything it held is tombstoned
    expect(index.diff('L1', new Map()).every((r) => r.value === null)).toBe(true);
  });

  it('finds the locations of a table for a truncate', () => {
    const index = new SubjectIndex();
    index.apply({ key: indexKey('t1', 'L1'), value: location('customers', 1) });
    index.apply({ key: indexKey('t2', 'L2'), value: location('tickets', 2) });
    expect(index.locationsOfTable('app', 'public', 'customers')).toEqual(['L1']);
  });

  it('splits keys at the first bar and refuses a key without one', () => {
    expect(parseIndexKey('abc|def|g')).toEqual({ token: 'abc', locationId: 'def|g' });
    expect(() => parseIndexKey('nobar')).toThrow(/malformed/);
  });
});

describe('parseIndexRecord', () => {
  const token = 'a'.repeat(64);
  const value = location('customers', 1);

  it('reads a location and a tombstone', () => {
    expect(parseIndexRecord(`${token}|loc`, JSON.stringify(value))).toEqual({ key: `${token}|loc`, value });
    expect(parseIndexRecord(`${token}|loc`, null)).toEqual({ key: `${token}|loc`, value: null });
  });

  it.each([
    ['a value that is not JSON', `${token}|loc`, '{"email":"grace@example.test"'],
    ['a value that is not a location', `${token}|loc`, '"grace@example.test"'],
    ['a key without a location', 'grace@example.test', null],
  ])('refuses %s as EVENT_INVALID without quoting it', (_what, key, text) => {
    let error: { code?: string; message?: string } = {};
    try {
      parseIndexRecord(key, text);
    } catch (e) {
      error = e as typeof error;
    }
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.message).toMatch(/^not a subject index record/);
    expect(error.message).not.toContain('grace');
  });
});
