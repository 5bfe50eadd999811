import { describe, expect, it } from 'vitest';
import { appendAudit, GENESIS_HASH, hashAuditEvent, verifyChain } from '../../../src/dsr/audit-chain.js';
import { canonicalHash } from '../../../src/dsr/canonical.js';
import { type AuditEvent, parseAuditEvent } from '../../../src/dsr/contracts.js';
import { DsrCdcError } from '../../../src/errors.js';

/** received → answered → answered (a re-answer), as one request's chain. */
function chain(): AuditEvent[] {
  const received = appendAudit(undefined, {
    requestId: 'req-1',
    step: 'received',
    at: '2025-03-01T10:00:00Z',
    detail: { identifiers: 2, identifierTypes: 'email,phone', type: 'access' },
  });
  const answered = appendAudit(received, {
    requestId: 'req-1',
    step: 'answered',
    at: '2025-03-01T10:00:02Z',
    detail: { status: 'complete', locations: 7, caughtUp: true },
  });
  const reanswered = appendAudit(answered, {
    requestId: 'req-1',
    step: 'answered',
    at: '2025-03-01T11:00:00Z',
    detail: { status: 'complete', locations: 8, caughtUp: true },
  });
  return [received, answered, reanswered];
}

describe('appendAudit', () => {
  it('starts a chain at genesis and links each event to the previous hash', () => {
    const [first, second, third] = chain() as [AuditEvent, AuditEvent, AuditEvent];
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toMatch(/^0{64}$/);
    expect(second.prevHash).toBe(first.hash);
    expect(third.prevHash).toBe(second.hash);
    for (const event of [first, second, third]) {
      expect(event.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(parseAuditEvent(event)).toEqual(event); // fits the dsr.audit contract
    }
  });

  it('refuses to chain an event to another request', () => {
    const [first] = chain() as [AuditEvent];
    expect(() =>
      appendAudit(first, { requestId: 'req-2', step: 'received', at: '2025-03-01T10:00:00Z', detail: {} }),
    ).toThrow(DsrCdcError);
  });
});

describe('hashAuditEvent', () => {
  it('hashes the canonical JSON of every field but hash, whatever the key order', () => {
    const [event] = chain() as [AuditEvent];
    const { hash, ...fields } = event;
    expect(hash).toBe(canonicalHash(fields));
    expect(hashAuditEvent(event)).toBe(hash);
    const reordered = {
      detail: { type: 'access', identifierTypes: 'email,phone', identifiers: 2 },
      prevHash: event.prevHash,
      at: event.at,
      step: event.step,
      requestId: event.requestId,
    };
    expect(hashAuditEvent(reordered)).toBe(hash);
  });

  it('covers prevHash, so an entry cannot be moved to another place in a chain', () => {
    const [event] = chain() as [AuditEvent];
    expect(hashAuditEvent({ ...event, prevHash: 'f'.repeat(64) })).not.toBe(event.hash);
  });
});

describe('verifyChain', () => {
  it('accepts an intact chain, and an empty one', () => {
    expect(verifyChain(chain())).toEqual({ ok: true });
    expect(verifyChain([])).toEqual({ ok: true });
  });

  it('detects a modified detail', () => {
    const events = chain();
    const second = events[1] as AuditEvent;
    events[1] = { ...second, detail: { ...second.detail, locations: 0 } };
    expect(verifyChain(events)).toEqual({ ok: false, index: 1, problem: 'hash-mismatch' });
  });

  it('detects a modified entry whose hash was recomputed, at the link after it', () => {
    const events = chain();
    const second = events[1] as AuditEvent;
    const forged = { ...second, step: 'rejected' as const };
    events[1] = { ...forged, hash: hashAuditEvent(forged) };
    expect(verifyChain(events)).toEqual({ ok: false, index: 2, problem: 'broken-link' });
  });

  it('detects a dropped middle entry', () => {
    const [first, , third] = chain() as [AuditEvent, AuditEvent, AuditEvent];
    expect(verifyChain([first, third])).toEqual({ ok: false, index: 1, problem: 'broken-link' });
  });

  it('detects two swapped entries', () => {
    const [first, second, third] = chain() as [AuditEvent, AuditEvent, AuditEvent];
    expect(verifyChain([first, third, second])).toEqual({ ok: false, index: 1, problem: 'broken-link' });
    expect(verifyChain([second, first, third])).toEqual({
      ok: false,
      index: 0,
      problem: 'first-not-genesis',
    });
  });

  it('detects a dropped first entry', () => {
    const [, second, third] = chain() as [AuditEvent, AuditEvent, AuditEvent];
    expect(verifyChain([second, third])).toEqual({ ok: false, index: 0, problem: 'first-not-genesis' });
  });

  it('detects a first entry that does not start at genesis even with a consistent hash', () => {
    const [first] = chain() as [AuditEvent];
    const unhashed = { ...first, prevHash: 'a'.repeat(64) };
    const rehashed = { ...unhashed, hash: hashAuditEvent(unhashed) };
    expect(verifyChain([rehashed])).toEqual({ ok: false, index: 0, problem: 'first-not-genesis' });
  });

  it('detects a replaced hash', () => {
    const events = chain();
    events[2] = { ...(events[2] as AuditEvent), hash: 'b'.repeat(64) };
    expect(verifyChain(events)).toEqual({ ok: false, index: 2, problem: 'hash-mismatch' });
  });
});
