/**
 * Canary test: an end-to-end load whose rows, requests and secrets carry known canary values
 * (emails, card numbers, the HMAC pepper, the admin token, the database password) runs through
 * `dsr-cdc run` (a source, pii-discovery and the admin API) with logging at debug; every log line,
 * the metrics text and every dead-letter header are captured, and none may contain a canary, in
 * clear, base64 (standard and url-safe, at any alignment within a larger value) or hex. The
 * database password is a random one of this test's own login role, not the stack's shared one.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import { loadConfig } from '../../src/config/load.js';
import { piiDiscoveryTopics } from '../../src/consumers/pii-discovery/index.js';
import { readToEnd } from '../../src/kafka/read-to-end.js';
import { metrics } from '../../src/observability/metrics.js';
import { runRuntime } from '../../src/runtime/index.js';
import { CdcFixture } from '../support/cdc.js';
import { memoryLogger } from '../support/logger.js';
import { uniqueName } from '../support/names.js';
import { waitFor, writeSourceConfig } from '../support/source-process.js';

const ROWS = 200;

/** A 16-digit Visa-range number that passes Luhn, so discovery treats it as a card. */
function cardNumber(): string {
  const digits = [4, ...Array.from(randomBytes(14), (b) => b % 10)];
  const sum = digits
    .slice()
    .reverse()
    .reduce((acc, d, i) => acc + (i % 2 === 0 ? (d * 2 > 9 ? d * 2 - 9 : d * 2) : d), 0);
  return [...digits, (10 - (sum % 10)) % 10].join('');
}

/**
 * The canary as written and in the encodings a leak might take. Base64 inside a larger value
 * depends on where the canary falls within a 3-byte group: for each of the three alignments, the
 * characters that encode only the canary's own bytes (whole groups, so no padding) are listed.
 */
function encodings(canary: string): string[] {
  return [canary, canary.toLowerCase()].flatMap((form) => {
    const bytes = Buffer.from(form, 'utf8');
    const groups = [0, 1, 2].map((skip) =>
      bytes.subarray(skip, skip + Math.floor((bytes.length - skip) / 3) * 3),
    );
    return [
      form,
      ...groups.map((group) => group.toString('base64')),
      ...groups.map((group) => group.toString('base64url')),
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
    ];
  });
}

/** A password as a person or a secret manager would pick one: mixed case, digits, punctuation. */
function postgresLikePassword(): string {
  return `Cn${randomBytes(18).toString('base64url')}!7#`;
}

describe('encodings of a canary', () => {
  it('find its base64 and hex inside larger values, at every alignment', () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    const forms = encodings(canary);
    for (let offset = 0; offset < 3; offset++) {
      const embedded = Buffer.concat([randomBytes(offset + 3), Buffer.from(canary), randomBytes(2)]);
      for (const text of [
        embedded.toString('base64'),
        embedded.toString('base64url'),
        embedded.toString('hex'),
      ]) {
        expect({ offset, text, found: forms.some((form) => text.includes(form)) }).toMatchObject({
          found: true,
        });
      }
    }
  });
});

