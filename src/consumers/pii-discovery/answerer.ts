/**
 * Answers DSR requests from `dsr.requests`: one `dsr.discovery-results` event per request id, and
 * every step (received, rejected, answered) appended to `dsr.audit`, hash-chained per request.
 *
 * An answer states how fresh it is: `consistentAsOf` holds the discovery group's committed offset
 * of every `cdc.*` partition, and `caughtUp` whether those were the partitions' ends (and the index
 * view had read everything discovery wrote). A request waits up to `waitMs` for that, then is
 * answered marked incomplete. The audit trail is read at start, so a request answered before a
 * restart is not answered twice and a chain continues where it ended.
 */
import type { Admin, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { appendAudit } from '../../dsr/audit-chain.js';
import {
  type AuditEvent,
  type DsrRequest,
  type DsrResult,
  parseAuditEvent,
  parseDsrRequest,
} from '../../dsr/contracts.js';
import { isDsrCdcError } from '../../errors.js';
import { CONSUMER_RETRY, onFatalCrash } from '../../kafka/client.js';
import { deadLetter } from '../../kafka/dlq.js';
import { readToEnd } from '../../kafka/read-to-end.js';
import type { Logger } from '../../observability/logger.js';
import { metrics, secondsSince } from '../../observability/metrics.js';
import type { DetectOptions } from './detectors.js';
import { CDC_TOPICS } from './discovery.js';
import type { IndexView } from './index-view.js';
import { lookup } from './lookup.js';

export interface AnswererOptions {
  groupId: string;
  discoveryGroupId: string;
  /** The change topics discovery reads (as DiscoveryOptions.topics). */
  cdcTopics?: RegExp;
  requestsTopic: string;
  resultsTopic: string;
  auditTopic: string;
  dlqTopic: string;
  pepper: Buffer;
  /** How long a request waits for the index to catch up before an incomplete answer. */
  waitMs: number;
  /** Hops of linked identifiers to follow. */
  depth: number;
  detect?: DetectOptions;
  now?: () => Date;
}

export class Answerer {
  private consumer: Consumer | undefined;
  /** Called when kafkajs gives up on the consumer. */
  onFatal: (error: Error) => void = () => undefined;
  private readonly lastAudit = new Map<string, AuditEvent>();
  private readonly finished = new Set<string>();
  private auditStale = true;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
    private readonly view: IndexView,
    private readonly options: AnswererOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      allowAutoTopicCreation: false,
      retry: CONSUMER_RETRY,
    });
    this.consumer = consumer;
    onFatalCrash(consumer, (error) => this.onFatal(error));
    // requests this process now owns may have been received or answered by another process
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.auditStale = true;
    });
    await consumer.connect();
    await consumer.subscribe({ topic: this.options.requestsTopic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        if (this.auditStale) {
          this.auditStale = false;
          await this.loadAudit();
        }
        await this.handle(topic, partition, message);
        await consumer.commitOffsets([{ topic, partition, offset: String(BigInt(message.offset) + 1n) }]);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }

  /** The audit trail so far: where each request's chain ends, and which requests are done. */
  private async loadAudit(): Promise<void> {
    await readToEnd(this.kafka, this.options.auditTopic, (message) => {
      if (!message.value) return;
      const event = parseAuditEvent(JSON.parse(message.value.toString()));
      this.lastAudit.set(event.requestId, event);
      if (event.step !== 'received') this.finished.add(event.requestId);
    });
  }

  private now(): string {
    return (this.options.now?.() ?? new Date()).toISOString();
  }

  private async handle(topic: string, partition: number, message: KafkaMessage): Promise<void> {
    const received = process.hrtime.bigint();
    metrics.eventsIn.inc({ stage: 'dsr-answer', topic });
    let request: DsrRequest;
    try {
      request = parseDsrRequest(JSON.parse(message.value?.toString() ?? 'null'));
    } catch (error) {
      const reason = isDsrCdcError(error) ? error : new Error('the request is not JSON');
      const requestId =
        message.key?.toString().slice(0, 128) || `unkeyed-${topic}-${partition}-${message.offset}`;
      this.logger.warn({ partition, offset: message.offset }, 'malformed DSR request rejected');
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic: this.options.dlqTopic,
            messages: [
              deadLetter(
                'pii-discovery',
                { topic, partition, offset: message.offset, key: message.key, value: message.value },
                reason,
              ),
            ],
          },
          {
            topic: this.options.auditTopic,
            messages: [this.audit(requestId, 'rejected', { reason: reason.message })],
          },
        ],
      });
      metrics.dsrRequests.inc({ type: 'unknown', outcome: 'rejected' });
      return;
    }
    if (this.finished.has(request.requestId)) {
      this.logger.info({ requestId: request.requestId }, 'duplicate DSR request: already answered');
      metrics.dsrRequests.inc({ type: request.type, outcome: 'duplicate' });
      return;
    }
    await this.producer.send({
      topic: this.options.auditTopic,
      acks: -1,
      messages: [
        this.audit(request.requestId, 'received', {
          type: request.type,
          identifiers: request.identifiers.length,
          identifierTypes: [...new Set(request.identifiers.map((i) => i.type))].sort().join(','),
        }),
      ],
    });

    const freshness = await this.waitForFreshness();
    const { locations, unusable } = lookup(
      this.view.index,
      request.identifiers,
      this.options.pepper,
      this.options.depth,
      this.options.detect,
    );
    const reasons = [
      ...(freshness.caughtUp
        ? []
        : [`the index had not caught up with the sources within ${this.options.waitMs} ms`]),
      ...(unusable.length > 0
        ? [`identifiers that are not valid ${unusable.join(', ')} values were not searched`]
        : []),
    ];
    const result: DsrResult = {
      requestId: request.requestId,
      type: request.type,
      status: freshness.caughtUp ? 'complete' : 'incomplete',
      locations,
      consistentAsOf: freshness.consistentAsOf,
      caughtUp: freshness.caughtUp,
      answeredAt: this.now(),
      ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}),
    };
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [
        {
          topic: this.options.resultsTopic,
          messages: [{ key: request.requestId, value: JSON.stringify(result) }],
        },
        {
          topic: this.options.auditTopic,
          messages: [
            this.audit(request.requestId, 'answered', {
              status: result.status,
              locations: locations.length,
              caughtUp: result.caughtUp,
            }),
          ],
        },
      ],
    });
    this.finished.add(request.requestId);
    metrics.dsrRequests.inc({ type: request.type, outcome: result.status });
    metrics.dsrAnswerSeconds.observe({ status: result.status }, secondsSince(received));
  }

  private audit(requestId: string, step: AuditEvent['step'], detail: AuditEvent['detail']) {
    const event = appendAudit(this.lastAudit.get(requestId), { requestId, step, at: this.now(), detail });
    this.lastAudit.set(requestId, event);
    return { key: requestId, value: JSON.stringify(event) };
  }

  /**
   * Polls until discovery has committed every `cdc.*` partition to its end and the index view has
   * read what discovery wrote, or `waitMs` passed. Returns the offsets the answer reflects.
   */
  private async waitForFreshness(): Promise<{ caughtUp: boolean; consistentAsOf: Record<string, string> }> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const deadline = Date.now() + this.options.waitMs;
      for (;;) {
        const { behind, consistentAsOf } = await discoveryLag(
          admin,
          this.options.discoveryGroupId,
          this.options.cdcTopics ?? CDC_TOPICS,
        );
        if (!behind && (await this.view.waitCaughtUp(Math.max(0, deadline - Date.now())))) {
          return { caughtUp: true, consistentAsOf };
        }
        if (Date.now() >= deadline) return { caughtUp: false, consistentAsOf };
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await admin.disconnect();
    }
  }
}

/** The discovery group's committed offsets on every cdc.* partition, and whether any is behind. */
async function discoveryLag(
  admin: Admin,
  groupId: string,
  pattern: RegExp,
): Promise<{ behind: boolean; consistentAsOf: Record<string, string> }> {
  const topics = (await admin.listTopics()).filter((t) => pattern.test(t));
  const consistentAsOf: Record<string, string> = {};
  let behind = false;
  if (topics.length === 0) return { behind, consistentAsOf };
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const topic of topics) {
    const ends = await admin.fetchTopicOffsets(topic);
    const done = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const end of ends) {
      const raw = done.find((p) => p.partition === end.partition)?.offset ?? '-1';
      // -1: nothing committed yet, which is caught up only for an empty partition
      const offset = raw === '-1' ? end.low : raw;
      consistentAsOf[`${topic}/${end.partition}`] = offset;
      if (BigInt(offset) < BigInt(end.high)) behind = true;
    }
  }
  return { behind, consistentAsOf };
}
