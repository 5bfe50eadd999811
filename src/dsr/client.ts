/**
 * The DSR library API: submit a request to `dsr.requests` and await its answer on
 * `dsr.discovery-results`. A request is validated before it is produced, against the contract and
 * against what the answerer can search (an identifier that does not normalise is refused), so a
 * bad request never reaches the topic. Errors name fields, never identifier values.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import type { DetectOptions } from '../consumers/pii-discovery/detectors.js';
import { normalizeIdentifier } from '../consumers/pii-discovery/tokens.js';
import { DsrCdcError } from '../errors.js';
import { kafkaCall } from '../kafka/failures.js';
import type { Breakers } from '../resilience.js';
import {
  type DsrRequest,
  type DsrResult,
  IDENTIFIER_TYPES,
  type IdentifierType,
  parseDsrRequest,
  parseDsrResult,
} from './contracts.js';

/** A request as callers write it: requestId (default: a random UUID) and submittedAt (default: now) optional. */
export type DsrRequestInput = Omit<DsrRequest, 'requestId' | 'submittedAt'> &
  Partial<Pick<DsrRequest, 'requestId' | 'submittedAt'>>;

export interface BuildOptions {
  now?: () => Date;
  /** As the answerer's (dsr.defaultRegion): without a region only international phone numbers pass. */
  detect?: DetectOptions;
  /** The breakers the produce goes through (the 'kafka' one); the process's by default. */
  breakers?: Breakers;
}

const EXPECTED: Record<IdentifierType, string> = {
  email: 'an email address',
  phone: 'a phone number, international (+<country code> …) unless dsr.defaultRegion is set',
  user_id: 'a non-blank user id',
  payment_card: 'a payment card number of 12 to 19 digits',
  iban: 'an IBAN (two letters, two check digits, then letters and digits)',
  us_ssn: 'a US social security number of nine digits',
  national_id: 'a national id number',
};

/**
 * The complete, valid request for `input`. Throws DsrCdcError EVENT_INVALID listing every problem
 * as `  <field path>: <expected>` (the format of parseDsrRequest); `field` is the first.
 */
export function buildRequest(
  input: DsrRequestInput,
  { now = () => new Date(), detect }: BuildOptions = {},
): DsrRequest {
  const candidate = {
    ...input,
    requestId: input.requestId ?? randomUUID(),
    submittedAt: input.submittedAt ?? now().toISOString(),
  };
  let request: DsrRequest | undefined;
  let contract: string[] = [];
  try {
    request = parseDsrRequest(candidate);
  } catch (error) {
    if (!(error instanceof DsrCdcError)) throw error;
    contract = error.message.split('\n').slice(1);
  }
  // identifiers that fit the contract but that the answerer could not search; an item that is not
  // an object (null, a string, …) is the contract's to report, as `identifiers[<i>]`
  const items: unknown[] = Array.isArray(input.identifiers) ? input.identifiers : [];
  const unsearchable = items.flatMap((item, index) => {
    if (typeof item !== 'object' || item === null) return [];
    const { type, value } = item as { type?: unknown; value?: unknown };
    return IDENTIFIER_TYPES.includes(type as IdentifierType) &&
      typeof value === 'string' &&
      value.trim() !== '' &&
      normalizeIdentifier(type as IdentifierType, value, detect) === null
      ? [`  identifiers[${index}].value: expected ${EXPECTED[type as IdentifierType]}`]
      : [];
  });
  const problems = [...contract, ...unsearchable];
  if (request !== undefined && problems.length === 0) return request;
  throw new DsrCdcError('EVENT_INVALID', `invalid DSR request:\n${problems.join('\n')}`, {
    field: /^ {2}([^:]+):/.exec(problems[0] ?? '')?.[1],
  });
}

/** Validates `input` (see buildRequest), then produces it keyed by its id; returns what was produced. */
export async function submitRequest(
  producer: Pick<Producer, 'send'>,
  topic: string,
  input: DsrRequestInput,
  options: BuildOptions = {},
): Promise<DsrRequest> {
  const request = buildRequest(input, options);
  // an outage is a retryable CONNECTION_FAILED: submitting the same request id again is safe, as
  // the answerer answers an id once
  await kafkaCall(
    `acknowledge DSR request ${request.requestId} on ${topic}`,
    () =>
      producer.send({
        topic,
        acks: -1,
        messages: [{ key: request.requestId, value: JSON.stringify(request) }],
      }),
    options.breakers,
  );
  return request;
}

/**
 * The result of `requestId`: reads `resultsTopic` from the start (an earlier answer counts: the
 * answerer answers an id once) with a throwaway consumer group, until that id's result appears.
 * Throws CONNECTION_FAILED (retryable) when none appeared within `timeoutMs`, EVENT_INVALID when it
 * does not fit the contract.
 */
export async function awaitResult(
  kafka: Kafka,
  resultsTopic: string,
  requestId: string,
  timeoutMs: number,
): Promise<DsrResult> {
  const groupId = `dsr-cdc.await-result.${randomUUID()}`;
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new DsrCdcError(
            'CONNECTION_FAILED',
            `no result for DSR request ${requestId} on ${resultsTopic} within ${timeoutMs} ms; ` +
              'is `dsr-cdc consumer run pii-discovery` running?',
            { retryable: true },
          ),
        ),
      timeoutMs,
    );
  });
  const found = new Promise<DsrResult>((resolve, reject) => {
    const read = async () => {
      await consumer.connect();
      await consumer.subscribe({ topic: resultsTopic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (message.key?.toString() !== requestId) return;
          try {
            resolve(parseDsrResult(JSON.parse(message.value?.toString() ?? 'null')));
          } catch (error) {
            reject(
              error instanceof DsrCdcError
                ? error
                : new DsrCdcError('EVENT_INVALID', `the result of DSR request ${requestId} is not JSON`),
            );
          }
        },
      });
    };
    read().catch((error: unknown) =>
      reject(
        new DsrCdcError('CONNECTION_FAILED', `cannot read ${resultsTopic}: ${(error as Error).message}`, {
          retryable: true,
          cause: error,
        }),
      ),
    );
  });
  try {
    return await Promise.race([found, timeout]);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => undefined);
    await deleteGroup(kafka, groupId);
  }
}

/** Best effort: a group left behind holds no offsets (nothing was committed) and expires. */
async function deleteGroup(kafka: Kafka, groupId: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.deleteGroups([groupId]);
  } catch {
    // the answer (or the error being thrown) matters more than the cleanup
  } finally {
    await admin.disconnect();
  }
}
