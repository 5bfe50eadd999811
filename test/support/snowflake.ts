/**
 * A small promise-based client over snowflake-sdk for tests: connects with the settings of
 * loadConnections().snowflake (by default the local emulator that `npm run stack -- up` starts)
 * and fails fast, with a message saying what to do, when nothing answers there.
 */
import snowflake from 'snowflake-sdk';
import { loadConnections } from '../../src/config/connections.js';

export type Binds = snowflake.Binds;
export type Row = Record<string, unknown>;

export interface ExecuteOptions {
  /** Types returned as strings, e.g. `['Number']` to keep NUMBER(38,x) values exact. */
  fetchAsString?: snowflake.DataType[];
}

export interface SnowflakeTestClient {
  readonly connection: snowflake.Connection;
  /** Runs one statement and resolves with its rows (objects keyed by upper-case column name). */
  execute<T = Row>(sql: string, binds?: Binds, options?: ExecuteOptions): Promise<T[]>;
  destroy(): Promise<void>;
}

/**
 * Per-request timeout, so that a login to an endpoint that does not answer fails fast. Longer
 * statements are fine: the emulator, like Snowflake, answers "in progress" after 10 s and the
 * driver polls.
 */
const REQUEST_TIMEOUT_MS = 20_000;

snowflake.configure({ logLevel: 'ERROR' });

export async function connectSnowflake(): Promise<SnowflakeTestClient> {
  const settings = loadConnections().snowflake;
  const connection = snowflake.createConnection({
    accessUrl: settings.accessUrl,
    account: settings.account,
    username: settings.username,
    password: settings.password,
    database: settings.database,
    schema: settings.schema,
    warehouse: settings.warehouse,
    clientSessionKeepAlive: false,
    // with fetchAsString, NULL stays null rather than the string 'NULL' (the driver's default)
    representNullAsStringNull: false,
    timeout: REQUEST_TIMEOUT_MS,
    // one login attempt: an emulator that is down should fail the test now, not after retries
    sfRetryMaxLoginRetries: 0,
  });
  try {
    // connectAsync resolves even when the login fails (the error only reaches its callback)
    await new Promise<void>((resolve, reject) => {
      connection.connect((error) => (error ? reject(error) : resolve()));
    });
  } catch (error) {
    throw new Error(
      `Cannot connect to Snowflake at ${settings.accessUrl} (DSR_CDC_SNOWFLAKE_URL): ` +
        `${(error as Error).message}. For the local emulator, start the stack with ` +
        '`npm run stack -- up`; otherwise point DSR_CDC_SNOWFLAKE_URL at a reachable Snowflake.',
      { cause: error },
    );
  }

  return {
    connection,
    execute: <T = Row>(sql: string, binds?: Binds, options: ExecuteOptions = {}) =>
      new Promise<T[]>((resolve, reject) => {
        connection.execute({
          sqlText: sql,
          ...(binds === undefined ? {} : { binds }),
          ...(options.fetchAsString === undefined ? {} : { fetchAsString: options.fetchAsString }),
          complete: (error, _statement, rows) => {
            if (error) reject(error);
            else resolve((rows ?? []) as T[]);
          },
        });
      }),
    destroy: () =>
      new Promise<void>((resolve, reject) => {
        if (!connection.isUp()) {
          resolve();
          return;
        }
        connection.destroy((error) => (error ? reject(error) : resolve()));
      }),
  };
}
