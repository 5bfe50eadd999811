import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import { deadLetter } from '../../../src/kafka/dlq.js';
import { createMetrics, metrics } from '../../../src/observability/metrics.js';

describe('metrics', () => {
  it('defines every metric on its own registry, so a test reads a fresh one', async () => {
    const fresh = createMetrics();
    fresh.eventsOut.inc({ topic: 'cdc.app.public.t' }, 3);
    const text = await fresh.registry.metrics();
    expect(text).toContain('dsr_cdc_events_out_total{topic="cdc.app.public.t"} 3');
    for (const name of [
      'dsr_cdc_events_in_total',
      'dsr_cdc_consumer_lag_messages',
      'dsr_cdc_slot_lag_bytes',
      'dsr_cdc_dlq_events_total',
      'dsr_cdc_batch_duration_seconds',
      'dsr_cdc_circuit_breaker_state',
      'dsr_cdc_dsr_requests_total',
      'dsr_cdc_dsr_answer_seconds',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
    // the process registry is another one, with the process defaults on it
    expect(await metrics.registry.metrics()).toContain('dsr_cdc_process_cpu_seconds_total');
  });

  it('counts a dead letter by stage and error class, never by anything from the row', async () => {
    const before = (await metrics.dlqEvents.get()).values.find(
      (v) => v.labels.stage === 'unit-test' && v.labels.reason_class === 'EVENT_INVALID',
    );
    const poison = {
      topic: 't',
      partition: 0,
      offset: '1',
      key: null,
      value: Buffer.from('ada@example.test'),
    };
    deadLetter('unit-test', poison, new DsrCdcError('EVENT_INVALID', 'bad field x'));
    const after = (await metrics.dlqEvents.get()).values.find(
      (v) => v.labels.stage === 'unit-test' && v.labels.reason_class === 'EVENT_INVALID',
    );
    expect((after?.value ?? 0) - (before?.value ?? 0)).toBe(1);
    expect(await metrics.registry.metrics()).not.toContain('ada@example.test');
  });
});
