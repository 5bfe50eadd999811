/**
 * Reading and verifying the `dsr.audit` trail. Every event of a request has the request id as its
 * key, so a request's chain lies in one partition, in offset order; `verifyAuditTrail` checks
 * each chain end to end and reports the first broken link of each request with its offset.
 */
import type { Kafka } from 'kafkajs';
import { DsrCdcError } from '../errors.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { topicExists } from '../kafka/topics.js';
import { type AuditChainProblem, verifyChain } from './audit-chain.js';
import { type AuditEvent, type DsrResult, parseAuditEvent, parseDsrResult } from './contracts.js';

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

/**
 * Every record of the audit topic, in offset order per partition. A topic that does not exist is
 * CONFIG_INVALID: the config names another cluster, or pii-discovery (which creates it) never ran.
 */
export async function readAuditTrail(kafka: Kafka, topic: string): Promise<AuditRecord[]> {
  if (!(await topicExists(kafka, topic))) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `kafka.brokers: the audit topic ${topic} does not exist on this cluster; check that the config ` +
        'names the cluster the pipeline runs on, and that `dsr-cdc consumer run pii-discovery` has run',
      { field: 'kafka.brokers' },
    );
  }
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

/** A request's result on `dsr.discovery-results`, where it lies. */
export interface ResultRecord {
  partition: number;
  offset: string;
  /** The result, or null when the record is not a valid result. */
  result: DsrResult | null;
}

/** The results recorded for one request (normally one), in offset order. */
export async function readResults(kafka: Kafka, topic: string, requestId: string): Promise<ResultRecord[]> {
  const found: ResultRecord[] = [];
  // nothing was ever answered where the topic was never created
  if (!(await topicExists(kafka, topic))) return found;
  await readToEnd(kafka, topic, (message, partition) => {
    if (message.key?.toString() !== requestId) return;
    let result: DsrResult | null = null;
    try {
      result = parseDsrResult(JSON.parse(message.value?.toString() ?? 'null'));
    } catch {
      // reported as unreadable by checkResult
    }
    found.push({ partition, offset: message.offset, result });
  });
  return found;
}

/**
 * Holds the audit chain of one request against its result, the outside fact that shows what a
 * hash chain cannot: a truncated tail (a result but no `answered` entry), an entry that does not
 * tell what was answered (status or location count differ), or an answer whose result is missing.
 * Returns the problem, or null when they agree (or the request was never answered). Pure.
 */
export function checkResult(chain: readonly AuditRecord[], results: readonly ResultRecord[]): string | null {
  const answered = chain.filter((r) => r.event?.step === 'answered');
  const [first] = results;
  if (first === undefined) {
    return answered.length > 0 ? 'answered in the audit trail, but no result is on the results topic' : null;
  }
  if (results.length > 1)
    return `${results.length} results for one request (offsets ${results.map((r) => r.offset).join(', ')})`;
  if (first.result === null) return `the result at offset ${first.offset} is unreadable`;
  const entry = answered[0]?.event;
  if (entry === undefined || entry === null) {
    return 'a result exists, but the audit trail has no answered entry (its tail is missing)';
  }
  const { status, locations } = entry.detail;
  if (status !== first.result.status || locations !== first.result.locations.length) {
    return (
      `the answered entry (status ${String(status)}, ${String(locations)} locations) does not match the result ` +
      `(status ${first.result.status}, ${first.result.locations.length} locations)`
    );
  }
  return null;
}

/** One line about a result for a timeline: status, how many locations in which tables, freshness. */
export function describeResult(result: DsrResult): string {
  const tables = new Map<string, number>();
  for (const l of result.locations) {
    const table = `${l.source}.${l.schema}.${l.table}`;
    tables.set(table, (tables.get(table) ?? 0) + 1);
  }
  return JSON.stringify({
    status: result.status,
    locations: result.locations.length,
    tables: Object.fromEntries([...tables].sort()),
    caughtUp: result.caughtUp,
    partitions: Object.keys(result.consistentAsOf).length,
    ...(result.reason === undefined ? {} : { reason: result.reason }),
  });
}
