/**
 * Every Prometheus metric of dsr-cdc, defined once, on one registry. Stages import `metrics` (the
 * process registry that `GET /metrics` serves); tests that need a clean slate build their own
 * with `createMetrics()`.
 *
 * Labels carry only names from the config or the code (topics, stages, groups, sources, error
 * classes, external systems), never row values, identifiers or secrets: a label value is kept
 * forever by every scraper.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Circuit-breaker states as the gauge reports them. */
export const BREAKER_STATE = { closed: 0, open: 1, 'half-open': 2, isolated: 3 } as const;
export type BreakerStateName = keyof typeof BREAKER_STATE;

/** Batch latencies: a few ms for a linger batch up to tens of seconds for a stalled broker. */
const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** DSR answers wait for the index to catch up: up to dsr.answerWaitMs (30 s by default) and beyond. */
const ANSWER_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  return {
    registry,
    eventsIn: new Counter({
      name: 'dsr_cdc_events_in_total',
      help: 'Events consumed, per stage and input topic',
      labelNames: ['stage', 'topic'] as const,
      registers,
    }),
    eventsOut: new Counter({
      name: 'dsr_cdc_events_out_total',
      help: 'Events acknowledged by Kafka (acks = all), per output topic',
      labelNames: ['topic'] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'dsr_cdc_consumer_lag_messages',
      help: 'Messages between a consumer group position and the partition end, as of its last batch',
      labelNames: ['group', 'topic', 'partition'] as const,
      registers,
    }),
    slotLagBytes: new Gauge({
      name: 'dsr_cdc_slot_lag_bytes',
      help: 'WAL a replication slot holds back: server position minus confirmed position',
      labelNames: ['source'] as const,
      registers,
    }),
    dlqEvents: new Counter({
      name: 'dsr_cdc_dlq_events_total',
      help: 'Poison events sent to a dead-letter topic, per stage and error class',
      labelNames: ['stage', 'reason_class'] as const,
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'dsr_cdc_batch_duration_seconds',
      help: 'Time to make a batch durable: a producer batch until acks, a consumer batch until committed',
      labelNames: ['stage'] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    breakerState: new Gauge({
      name: 'dsr_cdc_circuit_breaker_state',
      help: 'Circuit breaker per external system: 0 closed, 1 open, 2 half-open, 3 isolated',
      labelNames: ['system'] as const,
      registers,
    }),
    dsrRequests: new Counter({
      name: 'dsr_cdc_dsr_requests_total',
      help: 'DSR requests by outcome: submitted (admin API), complete, incomplete, rejected, duplicate',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    dsrAnswerSeconds: new Histogram({
      name: 'dsr_cdc_dsr_answer_seconds',
      help: 'Time from receiving a DSR request to its answer being durable',
      labelNames: ['status'] as const,
      buckets: ANSWER_BUCKETS,
      registers,
    }),
    warehouseTableStopped: new Gauge({
      name: 'dsr_cdc_warehouse_table_stopped',
      help: 'Snowflake tables the loader stopped on schema drift (1), by target table',
      labelNames: ['table'] as const,
      registers,
    }),
    componentUp: new Gauge({
      name: 'dsr_cdc_component_up',
      help: 'Components hosted by `dsr-cdc run`: 1 running, 0 stopped or failed',
      labelNames: ['component'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The process registry: what every stage records to and `GET /metrics` serves. */
export const metrics: Metrics = createMetrics();
collectDefaultMetrics({ register: metrics.registry, prefix: 'dsr_cdc_' });

/** Seconds since `startNs` (process.hrtime.bigint()), for the histograms. */
export function secondsSince(startNs: bigint): number {
  return Number(process.hrtime.bigint() - startNs) / 1e9;
}
