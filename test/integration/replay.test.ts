/**
 * `dsr-cdc replay` against the real stack: a cdc topic written by the real Postgres source, whose
 * table gains a column mid-stream (two contract versions in one range); full, time-bounded and
 * offset-bounded ranges compared exactly with what the topic holds; CSV; one subject's rows via
 * the subject index; corrupt events with and without --skip-corrupt; and the bad inputs. And
 * readRange itself: partitions without a range are never fetched, and a consumer kafkajs restarts
 * after a crash hands on no message twice.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConnections } from '../../src/config/connections.js';
import { parseClassification } from '../../src/consumers/pii-discovery/classification.js';
import { discover } from '../../src/consumers/pii-discovery/discover.js';
import { piiDiscoveryTopics } from '../../src/consumers/pii-discovery/index.js';
import { SubjectIndex } from '../../src/consumers/pii-discovery/subject-index.js';
import { subjectToken } from '../../src/consumers/pii-discovery/tokens.js';
import { createProducer } from '../../src/kafka/client.js';
import { readRange } from '../../src/kafka/read-range.js';
import { ensureTopics } from '../../src/kafka/topics.js';
import { CdcFixture, type DecodedEvent, type RunningSource } from '../support/cdc.js';
import { runCli } from '../support/cli.js';
import { createTopicsAndWait } from '../support/kafka.js';
import { uniqueName } from '../support/names.js';

interface Line {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  schemaId: number | null;
  key: { id: string };
  value: { op: string; after: Record<string, unknown> | null };
}

const fx = new CdcFixture();
const pepper = randomBytes(32).toString('base64');
const env = { DSR_CDC_TEST_PEPPER: pepper };
const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-replay-'));
const configPath = join(dir, 'dsr-cdc.yaml');
const subjectEmail = `${uniqueName('ada')}@example.test`;
let table: string;
let topic: string;
let source: RunningSource;
let events: DecodedEvent[];
/** The whole topic as replay wrote it, the ground truth of the bounded ranges. */
let all: Line[];

const at = (line: Line) => `${line.partition}/${line.offset}`;
const lines = (text: string) =>
  text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

async function replay(args: string[]) {
  const out = join(dir, `${uniqueName('out')}.ndjson`);
  const result = await runCli(['replay', '--config', configPath, ...args, '--out', out], env);
  return { ...result, out, lines: existsSync(out) ? lines(readFileSync(out, 'utf8')) : [] };
}

beforeAll(async () => {
  const connections = loadConnections();
  writeFileSync(
    configPath,
    stringify({
      pipeline: { name: uniqueName('replay') },
      kafka: { brokers: connections.kafka.brokers, clientId: 'replay-test' },
      registry: { url: connections.registry.url },
      sources: {},
      dsr: { pepper: '${env:DSR_CDC_TEST_PEPPER}' },
      log: { level: 'warn' },
    }),
  );
  await fx.open();
  table = await fx.table('customers', 'id bigint PRIMARY KEY, email text, amount numeric(10,2)');
  topic = fx.topic(table);
  await fx.publish();
  source = fx.start({ snapshot: 'never' });
  await fx.waitStreaming(60_000);
  // several transactions, each caught up before the next, so the range has distinct timestamps
  for (let tx = 0; tx < 4; tx++) {
    const values = Array.from({ length: 6 }, (_, i) => {
      const id = tx * 6 + i + 1;
      return `(${id}, '${id === 3 ? subjectEmail : `user${id}@example.test`}', ${id}.25)`;
    });
    await fx.admin.query(`INSERT INTO public.${table} VALUES ${values.join(', ')}`);
    await fx.waitSlotCaughtUp();
  }
  // a second contract version mid-stream
  await fx.admin.query(`ALTER TABLE public.${table} ADD COLUMN note text`);
  await fx.admin.query(`UPDATE public.${table} SET note = 'v2', amount = -0.5 WHERE id IN (3, 4)`);
  await fx.admin.query(`INSERT INTO public.${table} VALUES (100, 'late@example.test', 1.00, 'new')`);
  await fx.waitSlotCaughtUp();
  await fx.admin.query(`DELETE FROM public.${table} WHERE id = 5`);
  await fx.waitSlotCaughtUp();
  await source.stop();
  events = await fx.readAllEvents(topic);
  expect(events).toHaveLength(24 + 2 + 1 + 1);

  const full = await replay(['--topic', topic, '--from', 'earliest']);
  expect(full.stderr).toContain(`replayed ${events.length} events of 1 topic(s)`);
  expect(full.code).toBe(0);
  all = full.lines;
}, 180_000);

