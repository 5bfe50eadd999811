/**
 * DSR requests over HTTP, on the same contract and topics as `dsr submit` / `dsr result`: a
 * request is validated by buildRequest (the field named on failure) before it is produced to
 * `dsr.requests`; a result is looked up on `dsr.discovery-results`.
 */
import type { Kafka, Producer } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { piiDiscoveryTopics } from '../consumers/pii-discovery/index.js';
import { type DsrRequestInput, submitRequest } from '../dsr/client.js';
import { type DsrRequest, type DsrResult, parseDsrResult } from '../dsr/contracts.js';
import { DsrCdcError } from '../errors.js';
import { createProducer } from '../kafka/client.js';
import { kafkaCall } from '../kafka/failures.js';
import { readToEnd } from '../kafka/read-to-end.js';
import { metrics } from '../observability/metrics.js';

export interface DsrService {
  /** Validates and produces a request; EVENT_INVALID names the field of a bad one. */
  submit(input: unknown): Promise<DsrRequest>;
  /** The result of `requestId`, or undefined while there is none. */
  result(requestId: string): Promise<DsrResult | undefined>;
  close(): Promise<void>;
}

export function kafkaDsrService(config: Config, kafka: Kafka): DsrService {
  const topics = piiDiscoveryTopics();
  const detect = config.dsr?.defaultRegion ? { defaultRegion: config.dsr.defaultRegion } : {};
  let producer: Promise<Producer> | undefined;
  // connect fails with a DsrCdcError (createProducer's connect goes through the 'kafka' breaker)
  const connected = () => {
    producer ??= (async () => {
      const created = createProducer(kafka);
      await created.connect();
      return created;
    })().catch((error: unknown) => {
      producer = undefined;
      throw error;
    });
    return producer;
  };
  return {
    submit: async (input) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        throw new DsrCdcError('EVENT_INVALID', 'invalid DSR request:\n  (root): expected an object', {
          field: '(root)',
        });
      }
      const request = await submitRequest(await connected(), topics.requests.name, input as DsrRequestInput, {
        detect,
      });
      metrics.dsrRequests.inc({ type: request.type, outcome: 'submitted' });
      return request;
    },
    /**
     * Reads the results topic to its end (an id is answered once, so the first match is the
     * answer). Linear in the topic's size: fine for the request volumes of a privacy team; a
     * compacted view is the next step if it is not.
     */
    result: async (requestId) => {
      let found: string | undefined;
      await kafkaCall(`deliver ${topics.results.name}`, () =>
        readToEnd(kafka, topics.results.name, (message) => {
          if (found === undefined && message.key?.toString() === requestId) found = message.value?.toString();
        }),
      );
      if (found === undefined) return undefined;
      try {
        return parseDsrResult(JSON.parse(found));
      } catch (error) {
        // not the caller's mistake: what the answerer wrote does not fit the contract
        throw new DsrCdcError(
          'INTERNAL',
          `the stored result of DSR request ${requestId} does not fit its contract`,
          {
            cause: error,
          },
        );
      }
    },
    close: async () => {
      const open = producer;
      producer = undefined;
      await (await open?.catch(() => undefined))?.disconnect();
    },
  };
}
