/**
 * Replaying `cdc.*` from the start into a fresh warehouse schema through the loader reproduces the
 * live tables exactly (issue 7). The real source streams a table's snapshot, inserts, updates,
 * deletes and a key change into its cdc topic; the live type coercion and loader load it into one
 * schema. Then a fresh type-coercion group reads the cdc topic from its earliest offset into
 * warehouse topics of its own (the `warehouse` topic family under another prefix, so that nothing
 * is written twice into the live topics), and a fresh loader loads those into a second schema: the
 * two tables are equal row by row, in every column but the load time.
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import { TypeCoercion } from '../../src/consumers/type-coercion/coercion.js';
import { contractById } from '../../src/events/registry.js';
import { createProducer } from '../../src/kafka/client.js';
import { loadTopicFamilies, type TopicFamilies } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/observability/logger.js';
import { CdcFixture, type RunningSource, registryClient } from '../support/cdc.js';
import { waitFor } from '../support/source-process.js';
import { WarehouseFixture } from '../support/warehouse.js';

type Row = Record<string, unknown>;

/** Set by the loader when it writes a row: the one column a replay may change. */
const LOAD_TIME = '_DSR_LOADED_AT';

const fx = new CdcFixture();
const live = new WarehouseFixture(fx);
/** The replay's warehouse topics: `<prefix>.<source>.<schema>.<table>`, loaded into the same table names. */
const prefix = `replay_${randomBytes(4).toString('hex')}`;
const replayed = new WarehouseFixture(fx, { topics: new RegExp(`^${prefix}\\.`) });
let table = '';
let source: RunningSource;
let admin: Admin;

/** Whether `groupId` has committed the end of every partition of `topic`. */
async function caughtUp(groupId: string, topic: string): Promise<boolean> {
  const [ends, [committed]] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  return ends.every(
    (end) =>
      end.high === end.low ||
      committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.high,
  );
}

async function waitCaughtUp(groupId: string, topic: string, what: string): Promise<void> {
  await waitFor(() => caughtUp(groupId, topic), 120_000, `${what} never reached the end of ${topic}`);
}

/**
 * The table of `target`, in key order, without the load time. Each row as its JSON text: the
 * driver's Dates and Buffers carry closures of their own, which deep equality would compare.
 */
async function rows(target: WarehouseFixture): Promise<Row[]> {
  const all = await target.reader.execute<Row>(`SELECT * FROM ${target.table(table)} ORDER BY "ID"`);
  return all.map(({ [LOAD_TIME]: _loadedAt, ...row }) => JSON.parse(JSON.stringify(row)) as Row);
}

/** The type-coercion group of the replay: fresh, from the earliest offset, into the prefixed topics. */
function replayCoercion(producer: Producer): TypeCoercion {
  const families: TopicFamilies = loadTopicFamilies();
  const warehouse = families.warehouse as NonNullable<TopicFamilies['warehouse']>;
  return new TypeCoercion(
    fx.kafka,
    registryClient(),
    producer,
    contractById({ url: loadConnections().registry.url }),
    { ...families, warehouse: { ...warehouse, name: warehouse.name.replace(/^warehouse\./, `${prefix}.`) } },
    {
      groupId: `${replayed.run}.coercion`,
      dlqTopic: `dlq.${replayed.run}.coercion`,
      topics: new RegExp(`^cdc\\.${fx.source}\\.`),
      topicRefreshMs: 1_000,
      onOutOfRange: 'null',
      settingsFor: () => ({ unconstrainedNumericScale: 9, columns: {} }),
    },
    createLogger({ level: 'warn', component: 'test-replay-coercion' }),
  );
}

describe('replay of cdc.* into a fresh warehouse schema', () => {
  beforeAll(async () => {
    await fx.open();
    table = await fx.table(
      'customers',
      `id bigint PRIMARY KEY, email text, amount numeric(12,2), ratio float8, active bool, born date,
       seen timestamptz, doc jsonb, tags text[], payload bytea`,
    );
    await fx.admin.query(
      `INSERT INTO public.${table} SELECT g, 'user' || g || '@example.test', g * 1.25, g / 3.0, g % 2 = 0,
         date '1990-01-01' + g, timestamptz '2024-03-01 12:00:00.123+02' + g * interval '1 minute',
         jsonb_build_object('n', g), ARRAY['x' || g, 'y,"z"'], '\\xdeadbeef'::bytea
       FROM generate_series(1, 60) g`,
    );
    await fx.publish();
    fx.extraTopics.push(
      `warehouse.${fx.source}.public.${table}`,
      `${prefix}.${fx.source}.public.${table}`,
      ...[live, replayed].flatMap((w) => [`dlq.${w.run}.coercion`, `dlq.${w.run}.loader`]),
    );
    admin = fx.kafka.admin();
    await admin.connect();
    source = fx.start();
    await live.open();
    await live.startCoercion();
    await live.startLoader();
    await fx.waitStreaming(60_000);
  }, 120_000);

  afterAll(async () => {
    await source?.stop().catch(() => undefined);
    await replayed.close();
    await live.close();
    await admin?.disconnect();
    await fx.close();
  }, 120_000);

  it('loads the same table as the live pipeline, row by row', async () => {
    // history the final state depends on: updates, deletes, a key change, later inserts
    await fx.admin.query(
      `UPDATE public.${table} SET email = 'changed' || id || '@example.test', amount = amount + 0.01 WHERE id % 3 = 0`,
    );
    await fx.admin.query(`DELETE FROM public.${table} WHERE id % 5 = 0`);
    await fx.admin.query(`UPDATE public.${table} SET id = id + 1000 WHERE id = 7`);
    await fx.admin.query(`INSERT INTO public.${table} (id, email, amount) VALUES (5000, NULL, NULL)`);
    await fx.admin.query(`UPDATE public.${table} SET doc = '{"again": true}', active = NULL WHERE id = 6`);
    await fx.waitSlotCaughtUp();
    await source.stop();

    const cdcTopic = fx.topic(table);
    const liveTopic = `warehouse.${fx.source}.public.${table}`;
    await waitCaughtUp(`${live.run}.coercion`, cdcTopic, 'the live coercion');
    await waitCaughtUp(`${live.run}.loader`, liveTopic, 'the live loader');
    expect(live.fatal).toEqual([]);
    const liveEnds = await admin.fetchTopicOffsets(liveTopic);
    const want = await rows(live);
    const { rows: sourceRows } = await fx.admin.query(
      `SELECT id::text FROM public.${table} AS t ORDER BY t.id`,
    );
    expect(want.map((r) => String(r.ID))).toEqual(sourceRows.map((r) => r.id));
    expect(want.find((r) => String(r.ID) === '3')?.EMAIL).toBe('changed3@example.test');

    await replayed.open();
    const producer = createProducer(fx.kafka);
    await producer.connect();
    const coercion = replayCoercion(producer);
    coercion.onFatal = (error) => replayed.fatal.push(error);
    try {
      await coercion.start();
      await replayed.startLoader();
      const replayTopic = `${prefix}.${fx.source}.public.${table}`;
      await waitCaughtUp(`${replayed.run}.coercion`, cdcTopic, 'the replay coercion');
      await waitCaughtUp(`${replayed.run}.loader`, replayTopic, 'the replay loader');
      expect(replayed.fatal).toEqual([]);
      expect(await rows(replayed)).toEqual(want);
      // the replay wrote nothing into the live topics
      expect(await admin.fetchTopicOffsets(liveTopic)).toEqual(liveEnds);
    } finally {
      await coercion.stop();
      await producer.disconnect();
    }
  }, 360_000);
});
