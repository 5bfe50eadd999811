/**
 * kafkajs failures, translated in one place, and the 'kafka' circuit breaker (see resilience.ts).
 *
 * kafkajs retries connection problems and retriable broker errors itself (with backoff), then
 * gives up, usually with KafkaJSNumberOfRetriesExceeded wrapping the last error. What reaches us is:
 * - a broker's refusal for good (refusedByBroker: a message too large, an authorization failure):
 *   REQUEST_REJECTED, not retryable. A broker that answers is working: the breaker does not count it;
 * - an outage (unreachable, timed out, retries exhausted on a retriable error): CONNECTION_FAILED,
 *   retryable, and counted by the breaker;
 * - anything else kafkajs refuses for good on the client side (failed SASL authentication, an
 *   unsupported API): REQUEST_REJECTED, not retryable, not counted;
 * - an error that is not kafkajs' own: INTERNAL (a bug of ours), not counted.
 */
import { DsrCdcError } from '../errors.js';
import { type Breakers, breakers as processBreakers } from '../resilience.js';

/** The breaker every Kafka call of the process goes through. */
export const KAFKA_BREAKER = 'kafka';

type KafkaJsError = {
  name?: string;
  type?: string;
  retriable?: boolean;
  originalError?: unknown;
  cause?: unknown;
};

/** Non-retriable in kafkajs' terms, yet an outage: a timeout, or no coordinator reachable. */
const OUTAGES = new Set(['KafkaJSTimeout', 'KafkaJSLockTimeout', 'KafkaJSGroupCoordinatorNotFound']);

/** `error` and what it wraps, outermost first (kafkajs wraps the last error when it gives up). */
function* chain(error: unknown): Generator<KafkaJsError> {
  let e = error as KafkaJsError | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 10; depth += 1) {
    yield e;
    e = (e.originalError ?? e.cause) as KafkaJsError | undefined;
  }
}

const isKafkaJs = (e: KafkaJsError) => typeof e.name === 'string' && e.name.startsWith('KafkaJS');

/**
 * The broker's error code when it refused the request for good (a message too large, an
 * authorization failure, …): sending the same request again cannot succeed, so retrying would
 * loop forever. Undefined for connection problems and retriable broker errors.
 */
export function refusedByBroker(error: unknown): string | undefined {
  for (const e of chain(error)) {
    if (e.name === 'KafkaJSProtocolError' && e.retriable === false) return e.type ?? 'UNKNOWN';
  }
  return undefined;
}

/** Whether `error` says Kafka could not be reached or did not answer in time (see top). */
export function isKafkaOutage(error: unknown): boolean {
  if (refusedByBroker(error) !== undefined) return false;
  for (const e of chain(error)) {
    if (isKafkaJs(e) && (e.retriable === true || OUTAGES.has(e.name as string))) return true;
  }
  return false;
}

/**
 * `error`, from asking Kafka to `action` (a verb phrase with Kafka as its subject: "acknowledge a
 * batch of 3 messages"), as a DsrCdcError classified as at the top. A DsrCdcError passes through unchanged. The message carries
 * kafkajs' own, which names brokers, topics and error codes, never message contents.
 */
export function kafkaError(error: unknown, action: string): DsrCdcError {
  if (error instanceof DsrCdcError) return error;
  const reason = (error as Error | undefined)?.message ?? String(error);
  const refused = refusedByBroker(error);
  if (refused !== undefined) {
    const fix = refused === 'MESSAGE_TOO_LARGE' ? '; raise max.message.bytes of the topic' : '';
    return new DsrCdcError('REQUEST_REJECTED', `Kafka refused to ${action} (${refused}): ${reason}${fix}`, {
      cause: error,
    });
  }
  if (isKafkaOutage(error)) {
    return new DsrCdcError(
      'CONNECTION_FAILED',
      `Kafka did not ${action}: it is unreachable or did not answer in time (${reason})`,
      { retryable: true, cause: error },
    );
  }
  if ([...chain(error)].some(isKafkaJs)) {
    return new DsrCdcError('REQUEST_REJECTED', `Kafka did not ${action}: the client refused (${reason})`, {
      cause: error,
    });
  }
  return new DsrCdcError('INTERNAL', `Kafka did not ${action}: unexpected failure (${reason})`, {
    cause: error,
  });
}

/**
 * Runs `call` (one Kafka operation, after kafkajs' own retries) through the 'kafka' breaker, its
 * failure translated by kafkaError: only outages count towards opening the breaker, and while it
 * is open the call fails at once with a retryable CONNECTION_FAILED naming Kafka.
 */
export function kafkaCall<T>(
  action: string,
  call: () => Promise<T>,
  through: Breakers = processBreakers,
): Promise<T> {
  return through.call(KAFKA_BREAKER, () => kafkaClassified(action, call));
}

/**
 * `call`, its failure (kafkajs' own or ours) as a DsrCdcError classified by kafkaError, without
 * the breaker: for calls made of others that already go through it (one failure counts once).
 */
export async function kafkaClassified<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw kafkaError(error, action);
  }
}
