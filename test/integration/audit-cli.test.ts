/**
 * `dsr-cdc audit verify` / `audit show` against the real dsr.audit topic: an intact chain verifies;
 * a tampered entry and a skipped entry are reported with their offsets, and the exit status fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_FAILED_EXIT } from '../../src/cli/commands/audit.js';
import { piiDiscoveryTopics } from '../../src/consumers/pii-discovery/index.js';
import { appendAudit } from '../../src/dsr/audit-chain.js';
import type { AuditEvent } from '../../src/dsr/contracts.js';
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
      detail: { locations: 2 },
    });
    return previous;
  });
}

async function write(events: AuditEvent[]): Promise<string[]> {
  const metadata = await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: e.requestId, value: JSON.stringify(e) })),
  });
  const base = BigInt(metadata[0]?.baseOffset ?? '0');
  return events.map((_, i) => String(base + BigInt(i)));
}

describe('audit verify / show', () => {
  beforeAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [piiDiscoveryTopics().audit]);
    await admin.disconnect();
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
  });

  it('verifies an intact chain and shows its timeline', async () => {
    const id = uniqueName('intact');
    await write(chain(id));
    const verified = await runCli(
      ['audit', 'verify', '--config', 'dsr-cdc.example.yaml', '--request', id],
      env,
    );
    expect(verified.stderr).toBe('');
    expect(verified).toMatchObject({ code: 0, stdout: '1 of 1 request chains verified\n' });
    const shown = await runCli(['audit', 'show', id, '--config', 'dsr-cdc.example.yaml'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/received .*\n.*answered .*\nchain verified\n$/);
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
    expect(result.stdout).toContain(`BROKEN request ${id}: hash-mismatch at ${topic}/`);
    expect(result.stdout).toContain(`offset ${offsets[1]}`);
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
    expect(result.stdout).toContain(`broken-link at ${topic}/`);
    expect(result.stdout).toContain(`offset ${offsets[1]}`);
  });
});
