/** The connection helpers of snowflake.ts that need no Snowflake: error scrubbing and the login bound. */
import type snowflake from 'snowflake-sdk';
import { describe, expect, it } from 'vitest';
import { login, scrub, translate } from '../../../../src/consumers/snowflake-loader/snowflake.js';
import { DsrCdcError } from '../../../../src/errors.js';

describe('scrub', () => {
  it.each([
    ["Numeric value 'abc@example.test' is not recognized", "Numeric value '…' is not recognized"],
    ['Numeric value "abc@example.test" is not recognized', 'Numeric value "…" is not recognized'],
    [
      'NULL result in a non-nullable column File: x, Row Values: ["jane", 42, "x]y"]',
      'NULL result in a non-nullable column File: x, Row Values: […]',
    ],
    ['SQL compilation error: syntax error line 1', 'SQL compilation error: syntax error line 1'],
  ])('%s', (message, scrubbed) => {
    expect(scrub(message)).toBe(scrubbed);
  });
});

describe('login', () => {
  /** A connection whose connect() answers after `ms` (never when undefined). */
  const connection = (ms?: number) => {
    const destroyed: boolean[] = [];
    const fake = {
      connect: (done: (error: snowflake.SnowflakeError | undefined) => void) => {
        if (ms !== undefined) setTimeout(() => done(undefined), ms);
      },
      destroy: () => destroyed.push(true),
    };
    return { fake: fake as unknown as snowflake.Connection, destroyed };
  };

  it('fails a login that does not finish in time, retryable and naming the setting', async () => {
    const error = await login(connection().fake, 50).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DsrCdcError);
    expect(error).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect((error as Error).message).toMatch(/within 50 ms.*warehouse\.snowflake\.loginTimeoutMs/);
  });

  it('closes the session of a login that succeeds after its timeout', async () => {
    const { fake, destroyed } = connection(80);
    await expect(login(fake, 20)).rejects.toThrow(/did not finish/);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(destroyed).toEqual([true]);
  });

  it('resolves a login that finishes in time', async () => {
    await expect(login(connection(5).fake, 1_000)).resolves.toBeUndefined();
  });
});

describe('translate', () => {
  const sfError = (code: string, message: string) =>
    Object.assign(new Error(message), { code }) as unknown as snowflake.SnowflakeError;

  it.each([
    ['000625', "Statement 'x' has locked table 'T' in transaction 1 and this lock has not yet been released"],
    [
      '000603',
      'SQL execution internal error: TransactionException: TransactionContext Error: Conflict on update!',
    ],
    ['', 'Transaction 42 was aborted because of a deadlock'],
    ['401001', 'Network error. Could not reach Snowflake.'],
  ])('retries %s: %s', (code, message) => {
    expect(translate(sfError(code, message), 'statement')).toMatchObject({
      code: 'CONNECTION_FAILED',
      retryable: true,
    });
  });

  it.each([
    ['003001', 'SQL access control error: Insufficient privileges to operate on table "T"'],
    ['100038', "Numeric value 'jane@example.test' is not recognized"],
  ])('does not retry %s, and scrubs its values', (code, message) => {
    const error = translate(sfError(code, message), 'statement');
    expect(error).toMatchObject({ code: 'REQUEST_REJECTED', retryable: false });
    expect(error.message).not.toMatch(/jane|"T"/);
  });
});
