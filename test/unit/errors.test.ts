import { describe, expect, it } from 'vitest';
import { DsrCdcError, decide, type ErrorCode, isDsrCdcError } from '../../src/errors.js';

describe('DsrCdcError', () => {
  it('is not retryable unless said so, and carries field and cause', () => {
    const cause = new Error('socket closed');
    const error = new DsrCdcError('CONNECTION_FAILED', 'kafka unreachable', {
      field: 'kafka.brokers',
      cause,
    });
    expect(error.retryable).toBe(false);
    expect(error.field).toBe('kafka.brokers');
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(Error);
    expect(isDsrCdcError(error)).toBe(true);
    expect(isDsrCdcError(cause)).toBe(false);
  });
});

describe('decide', () => {
  it('retries a retryable error whatever its code', () => {
    expect(decide(new DsrCdcError('CONNECTION_FAILED', 'timeout', { retryable: true }))).toBe('retry');
    expect(decide(new DsrCdcError('EVENT_INVALID', 'registry busy', { retryable: true }))).toBe('retry');
  });

  it.each<[ErrorCode, string]>([
    ['CONFIG_INVALID', 'halt'],
    ['PREREQUISITE_MISSING', 'halt'],
    ['CONNECTION_FAILED', 'halt'],
    ['REQUEST_REJECTED', 'halt'],
    ['EVENT_INVALID', 'dlq'],
    ['CONTRACT_REJECTED', 'halt'],
    ['INTERNAL', 'halt'],
  ])('follows the policy of %s when not retryable: %s', (code, action) => {
    expect(decide(new DsrCdcError(code, 'x'))).toBe(action);
  });

  it('halts on anything that is not a DsrCdcError', () => {
    expect(decide(new Error('untranslated'))).toBe('halt');
    expect(
      decide(Object.assign(new Error('looks retryable'), { retryable: true, code: 'EVENT_INVALID' })),
    ).toBe('halt');
    expect(decide('a string')).toBe('halt');
    expect(decide(undefined)).toBe('halt');
  });
});
