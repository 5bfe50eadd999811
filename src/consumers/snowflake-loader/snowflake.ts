/**
 * The only file that talks to snowflake-sdk: a connection from the config (password or key-pair
 * JWT, OCSP fail-closed, login and statement timeouts) and one `execute`. Errors are translated
 * here: network failures are retryable CONNECTION_FAILED (and count for the 'snowflake' circuit
 * breaker); anything Snowflake answered (SQL, auth, permissions) is not, and never carries bind values.
 */
import snowflake from 'snowflake-sdk';
import type { Config } from '../../config/schema.js';
import { DsrCdcError } from '../../errors.js';
import { breakers } from '../../resilience.js';
import { MAX_INLINE_BINDS } from './sql.js';

export type SnowflakeSettings = NonNullable<NonNullable<Config['warehouse']>['snowflake']>;
export type Row = Record<string, unknown>;

export interface Warehouse {
  execute<T = Row>(sql: string, binds?: snowflake.Binds): Promise<T[]>;
  destroy(): Promise<void>;
}

// fail closed: a certificate whose revocation status cannot be checked is refused
snowflake.configure({ logLevel: 'ERROR', ocspFailOpen: false });

export async function connectWarehouse(
  settings: SnowflakeSettings,
  onWarning: (message: string) => void = () => undefined,
): Promise<Warehouse> {
  const auth = settings.privateKey
    ? {
        authenticator: 'SNOWFLAKE_JWT',
        privateKey: settings.privateKey.reveal(),
        ...(settings.privateKeyPassphrase ? { privateKeyPass: settings.privateKeyPassphrase.reveal() } : {}),
      }
    : { password: settings.password?.reveal() ?? '' };
  const connection = snowflake.createConnection({
    account: settings.account,
    ...(settings.accessUrl ? { accessUrl: settings.accessUrl } : {}),
    username: settings.username,
    ...auth,
    ...(settings.role ? { role: settings.role } : {}),
    warehouse: settings.warehouse,
    database: settings.database,
    schema: settings.schema,
    // fixed here rather than taken from the server's CLIENT_STAGE_ARRAY_BINDING_THRESHOLD: the
    // loader chunks its binds below it, so the driver never stages binds in a transaction (sql.ts)
    arrayBindingThreshold: MAX_INLINE_BINDS,
    clientSessionKeepAlive: true,
    representNullAsStringNull: false,
  });
  await login(connection, settings.loginTimeoutMs);
  const warehouse: Warehouse = {
    // every statement goes through the process's 'snowflake' circuit breaker (outages only count)
    execute: <T = Row>(sql: string, binds?: snowflake.Binds) =>
      breakers.call(
        'snowflake',
        () =>
          new Promise<T[]>((resolve, reject) => {
            connection.execute({
              sqlText: sql,
              ...(binds === undefined ? {} : { binds }),
              fetchAsString: ['Number'],
              complete: (error, _statement, rows) =>
                error ? reject(translate(error, 'statement')) : resolve((rows ?? []) as T[]),
            });
          }),
      ),
    destroy: () =>
      new Promise<void>((resolve) => {
        if (!connection.isUp()) resolve();
        else connection.destroy(() => resolve());
      }),
  };
  await warehouse
    .execute(`ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = ${settings.statementTimeoutSeconds}`)
    .catch((error: DsrCdcError) => {
      // Snowflake has the parameter; the local emulator (fakesnow) answers "not implemented"
      if (!/not implemented/i.test(error.message)) throw error;
      onWarning(
        'the endpoint does not support STATEMENT_TIMEOUT_IN_SECONDS; statements run without a server-side timeout',
      );
    });
  return warehouse;
}

/**
 * connect() bounded by `timeoutMs` as a whole (the driver's own `timeout` is per HTTP request, of
 * every request, and its login retries can outlast it): a login that has not finished by then
 * fails with a retryable CONNECTION_FAILED, and a session it opens later is closed at once.
 */
export function login(connection: snowflake.Connection, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(
        new DsrCdcError(
          'CONNECTION_FAILED',
          `Snowflake login did not finish within ${timeoutMs} ms; check warehouse.snowflake.account/accessUrl ` +
            'and the network, or raise warehouse.snowflake.loginTimeoutMs',
          { retryable: true, field: 'warehouse.snowflake.loginTimeoutMs' },
        ),
      );
    }, timeoutMs);
    connection.connect((error) => {
      clearTimeout(timer);
      if (late) {
        if (!error) connection.destroy(() => undefined);
      } else if (error) reject(translate(error, 'login'));
      else resolve();
    });
  });
}

/**
 * A Snowflake error message without the values it may quote: single- or double-quoted text (an
 * offending value such as 'abc' is not recognized, or "abc"; identifiers go too) and a
 * "Row Values: [...]" list (to the end of the message: the values may hold brackets).
 */
export function scrub(message: string): string {
  return message
    .replace(/Row Values: \[[\s\S]*$/, 'Row Values: […]')
    .replace(/'[^']*'/g, "'…'")
    .replace(/"[^"]*"/g, '"…"');
}

/**
 * snowflake-sdk's network error codes (401xxx) and HTTP 5xx / 429 are worth a retry, and so is a
 * conflict with another transaction: Snowflake's 000625 (a lock not granted in time, or too many
 * waiters), a deadlock victim, or the emulator's write conflict (duckdb "Conflict on update", seen
 * when a killed loader's session still holds its open transaction). Anything else Snowflake
 * answered (SQL, permissions, a rejected cast) is permanent.
 */
export function translate(error: snowflake.SnowflakeError, what: 'login' | 'statement'): DsrCdcError {
  const code = String(error.code ?? '');
  const status = (error as { response?: { status?: number } }).response?.status;
  const network =
    code.startsWith('401') ||
    /ECONN|ETIMEDOUT|EAI_AGAIN|socket hang up|timeout|Network error/i.test(error.message) ||
    (status !== undefined && (status >= 500 || status === 429));
  const conflict = code === '000625' || /deadlock|Conflict on update/i.test(error.message);
  return new DsrCdcError(
    network || conflict || what === 'login' ? 'CONNECTION_FAILED' : 'REQUEST_REJECTED',
    // Snowflake quotes an offending value in its message ('abc' is not recognized): never log it
    `Snowflake ${what} failed${code ? ` (${code})` : ''}: ${scrub(error.message)}`,
    { retryable: network || conflict, cause: error },
  );
}
