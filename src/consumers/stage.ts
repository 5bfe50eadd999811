/**
 * The lifecycle every consumer stage shares: start its parts in order, run until the signal
 * aborts or a part reports a fatal error, and stop what was started in reverse order, even after a
 * failure half-way through starting. A fatal error ends the stage (see stageFailure): retryable
 * ones and kafkajs consumer crashes so that its supervisor restarts it rather than letting it
 * idle; our own errors that decide() does not retry (a permission, a rejected cast) as they are,
 * so the stage stops with that error instead of restarting into it forever.
 */
import type { Kafka } from 'kafkajs';
import { DsrCdcError, decide } from '../errors.js';
import { ensureTopics, type TopicSpec } from '../kafka/topics.js';
import type { Logger } from '../observability/logger.js';

export interface StagePart {
  name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Set by runStage: the part calls it when it cannot go on. */
  onFatal?: (error: Error) => void;
}

export async function runStage(
  stage: string,
  parts: StagePart[],
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  let crashed: (error: Error) => void = () => undefined;
  const crash = new Promise<never>((_, reject) => {
    crashed = reject;
  });
  crash.catch(() => undefined);
  for (const part of parts) {
    part.onFatal = (error) => crashed(stageFailure(stage, error));
  }
  const started: StagePart[] = [];
  try {
    for (const part of parts) {
      if (signal.aborted) break;
      started.push(part);
      await part.start().catch((error: unknown) => {
        throw startError(stage, part.name, error);
      });
    }
    if (!signal.aborted) log.info('running');
    await Promise.race([aborted(signal), crash]);
  } finally {
    for (const part of started.reverse()) {
      await part.stop().catch((error: unknown) => {
        log.warn({ part: part.name, reason: (error as Error).message }, 'did not stop cleanly');
      });
    }
  }
}

/**
 * What a part's fatal error ends the stage with. A DsrCdcError was translated where it was caught,
 * so its own decision stands: not retryable, it ends the stage as it is. Anything else is a kafkajs
 * consumer that gave up (onFatalCrash), which a restart may cure: retryable.
 */
export function stageFailure(stage: string, error: Error): Error {
  if (error instanceof DsrCdcError && decide(error) !== 'retry') return error;
  return new DsrCdcError('CONNECTION_FAILED', `${stage} stopped: ${error.message}`, {
    retryable: true,
    cause: error,
  });
}

/** Failures while starting (Kafka, the registry or a warehouse unreachable) are worth another try. */
export function startError(stage: string, part: string, error: unknown): DsrCdcError {
  if (error instanceof DsrCdcError) return error;
  return new DsrCdcError('CONNECTION_FAILED', `${stage} ${part} failed: ${(error as Error).message}`, {
    retryable: true,
    cause: error,
  });
}

export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** The first part of a stage: the topics it writes (its DLQ …) exist before anything uses them. */
export function topicsPart(kafka: Kafka, specs: TopicSpec[]): StagePart {
  return {
    name: 'topics',
    start: async () => {
      const admin = kafka.admin();
      await admin.connect();
      try {
        await ensureTopics(admin, specs);
      } finally {
        await admin.disconnect();
      }
    },
    stop: async () => undefined,
  };
}
