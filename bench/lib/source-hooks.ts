/**
 * Preloaded into the source process by `npm run bench -- source --trace-batches`,
 * `--trace-memory` or `--experiment ...` (`node --import tsx --import ./bench/lib/source-hooks.ts
 * ...`). Touches only the kafkajs module instance the source loads (Node shares the CommonJS
 * cache with ESM imports); the source's own code runs unchanged.
 *
 * DSR_CDC_BENCH_TRACE=<file>: wraps every producer's sendBatch and appends one line per call:
 *   <start ms (monotonic)> <duration ms> <messages> <bytes of keys and values>
 * DSR_CDC_BENCH_MEMORY=<file>: every 100 ms appends process.memoryUsage() in kB:
 *   <time ms (monotonic)> <rss> <heapTotal> <heapUsed> <external> <arrayBuffers>
 * DSR_CDC_BENCH_EXPERIMENTS=<comma-separated>: what-if changes, to size a fix before making it:
 *   linear-grouping    kafkajs' groupMessagesPerPartition in O(n) (as in kafkajs PR #1576)
 *                      instead of its O(n²) array spreading
 *   split-batches=<n>  every sendBatch is sent as consecutive sendBatch calls of at most n
 *                      messages (what capping BatchingProducer's batches at n would do)
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Kafka, Message, Producer, ProducerBatch } from 'kafkajs';

const require = createRequire(import.meta.url);
const memory = process.env.DSR_CDC_BENCH_MEMORY;
if (memory) {
  const kb = (n: number) => Math.round(n / 1024);
  setInterval(() => {
    const m = process.memoryUsage();
    const at = Number(process.hrtime.bigint() / 1000n) / 1000;
    appendFileSync(
      memory,
      `${at.toFixed(3)} ${kb(m.rss)} ${kb(m.heapTotal)} ${kb(m.heapUsed)} ${kb(m.external)} ${kb(m.arrayBuffers)}\n`,
    );
  }, 100).unref();
}
const trace = process.env.DSR_CDC_BENCH_TRACE;
const experiments = new Map(
  (process.env.DSR_CDC_BENCH_EXPERIMENTS ?? '')
    .split(',')
    .filter(Boolean)
    .map((e) => e.split('=') as [string, string | undefined]),
);

type Partitioner = (args: { topic: string; partitionMetadata: unknown[]; message: Message }) => number;

if (experiments.has('linear-grouping')) {
  // must replace the module before kafkajs' sendMessages.js requires it
  const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
  require(path);
  (require.cache[path] as NodeJS.Module).exports = ({
    topic,
    partitionMetadata,
    messages,
    partitioner,
  }: {
    topic: string;
    partitionMetadata: unknown[];
    messages: Message[];
    partitioner: Partitioner;
  }) => {
    const result: Record<number, Message[]> = {};
    if (partitionMetadata.length === 0) return result;
    for (const message of messages) {
      const partition = partitioner({ topic, partitionMetadata, message });
      const list = result[partition];
      if (list) list.push(message);
      else result[partition] = [message];
    }
    return result;
  };
}

const split = Number(experiments.get('split-batches') ?? 0);

if (trace || split > 0) {
  const { Kafka: KafkaClass } = require('kafkajs') as { Kafka: typeof Kafka };
  const createProducer = KafkaClass.prototype.producer;
  KafkaClass.prototype.producer = function producer(this: Kafka, ...args: Parameters<Kafka['producer']>) {
    const created: Producer = createProducer.apply(this, args);
    const sendBatch = created.sendBatch;
    const traced = async (batch: ProducerBatch) => {
      if (!trace) return sendBatch(batch);
      let messages = 0;
      let bytes = 0;
      for (const { messages: list } of batch.topicMessages ?? []) {
        messages += list.length;
        for (const m of list) bytes += (m.key?.length ?? 0) + ((m.value as Buffer | null)?.length ?? 0);
      }
      const start = Number(process.hrtime.bigint() / 1000n) / 1000;
      try {
        return await sendBatch(batch);
      } finally {
        const ms = Number(process.hrtime.bigint() / 1000n) / 1000 - start;
        appendFileSync(trace, `${start.toFixed(3)} ${ms.toFixed(3)} ${messages} ${bytes}\n`);
      }
    };
    created.sendBatch = async (batch: ProducerBatch) => {
      if (split <= 0) return traced(batch);
      const results: Awaited<ReturnType<Producer['sendBatch']>> = [];
      for (const { topic, messages } of batch.topicMessages ?? []) {
        for (let i = 0; i < messages.length; i += split) {
          const chunk = { ...batch, topicMessages: [{ topic, messages: messages.slice(i, i + split) }] };
          results.push(...(await traced(chunk)));
        }
      }
      return results;
    };
    return created;
  };
}
