/**
 * Reading and verifying the `dsr.audit` trail. Every event of a request has the request id as its
 * key, so a request's chain lies in one partition, in offset order; `verifyAuditTrail` checks
 * each chain end to end and reports the first broken link of each request with its offset.
 */
import type { Kafka } from 'kafkajs';
import { readToEnd } from '../kafka/read-to-end.js';
import { type AuditChainProblem, verifyChain } from './audit-chain.js';
import { type AuditEvent, parseAuditEvent } from './contracts.js';

export interface AuditRecord {
  requestId: string;
  partition: number;
  offset: string;
  /** The event, or null when the record is not a valid audit event. */
  event: AuditEvent | null;
}

export interface BrokenChain {
  requestId: string;
  partition: number;
  offset: string;
  problem: AuditChainProblem | 'unreadable';
}

export interface AuditVerdict {
  requests: number;
  broken: BrokenChain[];
}

/** Every record of the audit topic, in offset order per partition. */
export async function readAuditTrail(kafka: Kafka, topic: string): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  await readToEnd(kafka, topic, (message, partition) => {
    let event: AuditEvent | null = null;
    try {
      event = parseAuditEvent(JSON.parse(message.value?.toString() ?? 'null'));
    } catch {
      // reported as unreadable below
    }
    records.push({ requestId: message.key?.toString() ?? '', partition, offset: message.offset, event });
  });
  return records.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/** Checks the chain of every request (or of one); pure. */
export function verifyAuditTrail(records: readonly AuditRecord[], requestId?: string): AuditVerdict {
  const byRequest = new Map<string, AuditRecord[]>();
  for (const record of records) {
    if (requestId !== undefined && record.requestId !== requestId) continue;
    byRequest.set(record.requestId, [...(byRequest.get(record.requestId) ?? []), record]);
  }
  const broken: BrokenChain[] = [];
  for (const [id, chain] of byRequest) {
    const unreadable = chain.find((r) => r.event === null || r.event.requestId !== id);
    if (unreadable) {
      broken.push({
        requestId: id,
        partition: unreadable.partition,
        offset: unreadable.offset,
        problem: 'unreadable',
      });
      continue;
    }
    const verdict = verifyChain(chain.map((r) => r.event as AuditEvent));
    if (!verdict.ok) {
      const at = chain[verdict.index] as AuditRecord;
      broken.push({ requestId: id, partition: at.partition, offset: at.offset, problem: verdict.problem });
    }
  }
  return { requests: byRequest.size, broken };
}
