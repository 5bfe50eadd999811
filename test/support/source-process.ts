/**
 * The source as a real process (`bin/dsr-cdc.js source run`), for tests that kill it or take
 * services away under it. The config is written like a user would write it, the password as an
 * `${env:...}` reference.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import type { CdcFixture } from './cdc.js';

/**
 * Writes a config capturing `tables` of the fixture (none: no source) into `dir`; returns its
 * path. `sections` replace or add top-level sections (pipeline, dsr, admin, warehouse, log …);
 * `pgPassword` is the reference the source's password is written as.
 */
export function writeSourceConfig(
  fx: CdcFixture,
  dir: string,
  tables: string[],
  sections: Record<string, unknown> = {},
  pgPassword = '${env:DSR_CDC_TEST_PG_PASSWORD}',
): string {
  const c = loadConnections();
  const source = {
    kind: 'postgres',
    connection: {
      host: c.postgres.host,
      port: c.postgres.port,
      database: c.postgres.database,
      user: c.postgres.user,
      password: pgPassword,
    },
    publication: fx.publication,
    slot: fx.slot,
    tables: { include: tables.map((t) => `public.${t}`) },
    snapshot: { mode: 'initial', chunkRows: 1000 },
    heartbeatIntervalMs: 500,
  };
  const path = join(dir, 'dsr-cdc.yaml');
  const config = {
    pipeline: { name: 'process-test' },
    kafka: { brokers: c.kafka.brokers, clientId: 'process-test' },
    registry: { url: c.registry.url },
    sources: tables.length > 0 ? { [fx.source]: source } : {},
    log: { level: 'warn' },
    ...sections,
  };
  writeFileSync(path, stringify(config));
  return path;
}

/**
 * Starts `dsr-cdc source run` (or the command `argv` names, e.g. `run --only source:<name>`, with
 * `--config` appended); its stderr tail is printed if it exits with an error.
 */
export function spawnSource(
  fx: CdcFixture,
  configPath: string,
  argv: string[] = ['source', 'run', fx.source],
): ChildProcess {
  const connections = loadConnections();
  const child = spawn(process.execPath, ['bin/dsr-cdc.js', ...argv, '--config', configPath], {
    env: {
      ...process.env,
      DSR_CDC_TEST_PG_PASSWORD: connections.postgres.password,
      DSR_CDC_TEST_SF_PASSWORD: connections.snowflake.password,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL') process.stderr.write(`source exited ${code}: ${stderr}\n`);
  });
  return child;
}

/** Polls `check` every 200 ms until it holds; throws `message` after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  message: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 200));
  }
}
