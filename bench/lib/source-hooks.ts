/**
 * Preloaded into the source process by `npm run bench -- source --trace-batches` or
 * `--trace-memory` (`node --import tsx --import ./bench/lib/source-hooks.ts
 * ...`). Touches only the kafkajs module instance the source loads (Node shares the CommonJS
 * cache with ESM imports); the source's own code runs unchanged.
 *
 * DSR_CDC_BENCH_TRACE=<file>: wraps every producer's sendBatch and appends one line per call:
 *   <start ms (monotonic)> <duration ms> <messages> <bytes of keys and values>
 * DSR_CDC_BENCH_MEMORY=<file>: every 100 ms appends process.memoryUsage() in kB:
 *   <time ms (monotonic)> <rss> <heapTotal> <heapUsed> <external> <arrayBuffers>
 */
import { appendFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Kafka, Producer, ProducerBatch } from 'kafkajs';

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
if (trace) {
  const { Kafka: KafkaClass } = require('kafkajs') as { Kafka: typeof Kafka };
  const createProducer = KafkaClass.prototype.producer;
  KafkaClass.prototype.producer = function producer(this: Kafka, ...args: Parameters<Kafka['producer']>) {
    const created: Producer = createProducer.apply(this, args);
    const sendBatch = created.sendBatch;
    created.sendBatch = async (batch: ProducerBatch) => {
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
    return created;
  };
}
