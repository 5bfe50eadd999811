/**
 * The DSR command line end to end on the real stack: a source streams a scratch table, the
 * pii-discovery stage runs in-process from a config file (its own pipeline name, so its own
 * consumer groups, on the shared dsr.* topics of topics.yaml), and `dsr submit --wait` and
 * `dsr result` run in-process as a privacy engineer would run them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import { loadConfig } from '../../src/config/load.js';
import { runPiiDiscovery } from '../../src/consumers/pii-discovery/index.js';
import { type DsrResult, parseDsrResult } from '../../src/dsr/contracts.js';
import { createLogger } from '../../src/observability/logger.js';
import { CdcFixture, type RunningSource } from '../support/cdc.js';
import { runCli } from '../support/cli.js';
import { uniqueName } from '../support/names.js';

const cli = runCli;

describe('dsr submit --wait and dsr result against a running pii-discovery', () => {
  const fx = new CdcFixture();
  const pipeline = uniqueName('dsr_cli');
  const email = `Jane.${pipeline}@Example.test`;
  // a UK drama number (020 7946 0xxx) of this run; the range below 0500 is the other DSR test's
  const phone = `020 7946 0${500 + (randomBytes(2).readUInt16BE() % 500)}`;
  const env = { DSR_CDC_TEST_PEPPER: randomBytes(32).toString('base64') };
  const controller = new AbortController();
  let configPath: string;
  let table: string;
  let source: RunningSource;
  let discovery: Promise<void> | undefined;

  beforeAll(async () => {
    await fx.open();
    table = await fx.table('customers', 'id int PRIMARY KEY, email text, phone text, plan text');
    await fx.admin.query(`INSERT INTO ${table} VALUES (1, $1, $2, 'gold'), (2, NULL, NULL, 'free')`, [
      email,
      `+44 ${phone.slice(1)}`,
    ]);
    await fx.publish();
    source = fx.start();
    await fx.waitStreaming(60_000);

    const connections = loadConnections();
    configPath = join(mkdtempSync(join(tmpdir(), 'dsr-cdc-dsr-cli-')), 'dsr-cdc.yaml');
    writeFileSync(
      configPath,
      stringify({
        pipeline: { name: pipeline },
        kafka: { brokers: connections.kafka.brokers, clientId: pipeline },
        registry: { url: connections.registry.url },
        sources: {},
        // every process of the stage and every client reads the same file
        dsr: { pepper: '${env:DSR_CDC_TEST_PEPPER}', answerWaitMs: 60_000, defaultRegion: 'GB' },
        log: { level: 'warn' },
      }),
    );
    const config = loadConfig({ path: configPath, env });
    discovery = runPiiDiscovery(
      config,
      createLogger({ level: 'warn', component: 'test-dsr-cli' }),
      controller.signal,
    );
    discovery.catch(() => undefined);
  }, 120_000);

  afterAll(async () => {
    controller.abort();
    await discovery;
    await source?.stop();
    const admin = fx.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${pipeline}.pii-discovery`, `${pipeline}.dsr-answer`]).catch(() => undefined);
    await admin.disconnect();
    await fx.close();
  }, 120_000);

  /** This run's rows in a result: the shared stack may hold other tests' rows of the same subject. */
  const ownRows = (result: DsrResult) =>
    result.locations
      .filter((l) => l.table === table)
      .map((l) => ({
        key: Object.values(l.primaryKey).map(String),
        by: l.matchedBy.kind,
        columns: l.columns,
      }));

  it('submits a request by email, waits for its answer and prints it; dsr result prints it again', async () => {
    const requestId = `${pipeline}.by-email`;
    const submitted = await cli(
      [
        ...['dsr', 'submit', '--config', configPath, '--type', 'access'],
        ...['--email', `  ${email.toLowerCase()}`, '--id', requestId, '--wait', '150000'],
      ],
      env,
    );
    expect(submitted.stderr).toContain(`submitted DSR request ${requestId}`);
    expect(submitted.code).toBe(0);
    const result = parseDsrResult(JSON.parse(submitted.stdout));
    expect(result).toMatchObject({ requestId, type: 'access', status: 'complete', caughtUp: true });
    expect(ownRows(result)).toEqual([{ key: ['1'], by: 'identifier', columns: ['email', 'phone'] }]);
    expect(Object.keys(result.consistentAsOf)).toContain(`${fx.topic(table)}/0`);
    // the answer names locations, never the identifiers asked for
    expect(submitted.stdout).not.toContain(email.toLowerCase());

    const fetched = await cli(
      ['dsr', 'result', requestId, '--config', configPath, '--timeout', '30000'],
      env,
    );
    expect(fetched.code).toBe(0);
    expect(JSON.parse(fetched.stdout)).toEqual(result);
  }, 180_000);

  it('submits a request by national phone number (dsr.defaultRegion) and prints its id; dsr result awaits it', async () => {
    const submitted = await cli(
      ['dsr', 'submit', '--config', configPath, '--type', 'erasure', '--phone', phone],
      env,
    );
    expect(submitted).toMatchObject({ code: 0, stderr: '' });
    const requestId = submitted.stdout.trim();
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);

    const fetched = await cli(['dsr', 'result', requestId, '--config', configPath], env);
    expect(fetched.code).toBe(0);
    const result = parseDsrResult(JSON.parse(fetched.stdout));
    expect(result).toMatchObject({ requestId, type: 'erasure', status: 'complete' });
    expect(ownRows(result)).toEqual([{ key: ['1'], by: 'identifier', columns: ['email', 'phone'] }]);
  }, 180_000);
});
