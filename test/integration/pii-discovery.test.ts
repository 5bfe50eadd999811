/**
 * PII discovery and DSR answers on the real stack: a realistic schema with a few dozen synthetic
 * subjects is streamed by the replication source; the pii-discovery group keeps the subject index;
 * DSR requests are answered with exactly each subject's ground-truth locations.
 */
import { randomBytes } from 'node:crypto';
import type { Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import { Answerer } from '../../src/consumers/pii-discovery/answerer.js';
import { parseClassification } from '../../src/consumers/pii-discovery/classification.js';
import { Discovery } from '../../src/consumers/pii-discovery/discovery.js';
import { IndexView } from '../../src/consumers/pii-discovery/index-view.js';
import { verifyChain } from '../../src/dsr/audit-chain.js';
import { submitRequest } from '../../src/dsr/client.js';
import {
  type AuditEvent,
  type DsrResult,
  type Identifier,
  parseAuditEvent,
  parseDsrResult,
} from '../../src/dsr/contracts.js';
import { foreignKeysByContract } from '../../src/events/registry.js';
import { createLogger } from '../../src/observability/logger.js';
import { CdcFixture, type RunningSource } from '../support/cdc.js';
import { dsrTestTopics } from '../support/dsr.js';
import { createTopicsAndWait } from '../support/kafka.js';
import { uniqueName } from '../support/names.js';

const SUBJECTS = 24;
const logger = createLogger({ level: 'warn', component: 'test-discovery' });

interface Subject {
  id: number;
  email: string;
  phone: string;
}

describe('pii discovery and DSR answers', () => {
  const fx = new CdcFixture();
  const run = uniqueName('dsr');
  const topics = dsrTestTopics(run);
  const pepper = randomBytes(32);
  const subjects: Subject[] = Array.from({ length: SUBJECTS }, (_, i) => ({
    id: i + 1,
    email: `Subject${i + 1}.${run}@Example.test`,
    phone: `+44 20 7946 0${String(100 + i).padStart(3, '0')}`,
  }));
  const tables: Record<string, string> = {};
  let source: RunningSource;
  let producer: Producer;
  let view: IndexView;
  let discovery: Discovery;
  let answerer: Answerer;

  beforeAll(async () => {
    await fx.open();
    tables.customers = await fx.table(
      'customers',
      'id int PRIMARY KEY, email text, phone text, full_name text',
    );
    tables.tickets = await fx.table('tickets', 'id int PRIMARY KEY, customer_id int, body text');
    tables.profiles = await fx.table('profiles', 'id int PRIMARY KEY, doc jsonb');
    tables.addresses = await fx.table(
      'addresses',
      `id int PRIMARY KEY, customer_id int REFERENCES public.${tables.customers}(id), street text, city text, postal_code text`,
    );
    tables.purchases = await fx.table(
      'purchases',
      `id int PRIMARY KEY, customer_id int REFERENCES public.${tables.customers}(id), total numeric(10,2)`,
    );
    tables.payments = await fx.table(
      'payments',
      `id int PRIMARY KEY, purchase_id int REFERENCES public.${tables.purchases}(id), amount numeric(10,2)`,
    );
    tables.orders = await fx.table(
      'orders',
      'id int PRIMARY KEY, order_no text, total numeric(10,2), shipped timestamptz',
    );
    for (const s of subjects) {
      await fx.admin.query(`INSERT INTO ${tables.customers} VALUES ($1, $2, $3, $4)`, [
        s.id,
        s.email,
        s.phone,
        `Person ${s.id}`,
      ]);
      if (s.id % 2 === 0) {
        await fx.admin.query(`INSERT INTO ${tables.tickets} VALUES ($1, $2, $3)`, [
          1000 + s.id,
          s.id,
          `Hi, please call me back on ${s.phone} about order ORD-2024-00${s.id}. Thanks!`,
        ]);
      }
      if (s.id % 3 === 0) {
        await fx.admin.query(`INSERT INTO ${tables.tickets} VALUES ($1, NULL, $2)`, [
          2000 + s.id,
          `Forwarded message. Reply to ${s.email.toUpperCase()} please.`,
        ]);
      }
      await fx.admin.query(`INSERT INTO ${tables.addresses} VALUES ($1, $2, $3, 'London', 'SW1A 1AA')`, [
        5000 + s.id,
        s.id,
        `${s.id} Downing Street`,
      ]);
      if (s.id % 5 === 0) {
        // no identifier in these rows: they belong to the subject through foreign keys
        await fx.admin.query(`INSERT INTO ${tables.purchases} VALUES ($1, $2, 10.00)`, [3000 + s.id, s.id]);
        await fx.admin.query(`INSERT INTO ${tables.payments} VALUES ($1, $2, 10.00)`, [
          4000 + s.id,
          3000 + s.id,
        ]);
      }
      if (s.id % 4 === 0) {
        await fx.admin.query(`INSERT INTO ${tables.profiles} VALUES ($1, $2)`, [
          s.id,
          JSON.stringify({ contact: { emails: ['other@example.invalid', s.email] }, tier: 'gold' }),
        ]);
      }
    }
    // no PII: order numbers, amounts, versions and timestamps are not phones or cards
    await fx.admin.query(
      `INSERT INTO ${tables.orders} SELECT g, 'ORD-2024-' || lpad(g::text, 6, '0'), g * 9.99, now() FROM generate_series(1, 50) g`,
    );
    await fx.publish();
    source = fx.start();

    const admin = fx.kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [
      {
        topic: topics.index,
        numPartitions: 3,
        configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
      },
      { topic: topics.requests, numPartitions: 2 },
      { topic: topics.results, numPartitions: 2 },
      { topic: topics.audit, numPartitions: 2 },
      { topic: topics.dlq, numPartitions: 1 },
    ]);
    await admin.disconnect();

    producer = fx.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    view = new IndexView(fx.kafka, topics.index);
    await view.start();
    const cdcTopics = new RegExp(`^cdc\\.${fx.source}\\.`);
    discovery = new Discovery(
      fx.kafka,
      fx.registry,
      producer,
      view,
      { pepper, classification: parseClassification({ columns: [] }), detect: { defaultRegion: 'GB' } },
      {
        groupId: `${run}.pii-discovery`,
        topics: cdcTopics,
        indexTopic: topics.index,
        dlqTopic: topics.dlq,
        topicRefreshMs: 1_000,
      },
      logger,
      foreignKeysByContract({ url: loadConnections().registry.url }),
    );
    await discovery.start();
    answerer = new Answerer(
      fx.kafka,
      producer,
      view,
      {
        groupId: `${run}.answer`,
        discoveryGroupId: `${run}.pii-discovery`,
        cdcTopics,
        requestsTopic: topics.requests,
        resultsTopic: topics.results,
        auditTopic: topics.audit,
        dlqTopic: topics.dlq,
        pepper,
        waitMs: 30_000,
        depth: 2,
        detect: { defaultRegion: 'GB' },
      },
      logger,
    );
    await answerer.start();
    await fx.waitStreaming(60_000);
  }, 180_000);

  afterAll(async () => {
    await answerer?.stop();
    await discovery?.stop();
    await view?.stop();
    await producer?.disconnect();
    await source?.stop();
    const admin = fx.kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
    await fx.close();
  }, 120_000);

  /** Submits through the library API (validated before it is produced) and reads the answer. */
  async function ask(requestId: string, identifiers: Identifier[]): Promise<DsrResult> {
    await submitRequest(
      producer,
      topics.requests,
      { requestId, type: 'access', identifiers },
      { detect: { defaultRegion: 'GB' } },
    );
    const results = await readAll(topics.results, (rs) => rs.some((r) => r.key === requestId), 60_000);
    return parseDsrResult(JSON.parse(results.find((r) => r.key === requestId)?.value as string));
  }

  type Rec = { key: string; value: string | null; headers: Record<string, string> };

  /** Reads `topic` from the start until `enough` holds, or (without `enough`) to its current end. */
  async function readAll(
    topic: string,
    enough?: (records: Rec[]) => boolean,
    timeoutMs = 30_000,
  ): Promise<Rec[]> {
    const admin = fx.kafka.admin();
    await admin.connect();
    const ends = new Map(
      (await admin.fetchTopicOffsets(topic))
        .filter((e) => e.high !== e.low)
        .map((e) => [e.partition, BigInt(e.high)]),
    );
    await admin.disconnect();
    const records: Rec[] = [];
    if (!enough && ends.size === 0) return records;
    const consumer = fx.kafka.consumer({ groupId: uniqueName('reader') });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not enough records in ${topic}`)), timeoutMs);
        consumer
          .run({
            eachMessage: async ({ partition, message }) => {
              const headers = Object.fromEntries(
                Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]),
              );
              records.push({
                key: message.key?.toString() ?? '',
                value: message.value?.toString() ?? null,
                headers,
              });
              if (!enough && BigInt(message.offset) + 1n >= (ends.get(partition) ?? 0n))
                ends.delete(partition);
              if (enough ? enough(records) : ends.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      return records;
    } finally {
      await consumer.disconnect();
    }
  }

  /** The ground truth: where each subject's data is, and how a lookup by email reaches it. */
  function expectedFor(s: Subject): string[] {
    const expected = [
      `${tables.customers}:${s.id}:identifier`,
      `${tables.addresses}:${5000 + s.id}:foreign-key`,
    ];
    if (s.id % 2 === 0) expected.push(`${tables.tickets}:${1000 + s.id}:linked-identifier`);
    if (s.id % 3 === 0) expected.push(`${tables.tickets}:${2000 + s.id}:identifier`);
    if (s.id % 4 === 0) expected.push(`${tables.profiles}:${s.id}:identifier`);
    if (s.id % 5 === 0) {
      expected.push(
        `${tables.purchases}:${3000 + s.id}:foreign-key`,
        `${tables.payments}:${4000 + s.id}:foreign-key`,
      );
    }
    return expected.sort();
  }

  const summary = (result: DsrResult) =>
    result.locations
      .map((l) => `${l.table}:${Object.values(l.primaryKey).join(',')}:${l.matchedBy.kind}`)
      .sort();

  it('answers every subject with exactly its own locations (recall 100%, nothing of another subject)', async () => {
    for (const s of subjects) {
      const result = await ask(`req-${s.id}`, [{ type: 'email', value: `  ${s.email.toLowerCase()} ` }]);
      expect({ subject: s.id, status: result.status, caughtUp: result.caughtUp }).toEqual({
        subject: s.id,
        status: 'complete',
        caughtUp: true,
      });
      expect({ subject: s.id, locations: summary(result) }).toEqual({
        subject: s.id,
        locations: expectedFor(s),
      });
      expect(Object.keys(result.consistentAsOf).length).toBeGreaterThan(0);
    }
    // a phone number finds the same subject's rows
    const byPhone = await ask('req-phone-2', [{ type: 'phone', value: '020 7946 0101' }]);
    expect(summary(byPhone)).toContain(`${tables.customers}:2:identifier`);
    expect(summary(byPhone)).toContain(`${tables.tickets}:1002:identifier`);
  });

  it('moves the index when an email changes and forgets a subject whose rows are deleted', async () => {
    const moved = subjects[0] as Subject; // id 1: only the customer row holds the email
    const newEmail = `moved.${run}@example.test`;
    await fx.admin.query(`UPDATE ${tables.customers} SET email = $1 WHERE id = $2`, [newEmail, moved.id]);
    expect(summary(await ask('req-moved-new', [{ type: 'email', value: newEmail }]))).toEqual(
      [`${tables.customers}:1:identifier`, `${tables.addresses}:5001:foreign-key`].sort(),
    );
    expect(summary(await ask('req-moved-old', [{ type: 'email', value: moved.email }]))).toEqual([]);

    const gone = subjects[11] as Subject; // id 12: customer row, address, two tickets, a profile
    await fx.admin.query(`DELETE FROM ${tables.addresses} WHERE customer_id = $1`, [gone.id]);
    await fx.admin.query(`DELETE FROM ${tables.customers} WHERE id = $1`, [gone.id]);
    await fx.admin.query(`DELETE FROM ${tables.tickets} WHERE id IN ($1, $2)`, [
      1000 + gone.id,
      2000 + gone.id,
    ]);
    await fx.admin.query(`DELETE FROM ${tables.profiles} WHERE id = $1`, [gone.id]);
    const after = await ask('req-gone', [{ type: 'email', value: gone.email }]);
    expect(after.status).toBe('complete');
    expect(after.locations).toEqual([]);
  });

  it('answers a duplicate request id once, rejects a malformed request to the DLQ, and chains the audit', async () => {
    await ask('req-3', [{ type: 'email', value: (subjects[2] as Subject).email }]); // already answered
    await producer.send({
      topic: topics.requests,
      acks: -1,
      messages: [
        { key: 'req-bad', value: JSON.stringify({ requestId: 'req-bad', type: 'delete-everything' }) },
      ],
    });
    const dead = await readAll(topics.dlq, (rs) => rs.some((r) => r.key === 'req-bad'), 30_000);
    const headers = dead.find((r) => r.key === 'req-bad')?.headers ?? {};
    expect(headers['dsr-cdc.stage']).toBe('pii-discovery');
    expect(headers['dsr-cdc.error']).toMatch(/type/);

    const results = await readAll(topics.results, (rs) => rs.some((r) => r.key === 'req-gone'), 30_000);
    expect(results.filter((r) => r.key === 'req-3')).toHaveLength(1);

    const audit = await readAll(topics.audit, (rs) => rs.some((r) => r.key === 'req-bad'), 30_000);
    const byRequest = new Map<string, AuditEvent[]>();
    for (const record of audit) {
      const event = parseAuditEvent(JSON.parse(record.value as string));
      byRequest.set(event.requestId, [...(byRequest.get(event.requestId) ?? []), event]);
    }
    expect(byRequest.get('req-bad')?.map((e) => e.step)).toEqual(['rejected']);
    expect(byRequest.get('req-3')?.map((e) => e.step)).toEqual(['received', 'answered']);
    for (const [, events] of byRequest) expect(verifyChain(events)).toEqual({ ok: true });
  });

  it('keeps raw identifiers out of every DSR topic', async () => {
    const everything: Rec[] = [];
    for (const topic of [topics.index, topics.results, topics.audit])
      everything.push(...(await readAll(topic)));
    const dead = await readAll(topics.dlq);
    const text = JSON.stringify(everything) + JSON.stringify(dead.map((d) => d.headers));
    expect(text.length).toBeGreaterThan(1_000);
    for (const s of subjects) {
      for (const needle of [s.email, s.email.toLowerCase(), s.phone, s.phone.replace(/\s/g, '')]) {
        expect(text.includes(needle)).toBe(false);
      }
    }
  });
});
