/**
 * Application-side batching over a kafkajs producer (kafkajs has no linger).
 *
 * Contract:
 * - Messages are sent in the order they were enqueued, one batch in flight at a time, so order
 *   per partition holds without relying on broker-side sequencing.
 * - Every message gets a ticket (1, 2, 3, …). `durableTicket` is the highest ticket such that it
 *   and every earlier message were acknowledged by all in-sync replicas (acks = -1). A source
 *   acknowledges its position only up to what `durableTicket` covers.
 * - `enqueue` waits while `maxBufferedMessages` are not yet durable: memory stays bounded when
 *   Kafka is slow or down, and the wait propagates back to the source (backpressure).
 * - A batch that fails after the client's own retries fails the producer: every later call
 *   rejects with that error (classified by kafkaError: retryable for an outage, REQUEST_REJECTED
 *   for a broker's refusal). Nothing after a gap is ever reported durable.
 * - Every request goes through the 'kafka' circuit breaker: while it is open, a batch fails at
 *   once with a retryable CONNECTION_FAILED instead of waiting out kafkajs' retries again.
 */
import type { Message, Producer } from 'kafkajs';
import type { DsrCdcError } from '../errors.js';
import { metrics, secondsSince } from '../observability/metrics.js';
import { type Breakers, breakers as processBreakers } from '../resilience.js';
import { kafkaCall, kafkaError } from './failures.js';

export interface OutgoingMessage {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Explicit partition (e.g. a truncate marker sent to every partition); else by key hash. */
  partition?: number;
}

export interface BatchingOptions {
  /** Send when this many messages are waiting. */
  maxBatchMessages: number;
  /** Send when the waiting messages hold this many bytes. */
  maxBatchBytes: number;
  /** Send at most this long after the first waiting message arrived. */
  lingerMs: number;
  /** Enqueue waits while this many messages are not yet durable. */
  maxBufferedMessages: number;
}

export const DEFAULT_BATCHING: BatchingOptions = {
  maxBatchMessages: 5_000,
  maxBatchBytes: 4 * 1024 * 1024,
  lingerMs: 5,
  maxBufferedMessages: 10_000,
};

export class BatchingProducer {
  private waiting: OutgoingMessage[] = [];
  private waitingBytes = 0;
  private lastTicket = 0;
  private durable = 0;
  private inFlight: Promise<void> | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private failure: DsrCdcError | undefined;
  private readonly durableListeners = new Set<(ticket: number) => void>();
  private readonly spaceWaiters: (() => void)[] = [];

  constructor(
    private readonly producer: Producer,
    private readonly options: BatchingOptions = DEFAULT_BATCHING,
    private readonly breakers: Breakers = processBreakers,
  ) {}

  /** The highest ticket that is durable together with every earlier one. */
  get durableTicket(): number {
    return this.durable;
  }

  /** The ticket of the most recently enqueued message. */
  get enqueuedTicket(): number {
    return this.lastTicket;
  }

  /** Called with the new durable ticket after every acknowledged batch. */
  onDurable(listener: (ticket: number) => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /** Queues a message and returns its ticket; waits while the buffer is full. */
  async enqueue(message: OutgoingMessage): Promise<number> {
    this.throwIfFailed();
    while (this.lastTicket - this.durable >= this.options.maxBufferedMessages) {
      await new Promise<void>((resolve) => this.spaceWaiters.push(resolve));
      this.throwIfFailed();
    }
    this.waiting.push(message);
    this.waitingBytes += (message.key?.length ?? 0) + (message.value?.length ?? 0);
    this.lastTicket += 1;
    const ticket = this.lastTicket;
    if (
      this.waiting.length >= this.options.maxBatchMessages ||
      this.waitingBytes >= this.options.maxBatchBytes
    ) {
      this.kick();
    } else if (!this.lingerTimer) {
      this.lingerTimer = setTimeout(() => this.kick(), this.options.lingerMs);
    }
    return ticket;
  }

  /** Sends everything waiting and resolves when all of it is durable. */
  async flush(): Promise<void> {
    while (this.durable < this.lastTicket) {
      this.throwIfFailed();
      this.kick();
      await this.inFlight;
    }
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  /** Starts sending the waiting messages unless a batch is already in flight. */
  private kick(): void {
    if (this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    if (this.inFlight || this.waiting.length === 0 || this.failure) return;
    // at most one batch's worth per request: what piled up while a batch was in flight waits for
    // the next, so a slow request never turns into one huge, slower one
    let count = 0;
    let bytes = 0;
    while (count < this.waiting.length && count < this.options.maxBatchMessages) {
      const next = this.waiting[count] as OutgoingMessage;
      const size = (next.key?.length ?? 0) + (next.value?.length ?? 0);
      if (count > 0 && bytes + size > this.options.maxBatchBytes) break;
      bytes += size;
      count += 1;
    }
    const batch = this.waiting.splice(0, count);
    this.waitingBytes -= bytes;
    const upTo = this.lastTicket - this.waiting.length;
    const action = `acknowledge a batch of ${batch.length} messages`;
    this.inFlight = this.send(batch, action).then(
      () => {
        this.durable = upTo;
        this.inFlight = undefined;
        for (const listener of this.durableListeners) listener(upTo);
        this.releaseWaiters();
        if (this.waiting.length > 0) this.kick();
      },
      (error: unknown) => {
        this.failure = kafkaError(error, action);
        this.inFlight = undefined;
        this.releaseWaiters();
      },
    );
  }

  private releaseWaiters(): void {
    for (const resolve of this.spaceWaiters.splice(0)) resolve();
  }

  private async send(batch: OutgoingMessage[], action: string): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, key, value, partition } of batch) {
      const messages = byTopic.get(topic) ?? [];
      if (messages.length === 0) byTopic.set(topic, messages);
      messages.push(partition === undefined ? { key, value } : { key, value, partition });
    }
    const started = process.hrtime.bigint();
    await kafkaCall(
      action,
      () =>
        this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        }),
      this.breakers,
    );
    metrics.batchSeconds.observe({ stage: 'produce' }, secondsSince(started));
    for (const [topic, messages] of byTopic) metrics.eventsOut.inc({ topic }, messages.length);
  }
}
