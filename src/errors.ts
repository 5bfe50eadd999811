/**
 * The one error type of dsr-cdc.
 *
 * Every failure that crosses a module boundary is a DsrCdcError with a code from a closed set.
 * Foreign errors (pg, kafkajs, snowflake-sdk, fetch) are translated where they are caught, and
 * whether an error is worth retrying is an explicit decision made there; the default is false.
 * Messages name the field or resource and the fix, and never carry row values or secrets.
 */
export const ERROR_CODES = {
  /** A configuration value, CLI argument or environment variable is malformed. */
  CONFIG_INVALID: 'halt',
  /** A prerequisite (a binary, a privilege, a server setting) is missing. */
  PREREQUISITE_MISSING: 'halt',
  /** An external system could not be reached or timed out (usually raised with retryable: true). */
  CONNECTION_FAILED: 'halt',
  /** An external system refused a request (permission, unknown object, bad SQL). */
  REQUEST_REJECTED: 'halt',
  /** A message could not be decoded or does not fit its contract. */
  EVENT_INVALID: 'dlq',
  /** A contract change was rejected by the schema registry. */
  CONTRACT_REJECTED: 'halt',
  /** A bug: an invariant of our own code did not hold. */
  INTERNAL: 'halt',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** What the one policy does with a failure: retry it, park the event in a DLQ, or stop. */
export type ErrorAction = 'retry' | (typeof ERROR_CODES)[ErrorCode];

export interface ErrorDetails {
  /** Whether the same operation may succeed if tried again. Defaults to false. */
  retryable?: boolean;
  /** The config field, variable or argument at fault, when there is one. */
  field?: string;
  cause?: unknown;
}

export class DsrCdcError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DsrCdcError';
    this.code = code;
    this.retryable = details.retryable ?? false;
    this.field = details.field;
  }
}

/**
 * The one place that decides what happens to a failure. A retryable error is retried (callers
 * bound the attempts); other errors follow their code's policy; anything that is not a
 * DsrCdcError was not translated where it was caught, so it is treated as a bug and halts.
 */
export function decide(error: unknown): ErrorAction {
  if (!(error instanceof DsrCdcError)) return 'halt';
  return error.retryable ? 'retry' : ERROR_CODES[error.code];
}

export function isDsrCdcError(error: unknown): error is DsrCdcError {
  return error instanceof DsrCdcError;
}
