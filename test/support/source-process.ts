/**
 * The source as a real process (`dsr-cdc source run`), for tests that kill it or take
 * services away under it. The config is written like a user would write it, the password as an
 * `${env:...}` reference.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import { CdcFixture } from './cdc.js';

/**
 * For tests that start dsr-cdc as real processes: before each test a CdcFixture and a scratch
 * directory; after it every tracked process is SIGKILLed (a test that fails midway leaves none
 * running) and both are removed. Call in a describe block.
 */
export function useProcessFixture(prefix: string): {
  readonly fx: CdcFixture;
  readonly dir: string;
  track<T extends ChildProcess>(child: T): T;
} {
  let fx: CdcFixture | undefined;
  let dir = '';
  const children: ChildProcess[] = [];
  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    dir = mkdtempSync(join(tmpdir(), `dsr-cdc-${prefix}-`));
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await fx?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get fx() {
      if (!fx) throw new Error('useProcessFixture: the fixture exists only inside a test');
      return fx;
    },
    get dir() {
      return dir;
    },
    track(child) {
      children.push(child);
      return child;
    },
  };
}

/** Resolves with the process's exit code once it has exited. */
export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

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
 * The dsr-cdc CLI as a real process, run from the TypeScript source through tsx (not through
 * bin/dsr-cdc.js, which would prefer a possibly stale dist/; the launcher has its own test). Its
 * stderr tail is printed if it exits with an error, and kept for a test that wants to show it.
 */
export function spawnCli(argv: string[], env: NodeJS.ProcessEnv): ChildProcess & { stderrTail(): string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...argv], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  child.once('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGKILL')
      process.stderr.write(`${argv.join(' ')} exited ${code}: ${stderr}\n`);
  });
  return Object.assign(child, { stderrTail: () => stderr });
}

/** `dsr-cdc source run` (or the command `argv` names, e.g. `run --only source:<name>`) on a config. */
export function spawnSource(
  fx: CdcFixture,
  configPath: string,
  argv: string[] = ['source', 'run', fx.source],
): ChildProcess & { stderrTail(): string } {
  const connections = loadConnections();
  return spawnCli([...argv, '--config', configPath], {
    DSR_CDC_TEST_PG_PASSWORD: connections.postgres.password,
    DSR_CDC_TEST_SF_PASSWORD: connections.snowflake.password,
  });
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
