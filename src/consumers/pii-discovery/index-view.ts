/**
 * A process's full view of the compacted `dsr.subject-index` topic (every partition, read from the
 * start, never committed), kept in a SubjectIndex. `waitCaughtUp()` resolves once the view holds
 * everything the topic held when it was called: discovery calls it after each rebalance (so a
 * location that moved from another process is diffed against that process's writes) and the
 * answerer before each answer.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { isDsrCdcError } from '../../errors.js';
import { CONSUMER_RETRY, onFatalCrash } from '../../kafka/client.js';
import { type IndexRecord, parseIndexRecord, SubjectIndex } from './subject-index.js';

export class IndexView {
  readonly index = new SubjectIndex();
  private readonly consumed = new Map<number, bigint>();
  /** Records this process produced that the view has not read back yet, oldest first, per key. */
  private readonly ownPending = new Map<string, (string | null)[]>();
  private consumer: Consumer | undefined;
  /** Called when kafkajs gives up on the consumer. */
  onFatal: (error: Error) => void = () => undefined;
  /** Called for a record that is not an index record (skipped: it names no location to trust). */
  onCorruptRecord: (where: { partition: number; offset: string }) => void = () => undefined;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
  ) {}

  async start(): Promise<void> {
    this.consumer = this.kafka.consumer({
      groupId: `dsr-cdc.index-view.${randomUUID()}`,
      allowAutoTopicCreation: false,
      retry: CONSUMER_RETRY,
    });
    onFatalCrash(this.consumer, (error) => this.onFatal(error));
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const key = message.key?.toString();
          if (key) {
            try {
              this.fromTopic(key, message.value?.toString() ?? null);
            } catch (error) {
              if (!isDsrCdcError(error) || error.code !== 'EVENT_INVALID') throw error;
              this.onCorruptRecord({ partition: batch.partition, offset: message.offset });
            }
          }
          this.consumed.set(batch.partition, BigInt(message.offset) + 1n);
        }
      },
    });
  }

  /**
   * A record this process is producing: applied now, so the next event of the same row is diffed
   * against it, and not applied again when it comes back from the topic — by then a newer record
   * of ours may stand in memory, and re-applying the older one would undo it.
   */
  applyOwn(record: IndexRecord, serialized: string | null): void {
    this.index.apply(record);
    const pending = this.ownPending.get(record.key) ?? [];
    pending.push(serialized);
    this.ownPending.set(record.key, pending);
  }

  private fromTopic(key: string, serialized: string | null): void {
    const pending = this.ownPending.get(key);
    if (pending) {
      // our own write returning, or another process's write to a key whose newer state we hold
      // (after a rebalance, only the new owner of a row writes it): memory is already ahead
      if (pending[0] === serialized) pending.shift();
      if (pending.length === 0) this.ownPending.delete(key);
      return;
    }
    this.index.apply(parseIndexRecord(key, serialized));
  }

  /** Resolves when every record the topic holds now has been applied; false after the timeout. */
  async waitCaughtUp(timeoutMs: number): Promise<boolean> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; high: string }[];
    try {
      ends = await admin.fetchTopicOffsets(this.topic);
    } finally {
      await admin.disconnect();
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const behind = ends.some((e) => (this.consumed.get(e.partition) ?? 0n) < BigInt(e.high));
      if (!behind) return true;
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
  }
}