afterAll(async () => {
  await source?.stop();
  await fx.close();
}, 120_000);

describe('replay', () => {
  it('decodes every event of a range spanning two contract versions, in partition order', () => {
    expect(all.map(at).sort()).toEqual(events.map((e) => `${e.partition}/${e.offset}`).sort());
    expect(new Set(all.map((l) => l.schemaId)).size).toBe(2);
    for (const line of all) {
      const event = events.find((e) => e.partition === line.partition && e.offset === line.offset);
      expect(line.topic).toBe(topic);
      expect(line.key).toEqual({ id: String(event?.key?.id) });
      expect(line.value.op).toBe(event?.value.op);
      expect(Date.parse(line.timestamp)).not.toBeNaN();
    }
    // per partition: offsets ascending, no gap
    for (const partition of new Set(all.map((l) => l.partition))) {
      const offsets = all.filter((l) => l.partition === partition).map((l) => Number(l.offset));
      expect(offsets).toEqual(offsets.map((_, i) => (offsets[0] ?? 0) + i));
    }
    const updated = all.find((l) => l.key.id === '3' && l.value.op === 'u');
    // decimals as exact text, bigints as decimal strings, the new column present
    expect(updated?.value.after).toMatchObject({ id: '3', amount: '-0.50', note: 'v2' });
    expect(all.find((l) => l.key.id === '7')?.value.after).toEqual({
      id: '7',
      email: 'user7@example.test',
      amount: '7.25',
    });
  });

  it('replays exactly the events between two times, both inclusive', async () => {
    const times = [...new Set(all.map((l) => Date.parse(l.timestamp)))].sort((a, b) => a - b);
    expect(times.length).toBeGreaterThanOrEqual(4);
    const [from, to] = [times[1] as number, times[times.length - 2] as number];
    const expected = all.filter((l) => Date.parse(l.timestamp) >= from && Date.parse(l.timestamp) <= to);
    const result = await replay([
      '--topic',
      topic,
      '--from',
      new Date(from).toISOString(),
      '--to',
      new Date(to).toISOString(),
    ]);
    expect(result.code).toBe(0);
    expect(result.lines.map(at).sort()).toEqual(expected.map(at).sort());
    expect(expected.length).toBeLessThan(all.length);
  });

  it('replays exactly an offset range, in every partition or in one', async () => {
    const result = await replay(['--topic', topic, '--from', '1', '--to', '2']);
    expect(result.code).toBe(0);
    const expected = all.filter((l) => ['1', '2'].includes(l.offset));
    expect(expected.length).toBeGreaterThan(0);
    expect(result.lines.map(at).sort()).toEqual(expected.map(at).sort());

    const partition = all.find((l) => l.offset === '2')?.partition as number;
    const one = await replay(['--topic', topic, '--from', `${partition}:1`, '--to', `${partition}:1`]);
    expect(one.lines.map(at)).toEqual([`${partition}/1`]);
  });

  it('writes CSV with a header, one row per event', async () => {
    const out = join(dir, 'range.csv');
    const result = await runCli(
      [
        'replay',
        '--config',
        configPath,
        '--topic',
        topic,
        '--from',
        'earliest',
        '--format',
        'csv',
        '--out',
        out,
      ],
      env,
    );
    expect(result.code).toBe(0);
    const rows = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(rows[0]).toBe('topic,partition,offset,timestamp,schema_id,op,key,value');
    expect(rows).toHaveLength(all.length + 1);
    const line = all.find((l) => l.key.id === '7') as Line;
    const row = rows.find((r) =>
      r.startsWith(
        `${topic},${line.partition},${line.offset},${line.timestamp},${line.schemaId},c,"{""id"":""7""}","{`,
      ),
    );
    expect(row).toContain('""after"":{""id"":""7"",""email"":""user7@example.test"",""amount"":""7.25""}');
  });

  it("keeps only one subject's rows, by --subject or --token", async () => {
    // the subject index, as discovery builds it from these very events
    const index = new SubjectIndex();
    const context = { pepper: Buffer.from(pepper, 'utf8'), classification: parseClassification(undefined) };
    const records = events.flatMap((e) => {
      const produced = discover(index, { key: e.key, envelope: e.value }, context);
      for (const record of produced) index.apply(record);
      return produced;
    });
    const indexTopic = piiDiscoveryTopics().index;
    const producer = createProducer(fx.kafka);
    const admin = fx.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [indexTopic]);
    await admin.disconnect();
    await producer.connect();
    await producer.send({
      topic: indexTopic.name,
      acks: -1,
      messages: records.map((r) => ({
        key: r.key,
        value: r.value === null ? null : JSON.stringify(r.value),
      })),
    });
    await producer.disconnect();

    const bySubject = await replay([
      '--topic',
      topic,
      '--from',
      'earliest',
      '--subject',
      `email:${subjectEmail}`,
    ]);
    expect(bySubject.stderr).not.toContain(subjectEmail);
    expect(bySubject.code).toBe(0);
    expect(bySubject.lines.map((l) => [l.key.id, l.value.op])).toEqual([
      ['3', 'c'],
      ['3', 'u'],
    ]);
    const token = subjectToken(Buffer.from(pepper, 'utf8'), 'email', subjectEmail.toLowerCase());
    const byToken = await replay(['--topic', topic, '--from', 'earliest', '--token', token]);
    expect(byToken.lines).toEqual(bySubject.lines);

    const unknown = await replay([
      '--topic',
      topic,
      '--from',
      'earliest',
      '--subject',
      'email:nobody@example.test',
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(
      '--subject: the subject index (dsr.subject-index) holds no location of this email',
    );
    expect(unknown.stderr).not.toContain('nobody');
  });

  it('refuses bad bounds and topics with a clear error', async () => {
    const cases: [string[], string][] = [
      [['--topic', `${topic}_nope`, '--from', 'earliest'], `--topic: topic ${topic}_nope does not exist`],
      [['--topic', 'cdc.no-such-source.*', '--from', 'earliest'], '--topic: no topic matches the pattern'],
      [
        ['--topic', topic, '--from', '2026-01-02T00:00:00Z', '--to', '2026-01-01T00:00:00Z'],
        '--to: 2026-01-01T00:00:00.000Z is before --from',
      ],
      [['--topic', topic, '--from', 'tomorrow'], '--from: expected an ISO-8601 time with a time zone'],
      [
        ['--topic', 'dsr.audit', '--from', 'earliest', '--token', 'a'.repeat(64)],
        "--token: keeps the change events of a subject's rows, which only cdc.* topics hold",
      ],
    ];
    for (const [args, message] of cases) {
      const result = await replay(args);
      expect(result.stderr).toContain(`error: ${message}`);
      expect(result.code).toBe(2);
      expect(existsSync(result.out)).toBe(false);
    }
  });

  it('says so when the start lies before the retention of the topic', async () => {
    const name = uniqueName('replay-retention');
    const admin = fx.kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [{ topic: name, numPartitions: 1 }]);
    const producer = createProducer(fx.kafka);
    await producer.connect();
    try {
      const before = new Date(Date.now() - 60_000).toISOString();
      for (let i = 0; i < 4; i++) {
        await producer.send({
          topic: name,
          acks: -1,
          messages: [{ key: `k${i}`, value: JSON.stringify({ i }) }],
        });
      }
      await admin.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '2' }] });

      const byTime = await replay(['--topic', name, '--from', before]);
      expect(byTime.code).toBe(2);
      expect(byTime.stderr).toContain(`--from: ${before} is before the retention of ${name} partition 0`);
      expect(byTime.stderr).toContain('earliest available event (offset 2)');
      expect(existsSync(byTime.out)).toBe(false);

      // the whole window before the retained events: the range left is empty, still an error
      const to = new Date(Date.parse(before) + 1_000).toISOString();
      const window = await replay(['--topic', name, '--from', before, '--to', to]);
      expect(window.stderr).toContain(`--from: ${before} is before the retention of ${name} partition 0`);
      expect(window.stderr).toContain('earliest available event (offset 2)');
      expect(window.code).toBe(2);
      expect(existsSync(window.out)).toBe(false);

      const byOffset = await replay(['--topic', name, '--from', '0']);
      expect(byOffset.stderr).toContain('its earliest available offset is 2');
      expect(byOffset.code).toBe(2);

      const rest = await replay(['--topic', name, '--from', 'earliest']);
      expect(rest.lines.map((l) => l.value)).toEqual([{ i: 2 }, { i: 3 }]);

      // retention emptied the partition: nothing is left to show the deleted events were earlier
      await admin.deleteTopicRecords({ topic: name, partitions: [{ partition: 0, offset: '4' }] });
      const emptied = await replay(['--topic', name, '--from', before, '--to', to]);
      expect(emptied.stderr).toContain(
        `--from: ${before} may be before the retention of ${name} partition 0: retention deleted its ` +
          'events before offset 4, and none is left',
      );
      expect(emptied.code).toBe(2);
    } finally {
      await producer.disconnect();
      await admin.deleteTopics({ topics: [name] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  // last: it adds an event to the topic
  it('fails on a corrupt event naming its offset, and skips it only with --skip-corrupt', async () => {
    const partition = all[0]?.partition as number;
    const producer = fx.kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic,
      acks: -1,
      messages: [{ partition, key: null, value: Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 1, 2, 3]) }],
    });
    await producer.disconnect();
    const offset = sent?.baseOffset;

    const failed = await replay(['--topic', topic, '--from', 'earliest']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(
      `error: corrupt event at ${topic} partition ${partition} offset ${offset}`,
    );
    expect(failed.stderr).toContain('--skip-corrupt');
    expect(existsSync(failed.out)).toBe(false);

    const skipped = await replay(['--topic', topic, '--from', 'earliest', '--skip-corrupt']);
    expect(skipped.code).toBe(0);
    expect(skipped.stderr).toContain(
      `skipped corrupt event at ${topic} partition ${partition} offset ${offset}`,
    );
    expect(skipped.stderr).toContain(`${all.length} written, 1 corrupt skipped`);
    expect(skipped.lines.map(at).sort()).toEqual(all.map(at).sort());
  });
});

