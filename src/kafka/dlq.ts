/**
 * Dead letters: a poison event goes to `dlq.<stage>` with its original key and bytes, and headers
 * saying where it came from and why, so the stream keeps moving and nothing is lost. Headers never
 * carry row values: a DsrCdcError's message is written for that (it names fields, not values);
 * any other error contributes only its class.
 */
import type { Message } from 'kafkajs';
import { decide, isDsrCdcError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { type TopicFamilies, type TopicSpec, topicSpec } from './topics.js';

export interface Poison {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export function dlqTopic(families: TopicFamilies, stage: string): TopicSpec {
  return topicSpec(families, 'dlq', { stage });
}

/** Why an event is a dead letter, as headers and logs may say it (never row values). */
function deadLetterReason(error: unknown): { errorClass: string; reason: string } {
  const errorClass = isDsrCdcError(error) ? error.code : ((error as Error)?.name ?? 'Error');
  const reason = isDsrCdcError(error)
    ? error.message
    : `${errorClass} (details withheld: they may hold row values)`;
  return { errorClass, reason };
}

/** The dead letter of `poison`; counts it in dsr_cdc_dlq_events_total. */
export function deadLetter(stage: string, poison: Poison, error: unknown): Message {
  const { errorClass, reason } = deadLetterReason(error);
  // counted when built: every caller sends the letter at once or stops the stage
  metrics.dlqEvents.inc({ stage, reason_class: errorClass });
  return {
    key: poison.key,
    value: poison.value,
    headers: {
      'dsr-cdc.topic': poison.topic,
      'dsr-cdc.partition': String(poison.partition),
      'dsr-cdc.offset': poison.offset,
      'dsr-cdc.stage': stage,
      'dsr-cdc.error-class': errorClass,
      'dsr-cdc.error': reason,
    },
  };
}

/**
 * A consumer stage's answer to an event that failed: its dead letter when the error policy says
 * DLQ (logged by position, never by value); otherwise `stop` is called (the event may be fine, e.g.
 * the registry was unreachable, or we have a bug: never park it) and the error is thrown.
 */
export function deadLetterOrStop(
  stage: string,
  poison: Poison,
  error: unknown,
  stop: (error: Error) => void,
  logger: Logger,
): Message {
  if (decide(error) !== 'dlq') {
    stop(error as Error);
    throw error;
  }
  const { topic, partition, offset } = poison;
  const { errorClass, reason } = deadLetterReason(error);
  logger.warn({ topic, partition, offset, code: errorClass, reason }, 'event sent to the DLQ');
  return deadLetter(stage, poison, error);
}
