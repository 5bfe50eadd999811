import { describe, expect, it } from 'vitest';
import type { DsrLocation } from '../../../src/dsr/contracts.js';
import { checkSubjectTopic, LocationFilter, parseSubject, parseToken } from '../../../src/replay/subject.js';

const location = (table: string, id: string): DsrLocation => ({
  source: 'app',
  schema: 'public',
  table,
  primaryKey: { id },
  columns: ['email'],
  piiTypes: ['email'],
  matchedBy: { kind: 'identifier', identifierType: 'email' },
  lastPosition: { commitLsn: '1', seq: '0' },
});
const envelope = (table: string, op = 'u') => ({ op, source: { name: 'app', schema: 'public', table } });

describe('parseSubject / parseToken', () => {
  it('reads <type>:<value>, the value may hold colons', () => {
    expect(parseSubject('user_id:a:b')).toEqual({ type: 'user_id', value: 'a:b' });
    expect(parseSubject('email:ada@example.test')).toEqual({ type: 'email', value: 'ada@example.test' });
  });
  it.each(['grace@example.test', 'mail:grace@example.test', 'email:', ':x'])(
    'refuses %s without quoting the value',
    (text) => {
      let message = '';
      try {
        parseSubject(text);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/^--subject: expected <type>:<value>/);
      expect(message).not.toContain('grace');
    },
  );
  it('accepts a 64-hex token only', () => {
    expect(parseToken('AB'.repeat(32))).toBe('ab'.repeat(32));
    expect(() => parseToken('ab')).toThrow('--token: expected a subject token (64 hex digits)');
  });
});

describe('LocationFilter', () => {
  const filter = new LocationFilter([location('customers', '7'), location('orders', '70')]);
  it("keeps the events of the subject's rows only", () => {
    // keys are decoded Avro values: the bigint 7n is the row the index calls { id: '7' }
    expect(filter.keeps({ id: 7n }, envelope('customers'))).toBe(true);
    expect(filter.keeps({ id: 8n }, envelope('customers'))).toBe(false);
    expect(filter.keeps({ id: 70 }, envelope('orders', 'd'))).toBe(true);
    expect(filter.keeps({ id: 7n }, envelope('orders'))).toBe(false);
    expect(
      filter.keeps({ id: 7n }, { op: 'u', source: { name: 'crm', schema: 'public', table: 'customers' } }),
    ).toBe(false);
  });
  it("keeps a truncate of a table holding the subject's rows, and nothing that is not a change event", () => {
    expect(filter.keeps(null, envelope('customers', 't'))).toBe(true);
    expect(filter.keeps(null, envelope('payments', 't'))).toBe(false);
    expect(filter.keeps(null, envelope('customers'))).toBe(false);
    expect(filter.keeps({ id: 7n }, { requestId: 'x' })).toBe(false);
    expect(filter.keeps({ id: 7n }, null)).toBe(false);
  });
});

describe('checkSubjectTopic', () => {
  it('accepts cdc topics and patterns, refuses any other', () => {
    expect(() => checkSubjectTopic('cdc.app.*', '--subject')).not.toThrow();
    for (const topic of ['dsr.audit', '*', 'warehouse.app.public.customers']) {
      expect(() => checkSubjectTopic(topic, '--token')).toThrow(
        /^--token: keeps the change events of a subject's rows, which only cdc\.\* topics hold/,
      );
    }
  });
});
