/**
 * Argument errors of the DSR and consumer commands: exit 2, a message naming the option, no stack
 * trace, and nothing produced. The config points Kafka at a closed port, so a command that got as
 * far as Kafka would fail with CONNECTION_FAILED (exit 1) instead.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';

const EXAMPLE = 'dsr-cdc.example.yaml';
const ENV = { DSR_CDC_PG_PASSWORD: 'pg-secret-value', DSR_CDC__KAFKA__BROKERS: '127.0.0.1:1' };
const STACK_LINE = /\n\s+at /;
const EMAIL = 'not-an-address';

/** Every argument mistake is reported without a stack trace. */
async function cli(argv: string[], env: Record<string, string> = ENV) {
  const result = await runCli(argv, env);
  expect(result.stderr).not.toMatch(STACK_LINE);
  expect(result.stderr).not.toContain('internal error');
  return result;
}

const submit = (...args: string[]) => cli(['dsr', 'submit', '--config', EXAMPLE, ...args]);

/** The example with its dsr section uncommented, plus `extra` lines in it. */
function configWithDsr(extra = ''): string {
  const example = readFileSync(EXAMPLE, 'utf8');
  const block = /^# dsr:\n(?:#.*\n)+/m.exec(example)?.[0] as string;
  const path = join(mkdtempSync(join(tmpdir(), 'dsr-cdc-cli-')), 'config.yaml');
  writeFileSync(path, example.replace(block, `${block.replace(/^# ?/gm, '')}${extra}`));
  return path;
}

describe('dsr submit', () => {
  it('exits 2 naming the identifier options when none is given', async () => {
    const result = await submit('--type', 'access');
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(
      'error: no identifier: give at least one of --email, --phone, --user-id, --payment-card, --iban, --us-ssn, --national-id\n',
    );
  });

  it('exits 2 on a missing or unknown --type', async () => {
    const missing = await submit('--email', 'a@example.test');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--type <type>' not specified");
    const unknown = await submit('--type', 'delete', '--email', 'a@example.test');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("option '--type <type>' argument 'delete' is invalid");
    expect(unknown.stderr).toContain('Allowed choices are access, erasure');
  });

  it('exits 2 naming each option whose value is malformed, without quoting identifiers', async () => {
    const result = await submit(
      '--type',
      'access',
      '--user-id',
      'u-1',
      '--email',
      EMAIL,
      '--phone',
      '020 7946 0101',
      '--id',
      'has spaces',
    );
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(
      'error: invalid arguments:\n' +
        '  --id: expected only letters, digits and . _ : -\n' +
        '  --email: expected an email address\n' +
        '  --phone: expected a phone number, international (+<country code> …) unless dsr.defaultRegion is set\n',
    );
    expect(result.stderr).not.toContain(EMAIL);
  });

  it('exits 2 on a malformed --wait', async () => {
    const result = await submit('--type', 'access', '--email', 'a@example.test', '--wait', 'soon');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("option '--wait [ms]' argument 'soon' is invalid");
  });

  it('exits 2 on a bad config before it reads any argument value into a request', async () => {
    const result = await cli(
      ['dsr', 'submit', '--config', EXAMPLE, '--type', 'access', '--email', 'a@b.test'],
      {
        DSR_CDC__KAFKA__BROKERS: '127.0.0.1:1',
      },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('environment variable DSR_CDC_PG_PASSWORD is not set');
  });
});

describe('dsr result', () => {
  it('exits 2 naming the argument when the request id is malformed', async () => {
    const result = await cli(['dsr', 'result', 'a b', '--config', EXAMPLE]);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe('error: <requestId>: expected only letters, digits and . _ : -\n');
  });

  it('exits 2 on a malformed --timeout', async () => {
    const result = await cli(['dsr', 'result', 'r-1', '--config', EXAMPLE, '--timeout', '-5']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("option '--timeout <ms>' argument '-5' is invalid");
  });
});

describe('consumer run', () => {
  it('exits 2 on an unknown consumer', async () => {
    const result = await cli(['consumer', 'run', 'everything', '--config', EXAMPLE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Allowed choices are pii-discovery');
  });

  it('exits 2 when pii-discovery has no dsr section to run with', async () => {
    const result = await cli(['consumer', 'run', 'pii-discovery', '--config', EXAMPLE]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pii-discovery needs the `dsr` section of the config');
  });

  it('exits 2 naming dsr.classification when that file is missing or invalid', async () => {
    const env = { ...ENV, DSR_CDC_PEPPER: 'p'.repeat(32) };
    const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-cli-'));
    const missing = await cli(
      ['consumer', 'run', 'pii-discovery', '--config', configWithDsr(`  classification: ${dir}/none.yaml\n`)],
      env,
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`error: dsr.classification: cannot read ${dir}/none.yaml (ENOENT)`);

    writeFileSync(join(dir, 'bad.yaml'), 'columns:\n  - { match: a.b.c.d, role: owner }\n');
    const invalid = await cli(
      ['consumer', 'run', 'pii-discovery', '--config', configWithDsr(`  classification: ${dir}/bad.yaml\n`)],
      env,
    );
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain(`dsr.classification (${dir}/bad.yaml): invalid classification:`);
    expect(invalid.stderr).toContain('columns[0].role: ');
  });
});

describe('dsr-cdc --help', () => {
  it('lists the consumer and dsr groups and their commands', async () => {
    expect((await cli(['--help'])).stdout).toMatch(/\n\s+consumer\s[\s\S]*\n\s+dsr\s/);
    expect((await cli(['dsr', '--help'])).stdout).toMatch(
      /\n\s+submit \[options\][\s\S]*\n\s+result \[options\]/,
    );
  });
});
