import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runCli } from '../../support/cli.js';

const EXAMPLE = 'dsr-cdc.example.yaml';
const PG_PASSWORD = 'pg-secret-value';
const STACK_LINE = /\n\s+at /;

const cli = (argv: string[], env: Record<string, string> = {}) => runCli(argv, env);

function badConfig(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'dsr-cdc-cli-')), 'bad.yaml');
  const text = readFileSync(EXAMPLE, 'utf8').replace('port: 55432', 'port: not-a-port');
  writeFileSync(path, text);
  return path;
}

describe('dsr-cdc config check', () => {
  it('prints the resolved config as YAML with secrets masked and exits 0', async () => {
    const result = await cli(['config', 'check', '--config', EXAMPLE], { DSR_CDC_PG_PASSWORD: PG_PASSWORD });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).not.toContain(PG_PASSWORD);
    const printed = parse(result.stdout);
    expect(printed.sources.app.connection.password).toBe('*** (${env:DSR_CDC_PG_PASSWORD})');
    expect(printed.sources.app.connection.port).toBe(55432);
  });

  it('prints the field-naming message without a stack trace and exits 2 on a bad file', async () => {
    const result = await cli(['config', 'check', '--config', badConfig()], {
      DSR_CDC_PG_PASSWORD: PG_PASSWORD,
    });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('sources.app.connection.port: expected a number, got a string');
    expect(result.stderr).not.toMatch(STACK_LINE);
  });

  it('exits 2 when a secret variable is missing, naming it', async () => {
    const result = await cli(['config', 'check', '--config', EXAMPLE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('environment variable DSR_CDC_PG_PASSWORD is not set');
  });

  it('exits 2 when --config is missing', async () => {
    const result = await cli(['config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("required option '-c, --config <file>' not specified");
  });
});

describe('dsr-cdc', () => {
  it('lists its commands with --help', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Usage: dsr-cdc/);
    expect(top.stdout).toMatch(/\n\s+config\s/);
    const group = await cli(['config', '--help']);
    expect(group.stdout).toMatch(/\n\s+check \[options\]/);
  });

  it('prints the package version with --version', async () => {
    const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const result = await cli(['--version']);
    expect(result).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('exits 2 on an unknown command', async () => {
    const result = await cli(['nonsense']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'nonsense'");
  });
});

describe('bin/dsr-cdc.js', () => {
  it('runs the CLI as a process with the same output and exit codes', () => {
    const env = { ...process.env, DSR_CDC_PG_PASSWORD: PG_PASSWORD };
    const good = spawnSync(process.execPath, ['bin/dsr-cdc.js', 'config', 'check', '--config', EXAMPLE], {
      env,
      encoding: 'utf8',
    });
    expect(good.status).toBe(0);
    expect(good.stdout).toContain('*** (${env:DSR_CDC_PG_PASSWORD})');
    const bad = spawnSync(process.execPath, ['bin/dsr-cdc.js', 'config', 'check', '--config', badConfig()], {
      env,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: invalid config .*\n {2}sources\.app\.connection\.port: /);
    expect(bad.stderr).not.toMatch(STACK_LINE);
  }, 30_000);
});
