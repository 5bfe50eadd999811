import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../../src/dsr/audit-chain.js';
import {
  type AuditRecord,
  checkResult,
  describeResult,
  type ResultRecord,
  verifyAuditTrail,
} from '../../../src/dsr/audit-trail.js';
import type { AuditEvent, DsrResult } from '../../../src/dsr/contracts.js';

function chain(requestId: string, partition: number, firstOffset: number): AuditRecord[] {
  let previous: AuditEvent | undefined;
  return (['received', 'answered'] as const).map((step, i) => {
    previous = appendAudit(previous, { requestId, step, at: '2026-11-25T00:00:00.000Z', detail: { n: i } });
    return { requestId, partition, offset: String(firstOffset + i), event: previous };
  });
}

describe('verifyAuditTrail', () => {
  it('passes intact chains and counts requests', () => {
    expect(verifyAuditTrail([...chain('a', 0, 0), ...chain('b', 1, 0)])).toEqual({ requests: 2, broken: [] });
  });

  it('names the request, partition and offset of a modified entry', () => {
    const records = [...chain('a', 0, 10), ...chain('b', 0, 12)];
    const tampered = records[3] as AuditRecord;
    tampered.event = { ...(tampered.event as AuditEvent), detail: { n: 99 } };
    expect(verifyAuditTrail(records).broken).toEqual([
      { requestId: 'b', partition: 0, offset: '13', problem: 'hash-mismatch' },
    ]);
  });

  it('finds a removed entry, a reordered one, and an unreadable one', () => {
    const removed = chain('a', 0, 0).slice(1);
    expect(verifyAuditTrail(removed).broken[0]).toMatchObject({ offset: '1', problem: 'first-not-genesis' });
    const [first, second] = chain('b', 0, 0) as [AuditRecord, AuditRecord];
    expect(
      verifyAuditTrail([
        { ...second, offset: '0' },
        { ...first, offset: '1' },
      ]).broken[0],
    ).toMatchObject({
      requestId: 'b',
      offset: '0',
    });
    const unreadable = [...chain('c', 2, 5), { requestId: 'c', partition: 2, offset: '7', event: null }];
    expect(verifyAuditTrail(unreadable).broken).toEqual([
      { requestId: 'c', partition: 2, offset: '7', problem: 'unreadable' },
    ]);
  });

  it('checks only the request asked for', () => {
    const records = [...chain('a', 0, 0), ...chain('b', 0, 2).slice(1)];
    expect(verifyAuditTrail(records, 'a')).toEqual({ requests: 1, broken: [] });
  });
});

describe('checkResult / describeResult', () => {
  const result = (status: 'complete' | 'incomplete', locations: number): ResultRecord => ({
    partition: 1,
    offset: '5',
    result: {
      requestId: 'a',
      type: 'access',
      status,
      locations: Array.from({ length: locations }, (_, i) => ({
        source: 'app',
        schema: 'public',
        table: i === 0 ? 'customers' : 'orders',
        primaryKey: { id: i },
        columns: ['email'],
        piiTypes: ['email'],
        matchedBy: { kind: 'identifier' as const, identifierType: 'email' },
        lastPosition: { commitLsn: '1', seq: '0' },
      })),
      consistentAsOf: { 'cdc.app.public.customers/0': '3' },
      caughtUp: status === 'complete',
      answeredAt: '2026-11-25T00:00:01.000Z',
    },
  });
  const answered = (status: string, locations: number): AuditRecord[] => {
    let previous: AuditEvent | undefined;
    return (['received', 'answered'] as const).map((step, i) => {
      const detail: AuditEvent['detail'] =
        step === 'answered' ? { status, locations, caughtUp: true } : { type: 'access' };
      previous = appendAudit(previous, { requestId: 'a', step, at: '2026-11-25T00:00:00.000Z', detail });
      return { requestId: 'a', partition: 0, offset: String(i), event: previous };
    });
  };

  it('passes a chain whose answered entry tells what the result holds', () => {
    expect(checkResult(answered('complete', 3), [result('complete', 3)])).toBeNull();
    expect(checkResult(answered('complete', 3).slice(0, 1), [])).toBeNull();
  });

  it('catches a missing tail, a mismatch, a missing or duplicated result', () => {
    expect(checkResult(answered('complete', 3).slice(0, 1), [result('complete', 3)])).toContain(
      'no answered entry (its tail is missing)',
    );
    expect(checkResult(answered('complete', 2), [result('complete', 3)])).toBe(
      'the answered entry (status complete, 2 locations) does not match the result (status complete, 3 locations)',
    );
    expect(checkResult(answered('complete', 3), [result('incomplete', 3)])).toContain('does not match');
    expect(checkResult(answered('complete', 3), [])).toContain('no result is on the results topic');
    expect(checkResult(answered('complete', 3), [result('complete', 3), result('complete', 3)])).toContain(
      '2 results for one request',
    );
    expect(checkResult(answered('complete', 3), [{ partition: 0, offset: '9', result: null }])).toBe(
      'the result at offset 9 is unreadable',
    );
  });

  it('describes a result by counts and tables, never by key values', () => {
    const line = describeResult(result('complete', 3).result as DsrResult);
    expect(JSON.parse(line)).toEqual({
      status: 'complete',
      locations: 3,
      tables: { 'app.public.customers': 1, 'app.public.orders': 2 },
      caughtUp: true,
      partitions: 1,
    });
  });
});
