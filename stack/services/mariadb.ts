/**
 * MariaDB 10.11 from Debian's packages, for the MySQL/MariaDB poller: a private server in
 * .stack/mariadb (its own datadir, socket and port, TCP on 127.0.0.1 only), an admin account for
 * tests and a least-privilege pipeline account (SELECT on the database).
 *
 * `prepare` installs the `mariadb-server` package with apt-get when the server is missing and we
 * run as root (CI, containers); otherwise it names the package to install. The package's own
 * system service is never used or started: policy-rc.d or not, we start only our `mariadbd`.
 * Accounts are (re)applied by an init file on every start, so `up` is idempotent.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { type Connections, loadConnections } from '../../src/config/connections.js';
import { hasCommand, run, runningPid, StackError, startDaemon, stopDaemon } from '../process.js';
import { type Health, type Service, stateDir } from '../service.js';

const PACKAGE = 'mariadb-server';
const INSTALL_HINT = `install MariaDB 10.11, e.g. \`apt-get install ${PACKAGE}\` (as root, \`npm run stack -- up\` does it)`;

function findBinary(name: string): string | undefined {
  const packaged = ['/usr/sbin', '/usr/bin'].map((dir) => join(dir, name)).find((path) => existsSync(path));
  return packaged ?? (hasCommand(name) ? name : undefined);
}

function binary(name: string): string {
  const found = findBinary(name);
  if (!found) throw new StackError(`${name} not found: ${INSTALL_HINT}`);
  return found;
}

const isRoot = () => process.getuid?.() === 0;
const canInstall = () => isRoot() && hasCommand('apt-get');

/** A MariaDB string literal (the init file is SQL; the fixture passwords are plain ASCII). */
const literal = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function mariadbService(connections: Connections['mariadb'] = loadConnections().mariadb): Service {
  const root = stateDir('mariadb');
  const dataDir = stateDir('mariadb', 'data');
  const logFile = stateDir('mariadb', 'mariadb.log');
  const pidFile = stateDir('mariadb', 'mariadb.pid');
  const initFile = stateDir('mariadb', 'init.sql');
  const socket = stateDir('mariadb', 'mariadb.sock');

  async function install(): Promise<void> {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const args = ['install', '-y', '--no-install-recommends', PACKAGE];
    // a fresh machine may have no package lists yet
    await run('apt-get', args, { env }).catch(async () => {
      await run('apt-get', ['update'], { env });
      await run('apt-get', args, { env });
    });
  }

  function writeInitFile(): void {
    const db = `\`${connections.database}\``;
    const account = (user: string) => `${literal(user)}@'127.0.0.1'`;
    const admin = account(connections.adminUser);
    const pipeline = account(connections.user);
    writeFileSync(
      initFile,
      [
        `CREATE DATABASE IF NOT EXISTS ${db};`,
        `CREATE USER IF NOT EXISTS ${admin} IDENTIFIED BY ${literal(connections.adminPassword)};`,
        `ALTER USER ${admin} IDENTIFIED BY ${literal(connections.adminPassword)};`,
        `GRANT ALL PRIVILEGES ON *.* TO ${admin} WITH GRANT OPTION;`,
        `CREATE USER IF NOT EXISTS ${pipeline} IDENTIFIED BY ${literal(connections.password)};`,
        `ALTER USER ${pipeline} IDENTIFIED BY ${literal(connections.password)};`,
        `GRANT SELECT ON ${db}.* TO ${pipeline};`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }

  return {
    name: 'mariadb',
    port: connections.port,
    address: `${connections.host}:${connections.port}`,
    logFile,
    prerequisites: () =>
      findBinary('mariadbd') || canInstall() ? [] : [{ command: 'mariadbd', install: INSTALL_HINT }],
    async prepare() {
      if (!findBinary('mariadbd') || !findBinary('mariadb-install-db')) {
        if (!canInstall()) throw new StackError(`mariadbd not found: ${INSTALL_HINT}`);
        await install();
      }
      if (!existsSync(join(dataDir, 'mysql'))) {
        mkdirSync(dataDir, { recursive: true });
        await run(binary('mariadb-install-db'), [
          '--no-defaults',
          `--datadir=${dataDir}`,
          '--auth-root-authentication-method=socket',
          '--skip-test-db',
          ...(isRoot() ? ['--user=root'] : []),
        ]);
      }
    },
    running: async () => runningPid(pidFile) !== undefined,
    async start() {
      mkdirSync(root, { recursive: true });
      writeInitFile();
      startDaemon(
        binary('mariadbd'),
        [
          '--no-defaults',
          `--datadir=${dataDir}`,
          '--bind-address=127.0.0.1',
          `--port=${connections.port}`,
          `--socket=${socket}`,
          `--pid-file=${stateDir('mariadb', 'mariadbd.pid')}`,
          `--init-file=${initFile}`,
          '--skip-name-resolve',
          '--character-set-server=utf8mb4',
          '--innodb-buffer-pool-size=128M',
          // a private server: root runs it (no system user has to reach .stack), never system-wide
          ...(isRoot() ? ['--user=root'] : []),
        ],
        { logFile, pidFile },
      );
    },
    async health(): Promise<Health> {
      let connection: mysql.Connection | undefined;
      try {
        connection = await mysql.createConnection({
          host: connections.host,
          port: connections.port,
          user: connections.user,
          password: connections.password,
          database: connections.database,
          connectTimeout: 2_000,
        });
        const [rows] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS version');
        return { healthy: true, detail: `accepting connections as ${connections.user}, ${rows[0]?.version}` };
      } catch (error) {
        return { healthy: false, detail: (error as Error).message };
      } finally {
        await connection?.end().catch(() => undefined);
      }
    },
    stop: () => stopDaemon(pidFile, 30_000),
  };
}