describe('readRange', () => {
  /**
   * fx.kafka, recording the partition of every batch its consumers fetch and every crash; with
   * `crashOnce`, the first batch, once handed on, crashes the consumer with an error kafkajs
   * restarts it after (as it does for a topic-partition that went away).
   */
  function spyKafka(crashOnce: boolean) {
    const batches: number[] = [];
    const restarts: boolean[] = [];
    let crashed = !crashOnce;
    const kafka = Object.create(fx.kafka) as Kafka;
    kafka.consumer = (config) => {
      const consumer = fx.kafka.consumer(config);
      consumer.on(consumer.events.CRASH, ({ payload }) => restarts.push(payload.restart));
      const run = consumer.run.bind(consumer);
      consumer.run = (options) =>
        run({
          ...options,
          eachBatch: async (payload) => {
            batches.push(payload.batch.partition);
            await options?.eachBatch?.(payload);
            if (crashed) return;
            crashed = true;
            const cause = Object.assign(new Error('test: partition gone'), {
              retriable: true,
              type: 'UNKNOWN_TOPIC_OR_PARTITION',
            });
            throw Object.assign(new Error('test: crash', { cause }), { retriable: false });
          },
        });
      return consumer;
    };
    return { kafka, batches, restarts };
  }

  /** A topic of `partitions` partitions, `count` events in each, one produce request (batch) per event. */
  async function topicWith(partitions: number, count: number): Promise<string> {
    const name = uniqueName('read-range');
    fx.extraTopics.push(name);
    const admin = fx.kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [{ topic: name, numPartitions: partitions }]);
    await admin.disconnect();
    const producer = createProducer(fx.kafka);
    await producer.connect();
    for (let i = 0; i < count; i++) {
      for (let partition = 0; partition < partitions; partition++) {
        await producer.send({ topic: name, acks: -1, messages: [{ partition, value: `${partition}/${i}` }] });
      }
    }
    await producer.disconnect();
    return name;
  }

  it('never fetches the partitions that have no range', async () => {
    const name = await topicWith(3, 5);
    const spy = spyKafka(false);
    const read: string[] = [];
    await readRange(
      spy.kafka,
      [{ topic: name, partitions: [{ partition: 1, start: 1n, end: 4n }] }],
      (_t, p, m) => {
        read.push(...m.map((message) => `${p}@${message.offset}`));
      },
    );
    expect(read).toEqual(['1@1', '1@2', '1@3']);
    expect(new Set(spy.batches)).toEqual(new Set([1]));
  });

  it('hands on no message twice when kafkajs restarts its crashed consumer', async () => {
    const name = await topicWith(1, 40);
    const spy = spyKafka(true);
    const read: string[] = [];
    await readRange(
      spy.kafka,
      [{ topic: name, partitions: [{ partition: 0, start: 5n, end: 40n }] }],
      (_t, _p, messages) => {
        read.push(...messages.map((m) => m.offset));
      },
      { maxBytesPerPartition: 256 },
    );
    expect(spy.restarts).toEqual([true]);
    expect(read).toEqual(Array.from({ length: 35 }, (_, i) => String(i + 5)));
  }, 60_000);
});
