/**
 * `sources.<name>.batch`: how a source batches what it produces (kafkajs has no linger), the same
 * for the replication source and the pollers. Defaults are BatchingProducer's.
 */
import { z } from 'zod';
import { DEFAULT_BATCHING } from '../kafka/batching-producer.js';

export const batchSchema = z
  .strictObject({
    maxMessages: z.number().int().min(1).default(DEFAULT_BATCHING.maxBatchMessages),
    maxBytes: z.number().int().min(1024).default(DEFAULT_BATCHING.maxBatchBytes),
    lingerMs: z.number().int().min(0).max(10_000).default(DEFAULT_BATCHING.lingerMs),
    maxBufferedMessages: z.number().int().min(1).default(DEFAULT_BATCHING.maxBufferedMessages).meta({
      description: 'Backpressure: intake waits while this many events are not yet acknowledged by Kafka.',
    }),
  })
  .default({
    maxMessages: DEFAULT_BATCHING.maxBatchMessages,
    maxBytes: DEFAULT_BATCHING.maxBatchBytes,
    lingerMs: DEFAULT_BATCHING.lingerMs,
    maxBufferedMessages: DEFAULT_BATCHING.maxBufferedMessages,
  });
