/**
 * Test harness of the pollers: a config file written as a user would write it (passwords as
 * `${env:...}` references), the component built from it exactly as the CLI builds it, and the
 * environment those references resolve from.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConnections } from '../../src/config/connections.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/observability/logger.js';
import { createPollerComponent } from '../../src/sources/poller/index.js';
import { spawnCli } from './source-process.js';

/** What the `${env:...}` references of the written configs resolve from. */
export function pollerEnv(extra: Record<string, string> = {}): Record<string, string> {
  const c = loadConnections();
  return {
    DSR_CDC_TEST_PG_PASSWORD: c.postgres.password,
    DSR_CDC_TEST_MARIADB_PASSWORD: c.mariadb.password,
    ...extra,
  };
}

/** Writes a config with one source `name` (its YAML lines, indented under it); returns the path. */
export function writePollerConfig(dir: string, name: string, sourceLines: string[]): string {
  const c = loadConnections();
  const path = join(dir, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'pipeline: { name: poller-test }',
      `kafka: { brokers: [${c.kafka.brokers.join(', ')}], clientId: poller-test }`,
      `registry: { url: ${c.registry.url} }`,
      'sources:',
      `  ${name}:`,
      ...sourceLines.map((line) => `    ${line}`),
      `log: { level: ${process.env.DSR_CDC_TEST_LOG === 'debug' ? 'debug' : 'warn'} }`,
      '',
    ].join('\n'),
  );
  return path;
}

/** The source lines of a Postgres poller as the pipeline role. */
export function postgresPollerLines(tables: string[], extra: string[] = []): string[] {
  const c = loadConnections().postgres;
  return [
    'kind: postgres-poller',
    `connection: { host: ${c.host}, port: ${c.port}, database: ${c.database}, user: ${c.user}, password: "\${env:DSR_CDC_TEST_PG_PASSWORD}" }`,
    'tables:',
    ...tables.map((t) => `  - ${t}`),
    ...extra,
  ];
}

/** The source lines of a MySQL/MariaDB poller as the pipeline account. */
export function mariadbPollerLines(tables: string[], extra: string[] = []): string[] {
  const c = loadConnections().mariadb;
  return [
    'kind: mysql-poller',
    `connection: { host: ${c.host}, port: ${c.port}, database: ${c.database}, user: ${c.user}, password: "\${env:DSR_CDC_TEST_MARIADB_PASSWORD}" }`,
    'tables:',
    ...tables.map((t) => `  - ${t}`),
    ...extra,
  ];
}

/** The component the CLI would build for `name` from the config at `path`. */
export function pollerComponent(path: string, name: string, env = pollerEnv()) {
  const config = loadConfig({ path, env });
  return createPollerComponent(
    config,
    name,
    createLogger({ level: config.log.level, component: 'test-poller' }),
  );
}

/** Starts `dsr-cdc poller run` as a real process (see spawnCli). */
export function spawnPoller(name: string, configPath: string): ChildProcess {
  return spawnCli(['poller', 'run', name, '--config', configPath], pollerEnv());
}