describe('canaries never leave the data path', () => {
  const fx = new CdcFixture();
  const pipeline = uniqueName('canary');
  const canaries = {
    emails: Array.from({ length: 5 }, (_, i) => `Canary${i}.${pipeline}@Example.test`),
    cards: Array.from({ length: 5 }, cardNumber),
    pepper: `canary-pepper-${randomBytes(24).toString('hex')}`,
    token: `canary-token-${randomBytes(24).toString('hex')}`,
    password: postgresLikePassword(),
  };
  /** The source logs in as a role of its own, with the canary password (see beforeAll). */
  const role = uniqueName('canary_login');
  let lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-canary-'));
  const controller = new AbortController();
  let running: Promise<void>;
  let url = '';
  let table: string;

  const call = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${canaries.token}`, 'content-type': 'application/json' },
    });

  beforeAll(async () => {
    await fx.open();
    // the pipeline role's privileges (it is a member), its own login and REPLICATION (not inherited)
    await fx.admin.query(
      `CREATE ROLE ${role} LOGIN REPLICATION PASSWORD ${fx.admin.escapeLiteral(canaries.password)} ` +
        `IN ROLE ${loadConnections().postgres.user}`,
    );
    table = await fx.table('people', 'id int PRIMARY KEY, email text, card text, note text');
    await fx.publish();
    const configPath = writeSourceConfig(
      fx,
      dir,
      [table],
      {
        pipeline: { name: pipeline },
        kafka: { brokers: loadConnections().kafka.brokers, clientId: pipeline },
        dsr: { pepper: '${env:CANARY_PEPPER}', answerWaitMs: 60_000 },
        admin: { listen: { host: '127.0.0.1', port: 0 }, token: '${env:CANARY_TOKEN}' },
        log: { level: 'debug' },
      },
      '${env:CANARY_PG_PASSWORD}',
    );
    const written = parse(readFileSync(configPath, 'utf8'));
    written.sources[fx.source].connection.user = role;
    writeFileSync(configPath, stringify(written));
    const config = loadConfig({
      path: configPath,
      env: {
        CANARY_PG_PASSWORD: canaries.password,
        CANARY_PEPPER: canaries.pepper,
        CANARY_TOKEN: canaries.token,
      },
    });
    const memory = memoryLogger('debug', 'dsr-cdc');
    const { logger } = memory;
    lines = memory.lines;
    running = runRuntime(config, logger, controller.signal, {
      only: [],
      onListening: (listening) => {
        url = listening;
      },
    });
    running.catch(() => undefined);
    await waitFor(async () => url !== '', 60_000, 'the admin API did not start');
    await fx.waitStreaming(60_000);
  }, 120_000);

  afterAll(async () => {
    controller.abort();
    await running;
    const admin = fx.kafka.admin();
    await admin.connect();
    await admin.deleteGroups([`${pipeline}.pii-discovery`, `${pipeline}.dsr-answer`]).catch(() => undefined);
    await admin.disconnect();
    await fx.admin.query(`DROP ROLE IF EXISTS ${role}`);
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('appear in no log line, metric or dead-letter header', async () => {
    // the load: rows with the canaries, updates and deletes
    for (let id = 1; id <= ROWS; id++) {
      const i = id % canaries.emails.length;
      await fx.admin.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4)`, [
        id,
        canaries.emails[i],
        canaries.cards[i],
        `call ${canaries.emails[i]} about card ${canaries.cards[i]}`,
      ]);
    }
    await fx.admin.query(`UPDATE ${table} SET note = 'paid with ' || card WHERE id % 3 = 0`);
    await fx.admin.query(`DELETE FROM ${table} WHERE id % 7 = 0`);

    // a DSR over HTTP, a request with an unsearchable identifier, and a malformed request on the topic
    const submitted = await call('/dsr/requests', {
      method: 'POST',
      body: JSON.stringify({ type: 'access', identifiers: [{ type: 'email', value: canaries.emails[1] }] }),
    });
    expect(submitted.status).toBe(202);
    const { requestId } = (await submitted.json()) as { requestId: string };
    const refused = await call('/dsr/requests', {
      method: 'POST',
      body: JSON.stringify({ type: 'access', identifiers: [{ type: 'phone', value: canaries.emails[2] }] }),
    });
    expect(refused.status).toBe(400);
    expect(await refused.text()).not.toContain(canaries.emails[2]);
    const topics = piiDiscoveryTopics();
    const producer = fx.kafka.producer();
    await producer.connect();
    const poisonKey = `${pipeline}.poison`;
    await producer.send({
      topic: topics.requests.name,
      messages: [
        {
          key: poisonKey,
          value: JSON.stringify({ requestId: poisonKey, type: 'access', email: canaries.emails[3] }),
        },
      ],
    });
    // and bytes that are not the registry wire format on the source's own topic
    await producer.send({
      topic: fx.topic(table),
      messages: [{ key: null, value: Buffer.from(`not avro ${canaries.emails[4]} ${canaries.cards[4]}`) }],
    });
    await producer.disconnect();

    let result: { status?: string; locations?: unknown[] } = {};
    await waitFor(
      async () => {
        const response = await call(`/dsr/requests/${requestId}`);
        if (response.status !== 200) return false;
        result = (await response.json()) as typeof result;
        return true;
      },
      150_000,
      'no answer',
    );
    expect(result.status).toBe('complete');
    expect(result.locations?.length).toBeGreaterThan(0);

    // the dead letters of this run, once both were sent (the shared DLQ holds other runs' too: all are scanned)
    await waitFor(
      async () =>
        ((await metrics.dlqEvents.get()).values.find((v) => v.labels.stage === 'pii-discovery')?.value ??
          0) >= 2,
      60_000,
      'the poison events were not dead-lettered',
    );
    const headers: string[] = [];
    const ownLetters = new Set<string>();
    await readToEnd(fx.kafka, topics.dlq.name, (message) => {
      headers.push(...Object.entries(message.headers ?? {}).map(([k, v]) => `${k}=${String(v)}`));
      const from = String(message.headers?.['dsr-cdc.topic'] ?? '');
      if (from === fx.topic(table) || message.key?.toString() === poisonKey) ownLetters.add(from);
    });
    expect([...ownLetters].sort()).toEqual([topics.requests.name, fx.topic(table)].sort());

    const metricsText = await (await call('/metrics')).text();
    expect(metricsText).toContain(
      'dsr_cdc_dlq_events_total{stage="pii-discovery",reason_class="EVENT_INVALID"}',
    );
    // the capture works: the admin API logged each request
    expect(lines.join('')).toContain('"msg":"admin request"');

    const haystacks = { logs: lines.join('\n'), metrics: metricsText, 'dlq headers': headers.join('\n') };
    const all = [...canaries.emails, ...canaries.cards, canaries.pepper, canaries.token, canaries.password];
    const leaks = Object.entries(haystacks).flatMap(([where, text]) =>
      all.flatMap((canary) =>
        encodings(canary)
          .filter((form) => text.includes(form))
          .map((form) => `${where}: ${form}`),
      ),
    );
    expect(leaks).toEqual([]);
  }, 240_000);
});
