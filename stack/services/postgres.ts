/**
 * PostgreSQL 15: a private cluster in .stack/postgres, wal_level=logical, TCP on 127.0.0.1 only,
 * scram-sha-256 everywhere, and a least-privilege pipeline role (LOGIN REPLICATION + SELECT).
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { type Connections, loadConnections } from '../../src/config/connections.js';
import { hasCommand, run, StackError } from '../process.js';
import { type Health, type Service, stateDir } from '../service.js';

const BIN_DIRS = ['/usr/lib/postgresql/15/bin'];
const INSTALL_HINT = 'install the PostgreSQL 15 server, e.g. `apt-get install postgresql-15`';

/** The server binary: from the PostgreSQL 15 package's directory, else from PATH. */
function findBinary(name: string): string | undefined {
  const packaged = BIN_DIRS.map((dir) => join(dir, name)).find((path) => existsSync(path));
  return packaged ?? (hasCommand(name) ? name : undefined);
}

function binary(name: string): string {
  const found = findBinary(name);
  if (!found) throw new StackError(`${name} not found: ${INSTALL_HINT}`);
  return found;
}

/** Postgres refuses to run as root; when we are root, its processes run as the `postgres` user. */
function systemUser(): string | undefined {
  return process.getuid?.() === 0 ? 'postgres' : undefined;
}

export function postgresService(connections: Connections['postgres'] = loadConnections().postgres): Service {
  const dataDir = stateDir('postgres', 'data');
  const logFile = stateDir('postgres', 'postgres.log');
  const asUser = systemUser();

  const pgCtl = (...args: string[]) => run(binary('pg_ctl'), ['-D', dataDir, ...args], { asUser });

  const adminClient = (database = 'postgres') =>
    new pg.Client({
      host: connections.host,
      port: connections.port,
      user: connections.adminUser,
      password: connections.adminPassword,
      database,
      connectionTimeoutMillis: 2_000,
    });

  /** Whether the cluster in our data directory is running (pg_ctl status reads postmaster.pid). */
  async function running(): Promise<boolean> {
    if (!existsSync(join(dataDir, 'postmaster.pid'))) return false;
    return pgCtl('status').then(
      () => true,
      () => false,
    );
  }

  async function withAdmin<T>(database: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = adminClient(database);
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }

  async function initCluster(): Promise<void> {
    const root = stateDir('postgres');
    mkdirSync(root, { recursive: true });
    mkdirSync(dataDir, { mode: 0o700 });
    const pwFile = join(root, 'admin-password');
    writeFileSync(pwFile, `${connections.adminPassword}\n`, { mode: 0o600 });
    if (asUser) {
      const { uid, gid } = userIds(asUser);
      for (const path of [root, dataDir, pwFile]) chownSync(path, uid, gid);
      await run('test', ['-w', dataDir], { asUser }).catch(() => {
        throw new StackError(
          `the ${asUser} system user cannot reach ${dataDir} (a parent directory is not traversable); ` +
            'set DSR_CDC_STACK_DIR to a directory it can reach, e.g. /var/tmp/dsr-cdc-stack',
        );
      });
    }
    await run(
      binary('initdb'),
      [
        '-D',
        dataDir,
        '-U',
        connections.adminUser,
        '--pwfile',
        pwFile,
        '--auth',
        'scram-sha-256',
        '--encoding',
        'UTF8',
        '--locale',
        'C.UTF-8',
      ],
      { asUser },
    );
    writeFileSync(
      join(dataDir, 'postgresql.auto.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${connections.port}`,
        `unix_socket_directories = ''`,
        'wal_level = logical',
        'max_replication_slots = 64',
        'max_wal_senders = 64',
        'max_connections = 200',
        'wal_sender_timeout = 60s',
        // keep WAL bounded in a dev cluster whose slots tests may abandon
        'max_slot_wal_keep_size = 2GB',
        'shared_buffers = 256MB',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dataDir, 'pg_hba.conf'),
      [
        '# TYPE  DATABASE     USER  ADDRESS       METHOD',
        'host    all          all   127.0.0.1/32  scram-sha-256',
        'host    replication  all   127.0.0.1/32  scram-sha-256',
        '',
      ].join('\n'),
    );
    if (asUser) {
      const { uid, gid } = userIds(asUser);
      for (const file of ['postgresql.auto.conf', 'pg_hba.conf']) chownSync(join(dataDir, file), uid, gid);
    }
  }

  /** The pipeline's role: it may log in, replicate and read, and nothing else. Idempotent. */
  async function bootstrap(): Promise<void> {
    const db = connections.database;
    await withAdmin('postgres', async (client) => {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);
      const role = pg.escapeIdentifier(connections.user);
      const password = pg.escapeLiteral(connections.password);
      const roleExists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [connections.user]);
      await client.query(
        roleExists.rowCount === 0
          ? `CREATE ROLE ${role} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${password}`
          : `ALTER ROLE ${role} LOGIN REPLICATION NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${password}`,
      );
    });
    await withAdmin(db, async (client) => {
      const role = pg.escapeIdentifier(connections.user);
      await client.query(`GRANT CONNECT ON DATABASE ${pg.escapeIdentifier(db)} TO ${role}`);
      await client.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`);
      await client.query(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ${role}`);
    });
  }

  return {
    name: 'postgres',
    port: connections.port,
    address: `${connections.host}:${connections.port}`,
    logFile,
    prerequisites: () => [
      ...['initdb', 'pg_ctl', 'postgres'].map((command) => ({
        command,
        install: INSTALL_HINT,
        present: () => findBinary(command) !== undefined,
      })),
      ...(asUser ? [{ command: 'runuser', install: 'apt-get install util-linux' }] : []),
    ],
    async prepare() {
      for (const name of ['initdb', 'pg_ctl', 'postgres']) binary(name);
      if (!existsSync(join(dataDir, 'PG_VERSION'))) await initCluster();
    },
    running,
    async start() {
      if (asUser) {
        const { uid, gid } = userIds(asUser);
        writeFileSync(logFile, '', { flag: 'a' });
        chownSync(logFile, uid, gid);
      }
      await pgCtl('-l', logFile, '-w', '-t', '60', 'start');
      await bootstrap();
    },
    async health(): Promise<Health> {
      const client = new pg.Client({
        host: connections.host,
        port: connections.port,
        user: connections.user,
        password: connections.password,
        database: connections.database,
        connectionTimeoutMillis: 2_000,
      });
      try {
        await client.connect();
        const { rows } = await client.query<{ wal_level: string }>('SHOW wal_level');
        const walLevel = rows[0]?.wal_level;
        return walLevel === 'logical'
          ? { healthy: true, detail: `accepting connections as ${connections.user}, wal_level=logical` }
          : { healthy: false, detail: `wal_level is ${walLevel}, expected logical` };
      } catch (error) {
        return { healthy: false, detail: (error as Error).message };
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async stop() {
      if (!(await running())) return false;
      await pgCtl('-m', 'fast', '-w', 'stop');
      return true;
    },
  };
}

function userIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  return { uid: id('-u'), gid: id('-g') };
}
