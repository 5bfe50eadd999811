/**
 * `dsr-cdc audit verify` / `audit show` against the real dsr.audit topic: an intact chain verifies;
 * a tampered entry and a skipped entry are reported with their offsets, and the exit status fails;
 * an unknown request id and a missing audit topic are clear user mistakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FAILED_EXIT } from '../../src/cli/commands/audit.js';
import { piiDiscoveryTopics } from '../../src/consumers/pii-discovery/index.js';
import { appendAudit } from '../../src/dsr/audit-chain.js';
import { readAuditTrail } from '../../src/dsr/audit-trail.js';
import type { AuditEvent, DsrResult } from '../../src/dsr/contracts.js';
import { createProducer } from '../../src/kafka/client.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { kafkaClient } from '../support/cdc.js';
import { runCli } from '../support/cli.js';
import { uniqueName } from '../support/names.js';

const topic = piiDiscoveryTopics().audit.name;
const env = { DSR_CDC_PG_PASSWORD: 'unused-here' };
const kafka = kafkaClient();
const producer = createProducer(kafka);

function chain(requestId: string): AuditEvent[] {
  let previous: AuditEvent | undefined;
  return (['received', 'answered'] as const).map((step) => {
    previous = appendAudit(previous, {
      requestId,
      step,
      at: new Date().toISOString(),
      detail: step === 'answered' ? { status: 'complete', locations: 2, caughtUp: true } : { identifiers: 1 },
    });
    return previous;
  });
}

/** The result the answered entry of chain() describes. */
function resultOf(requestId: string): DsrResult {
  return {
    requestId,
    type: 'access',
    status: 'complete',
    locations: [0, 1].map((n) => ({
      source: 'app',
      schema: 'public',
      table: 'customers',
      primaryKey: { id: n },
      columns: ['email'],
      piiTypes: ['email'],
      matchedBy: { kind: 'identifier', identifierType: 'email' },
      lastPosition: { commitLsn: '1', seq: String(n) },
    })),
    consistentAsOf: { 'cdc.app.public.customers/0': '2' },
    caughtUp: true,
    answeredAt: new Date().toISOString(),
  };
}

async function writeResult(result: DsrResult): Promise<void> {
  await producer.send({
    topic: piiDiscoveryTopics().results.name,
    acks: -1,
    messages: [{ key: result.requestId, value: JSON.stringify(result) }],
  });
}

/** Writes one request's events; returns where they lie (`<topic>/<partition> offset <n>` each). */
async function write(events: AuditEvent[]): Promise<string[]> {
  const [sent] = await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
  });
  const base = BigInt(sent?.baseOffset ?? '0');
  return events.map((_, i) => `${topic}/${sent?.partition} offset ${base + BigInt(i)}`);
}

describe('audit verify / show', () => {
  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [piiDiscoveryTopics().audit, piiDiscoveryTopics().results]);
    await admin.disconnect();
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
  });

  it('verifies an intact chain and shows its timeline', async () => {
    const id = uniqueName('intact');
    await write(chain(id));
    await writeResult(resultOf(id));
    const verified = await runCli(
      ['audit', 'verify', '--config', 'dsr-cdc.example.yaml', '--request', id],
      env,
    );
    expect(verified.stderr).toBe('');
    expect(verified).toMatchObject({ code: 0, stdout: '1 of 1 request chains verified\n' });
    const shown = await runCli(['audit', 'show', id, '--config', 'dsr-cdc.example.yaml'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/received .*\n.*answered .*\n.*result .*\nchain verified\n$/);
  });

  it('shows the discovery result in the timeline, and catches a chain whose tail is missing', async () => {
    const id = uniqueName('with-result');
    await write(chain(id));
    await writeResult(resultOf(id));
    const shown = await runCli(['audit', 'show', id, '--config', 'dsr-cdc.example.yaml'], env);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(
      /received .*\n.*answered .*\n.*result {4}\{"status":"complete","locations":2,"tables":\{"app\.public\.customers":2\},"caughtUp":true,"partitions":1\} {2}\[dsr\.discovery-results\/\d+@\d+\]\nchain verified\n$/,
    );

    // the answered entry removed from the end: the chain alone still verifies, the result shows it
    const truncated = uniqueName('truncated');
    await write(chain(truncated).slice(0, 1));
    await writeResult(resultOf(truncated));
    const caught = await runCli(['audit', 'show', truncated, '--config', 'dsr-cdc.example.yaml'], env);
    expect(caught.code).toBe(AUDIT_FAILED_EXIT);
    expect(caught.stdout).toContain('chain verified\n');
    expect(caught.stdout).toContain(
      'result MISMATCH: a result exists, but the audit trail has no answered entry (its tail is missing)',
    );
  });

  it('reports a tampered entry with its offset and fails', async () => {
    const id = uniqueName('tampered');
    const [received, answered] = chain(id) as [AuditEvent, AuditEvent];
    const offsets = await write([received, { ...answered, detail: { locations: 0 } }]);
    const result = await runCli(
      ['audit', 'verify', '--config', 'dsr-cdc.example.yaml', '--request', id],
      env,
    );
    expect(result.code).toBe(AUDIT_FAILED_EXIT);
    // whole lines: 'offset 1' must not pass for 'offset 12'
    expect(result.stdout).toBe(
      `BROKEN request ${id}: hash-mismatch at ${offsets[1]}\n0 of 1 request chains verified\n`,
    );
  });

  it('reports a skipped entry where the chain breaks', async () => {
    const id = uniqueName('skipped');
    let previous: AuditEvent | undefined;
    const events = (['received', 'answered', 'answered'] as const).map((step) => {
      previous = appendAudit(previous, { requestId: id, step, at: new Date().toISOString(), detail: {} });
      return previous;
    });
    const offsets = await write([events[0] as AuditEvent, events[2] as AuditEvent]);
    const result = await runCli(
      ['audit', 'verify', '--config', 'dsr-cdc.example.yaml', '--request', id],
      env,
    );
    expect(result.code).toBe(AUDIT_FAILED_EXIT);
    expect(result.stdout).toBe(
      `BROKEN request ${id}: broken-link at ${offsets[1]}\n0 of 1 request chains verified\n`,
    );
  });

  it('refuses a request id the trail does not hold, as a user mistake', async () => {
    const id = uniqueName('unknown');
    const verified = await runCli(
      ['audit', 'verify', '--config', 'dsr-cdc.example.yaml', '--request', id],
      env,
    );
    expect(verified).toMatchObject({
      code: 2,
      stdout: '',
      stderr: `error: --request: ${topic} holds no audit entry for request ${id}; check the id (dsr-cdc dsr submit prints it)\n`,
    });
    const shown = await runCli(['audit', 'show', id, '--config', 'dsr-cdc.example.yaml'], env);
    expect(shown).toMatchObject({ code: 2, stdout: '' });
    expect(shown.stderr).toContain(`error: requestId: ${topic} holds no audit entry for request ${id}`);
  });

  it('refuses a missing audit topic with a clear error, not an internal one', async () => {
    const missing = uniqueName('dsr.audit-missing');
    await expect(readAuditTrail(kafka, missing)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      field: 'kafka.brokers',
      message: expect.stringContaining(`the audit topic ${missing} does not exist on this cluster`),
    });
  });
});
