/**
 * The root logger: JSON lines with ISO timestamps and a `component` field, written to stderr by
 * default so that stdout stays free for command output. Logs never carry secrets, raw identifiers
 * or row values, so those keys are censored wherever they appear up to REDACT_DEPTH levels deep.
 */
import pino, { type DestinationStream, type Level, type Logger } from 'pino';

export type { Logger };

/**
 * Keys whose values are censored: credentials (as the config and the drivers name them), subject
 * identifiers (a DSR request's `identifiers`), message keys and values (Kafka messages, index
 * entries), whole rows or SQL binds, and pg's error `detail` (it quotes rows: "Key (id)=(42) …").
 */
export const REDACTED_KEYS = [
  'password',
  'passphrase',
  'token',
  'pepper',
  'secret',
  'clientSecret',
  'authorization',
  'cookie',
  'apiKey',
  'privateKey',
  'privateKeyPass',
  'privateKeyPassphrase',
  'email',
  'phone',
  'identifiers',
  'key',
  'value',
  'before',
  'after',
  'row',
  'values',
  'binds',
  'detail',
] as const;

/** pino's redaction has no recursive wildcard, so each key is listed at depths 0..REDACT_DEPTH. */
const REDACT_DEPTH = 4;
const REDACT_PATHS = REDACTED_KEYS.flatMap((key) =>
  Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => [...Array<string>(depth).fill('*'), key].join('.')),
);

/**
 * The component is kept on the logger instance and written by a mixin rather than as a binding:
 * pino appends child bindings without replacing the parent's, which would emit `component` twice.
 */
const COMPONENT = Symbol('component');
type WithComponent = Logger & { [COMPONENT]?: string };

export interface LoggerOptions {
  level: Level | 'silent';
  component?: string;
  /** Where lines go; defaults to stderr. Tests pass a memory stream. */
  destination?: DestinationStream;
}

export function createLogger({ level, component, destination }: LoggerOptions): Logger {
  const logger: WithComponent = pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: (_object, _level, instance) => ({ component: (instance as WithComponent)[COMPONENT] }),
    },
    destination ?? pino.destination(2),
  );
  logger[COMPONENT] = component;
  return logger;
}

/** A logger for a sub-component; it keeps the parent's bindings and replaces its component. */
export function child(parent: Logger, component: string): Logger {
  const logger: WithComponent = parent.child({});
  logger[COMPONENT] = component;
  return logger;
}
