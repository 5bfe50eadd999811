/** Test access to the stack's Postgres: as the superuser (to set up) or as the pipeline role. */
import pg from 'pg';
import { loadConnections } from '../../src/config/connections.js';

const STACK_HINT = 'is the stack up? run `npm run stack -- up`, or point DSR_CDC_PG_* at a server';

export type Role = 'admin' | 'pipeline';

export function clientConfig(role: Role, extra: pg.ClientConfig = {}): pg.ClientConfig {
  const c = loadConnections().postgres;
  return {
    host: c.host,
    port: c.port,
    database: c.database,
    user: role === 'admin' ? c.adminUser : c.user,
    password: role === 'admin' ? c.adminPassword : c.password,
    connectionTimeoutMillis: 5_000,
    ...extra,
  };
}

/** A connected client; a connection failure names the stack instead of a bare ECONNREFUSED. */
export async function connect(role: Role): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(role));
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot reach Postgres as ${role} (${(error as Error).message}): ${STACK_HINT}`);
  }
  return client;
}
