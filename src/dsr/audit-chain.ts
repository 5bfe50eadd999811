/**
 * The hash chain of `dsr.audit`: per request, each event's `prevHash` is the previous event's
 * `hash` (GENESIS_HASH for the first), and `hash` is SHA-256 over the canonical JSON of every
 * other field. Replaying one request's events in log order and verifying the chain shows that no
 * entry was modified, removed or reordered. (A truncated tail leaves a valid chain; it shows only
 * against an outside fact, such as the request's result on `dsr.discovery-results`.)
 * Pure: no I/O.
 */
import { DsrCdcError } from '../errors.js';
import { canonicalHash } from './canonical.js';
import type { AuditEvent } from './contracts.js';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditChainProblem = 'hash-mismatch' | 'broken-link' | 'first-not-genesis';

/** SHA-256 hex of every field but `hash` (a `hash` passed in is ignored). */
export function hashAuditEvent(event: Omit<AuditEvent, 'hash'>): string {
  const { hash: _ignored, ...fields } = event as AuditEvent;
  return canonicalHash(fields);
}

/** The event following `previous` (undefined for a request's first event) in its chain. */
export function appendAudit(
  previous: AuditEvent | undefined,
  next: Omit<AuditEvent, 'prevHash' | 'hash'>,
): AuditEvent {
  if (previous && previous.requestId !== next.requestId) {
    throw new DsrCdcError(
      'INTERNAL',
      `audit event of request ${next.requestId} chained to one of request ${previous.requestId}`,
    );
  }
  const unhashed = { ...next, prevHash: previous?.hash ?? GENESIS_HASH };
  return { ...unhashed, hash: hashAuditEvent(unhashed) };
}

/**
 * Verifies one request's events in log order; the first problem found names its index. A
 * modified entry fails its own hash; a removed or reordered entry breaks the link at the first
 * entry whose `prevHash` is not its predecessor's `hash` (or not genesis, at index 0).
 */
export function verifyChain(
  events: readonly AuditEvent[],
): { ok: true } | { ok: false; index: number; problem: AuditChainProblem } {
  for (const [index, event] of events.entries()) {
    if (hashAuditEvent(event) !== event.hash) return { ok: false, index, problem: 'hash-mismatch' };
    const previous = events[index - 1];
    if (!previous) {
      if (event.prevHash !== GENESIS_HASH) return { ok: false, index, problem: 'first-not-genesis' };
    } else if (event.prevHash !== previous.hash) {
      return { ok: false, index, problem: 'broken-link' };
    }
  }
  return { ok: true };
}
