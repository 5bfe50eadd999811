import { describe, expect, it } from 'vitest';
import { appendAudit } from '../../../src/dsr/audit-chain.js';
import { type AuditRecord, verifyAuditTrail } from '../../../src/dsr/audit-trail.js';
import type { AuditEvent } from '../../../src/dsr/contracts.js';

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
