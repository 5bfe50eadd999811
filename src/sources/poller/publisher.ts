/**
 * The producing path every poller shares with the replication source: contracts from the
 * ContractCatalog, events through a BatchingProducer into `cdc.<source>.<schema>.<table>`, and
 * watermarks in the compacted `_dsr-cdc.source-state` topic.
 *
 * Watermark contract: `commit()` first waits until Kafka acknowledged every event enqueued so far
 * (acks = -1), then writes the state. A failure anywhere before the state write leaves the stored
 * watermark where it was, so a restart re-reads from there: events may repeat, never go missing.
 *
 * Failures: every Kafka call here rejects with a DsrCdcError classified by kafkaError (an outage is
 * a retryable CONNECTION_FAILED), so a short Kafka outage fails one run, not the process.
 */
import type { Kafka, Producer } from 'kafkajs';
import { DsrCdcError } from '../../errors.js';
import type { ChangeToEncode, TableEncoder } from '../../events/contracts.js';
import { type BatchingOptions, BatchingProducer } from '../../kafka/batching-producer.js';
import { connectAdmin, createProducer } from '../../kafka/client.js';
import { kafkaClassified } from '../../kafka/failures.js';
import { SourceStateStore } from '../../kafka/source-state.js';
import { ensureTopics, type TopicSpec } from '../../kafka/topics.js';
import type { Watermark } from './watermark.js';

/** What a poller keeps between runs, per table ("schema.table"). */
export interface PollerState {
  tables: Record<string, Watermark>;
}

export class PollerPublisher {
  private producer: Producer | undefined;
  private batching: BatchingProducer | undefined;
  private store: SourceStateStore | undefined;
  private state: PollerState = { tables: {} };

  constructor(
    private readonly kafka: Kafka,
    /** The state key: `poller/<source name>`. */
    readonly sourceId: string,
    private readonly batchingOptions: BatchingOptions,
  ) {}

  /** Connects the producer and reads the stored watermarks; `opened` only once all of it worked. */
  async open(): Promise<void> {
    const producer = createProducer(this.kafka);
    await producer.connect();
    try {
      const store = new SourceStateStore(this.kafka, producer);
      await kafkaClassified('create the source-state topic', () => store.ensureTopic());
      const state = await kafkaClassified(`read the state of ${this.sourceId}`, () =>
        store.read<PollerState>(this.sourceId),
      );
      this.state = state ?? { tables: {} };
      this.store = store;
      this.batching = new BatchingProducer(producer, this.batchingOptions);
      this.producer = producer;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  get opened(): boolean {
    return this.producer !== undefined;
  }

  async ensureTopics(topics: TopicSpec[]): Promise<void> {
    const admin = await connectAdmin(this.kafka);
    try {
      await kafkaClassified('create the poller topics', () => ensureTopics(admin, topics));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** The durable watermark of `table`, if it was ever polled. */
  watermark(table: string): Watermark | undefined {
    return this.state.tables[table];
  }

  /**
   * The durable cursor of each table, for status: the cursor is a timestamp or an integer; the
   * key half of a watermark is a row value (it may be an email) and is left out.
   */
  get cursors(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.state.tables).map(([table, w]) => [table, w.cursor]));
  }

  /** Encodes and enqueues one change (waits while the producer's buffer is full). */
  async publish(encoder: TableEncoder, change: ChangeToEncode): Promise<void> {
    // EVENT_INVALID naming the column or field, never the value
    const { key, value } = encoder.encode(change);
    await this.required(this.batching).enqueue({ topic: encoder.topic.name, key, value });
  }

  /** Waits until Kafka holds everything published so far, then stores the new watermarks. */
  async commit(watermarks: Record<string, Watermark>): Promise<void> {
    await this.required(this.batching).flush();
    const next: PollerState = { tables: { ...this.state.tables, ...watermarks } };
    await this.required(this.store).write(this.sourceId, next);
    this.state = next;
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    this.batching = undefined;
    this.store = undefined;
    await producer?.disconnect().catch(() => undefined);
  }

  private required<T>(value: T | undefined): T {
    if (value === undefined) throw new DsrCdcError('INTERNAL', 'PollerPublisher used before open()');
    return value;
  }
}
