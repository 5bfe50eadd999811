/**
 * Source table → Kafka → type coercion → loader → Snowflake (the emulator), on the real stack:
 * after inserts, updates, deletes, a truncate and later writes, the warehouse table equals the
 * source table row by row; replays change nothing; an added column flows through; a dropped
 * column stops only its table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '../../src/observability/metrics.js';
import { CdcFixture, type RunningSource } from '../support/cdc.js';
import { waitFor } from '../support/source-process.js';
import { WarehouseFixture } from '../support/warehouse.js';

type Row = Record<string, unknown>;

/** The comparable form of a source row: every column as text Postgres and Snowflake agree on. */
const SOURCE_SELECT = `SELECT id::text AS id, email, amount::text AS amount, ratio::text AS ratio, active,
  to_char(born, 'YYYY-MM-DD') AS born,
  (extract(epoch FROM seen) * 1000)::bigint::text AS seen_ms,
  doc::text AS doc, tags, encode(payload, 'hex') AS payload`;

const WAREHOUSE_SELECT = `SELECT "ID", "EMAIL", "AMOUNT", "RATIO", "ACTIVE", "BORN", "SEEN", "DOC", "TAGS", "PAYLOAD"`;

function normalizeSource(r: Row): Row {
  return {
    id: r.id,
    email: r.email,
    amount: r.amount === null ? null : Number(r.amount).toFixed(2),
    ratio: r.ratio === null ? null : Number(r.ratio),
    active: r.active,
    born: r.born,
    seen: r.seen_ms === null ? null : Number(r.seen_ms),
    doc: r.doc === null ? null : JSON.parse(r.doc as string),
    tags: r.tags,
    payload: r.payload === null ? null : (r.payload as string).toUpperCase(),
  };
}

function normalizeWarehouse(r: Row): Row {
  const variant = (v: unknown) =>
    v === null || v === undefined ? null : typeof v === 'string' ? JSON.parse(v) : v;
  return {
    id: String(r.ID),
    email: r.EMAIL,
    amount: r.AMOUNT === null ? null : Number(r.AMOUNT).toFixed(2),
    ratio: r.RATIO === null ? null : Number(r.RATIO),
    active: r.ACTIVE,
    born: r.BORN === null ? null : (r.BORN as Date).toISOString().slice(0, 10),
    seen: r.SEEN === null ? null : (r.SEEN as Date).getTime(),
    doc: variant(r.DOC),
    tags: variant(r.TAGS),
    payload:
      r.PAYLOAD === null
        ? null
        : Buffer.from(r.PAYLOAD as Buffer)
            .toString('hex')
            .toUpperCase(),
  };
}

describe('warehouse: coercion and the Snowflake loader', () => {
  const fx = new CdcFixture();
  const wh = new WarehouseFixture(fx);
  let table = '';
  let other = '';
  let source: RunningSource;

  const sourceRows = async (name = table) =>
    (await fx.admin.query(`${SOURCE_SELECT} FROM public.${name} AS t ORDER BY t.id`)).rows.map(
      normalizeSource,
    );
  const warehouseRows = async (name = table, target = wh) =>
    (await target.reader.execute(`${WAREHOUSE_SELECT} FROM ${target.table(name)} ORDER BY "ID"`)).map(
      normalizeWarehouse,
    );

  async function waitEqual(name = table, timeoutMs = 90_000, target = wh): Promise<void> {
    let last: unknown;
    await waitFor(
      async () => {
        expect(target.fatal).toEqual([]);
        const [want, got] = await Promise.all([
          sourceRows(name),
          warehouseRows(name, target).catch(() => []),
        ]);
        last = { want: want.length, got: got.length };
        return JSON.stringify(want) === JSON.stringify(got);
      },
      timeoutMs,
      `the warehouse table never equalled the source: ${JSON.stringify(last)}`,
    ).catch(async (error) => {
      expect(await warehouseRows(name, target)).toEqual(await sourceRows(name));
      throw error;
    });
  }

  beforeAll(async () => {
    await fx.open();
    const columns = `id bigint PRIMARY KEY, email text, amount numeric(12,2), ratio float8, active bool, born date,
      seen timestamptz, doc jsonb, tags text[], payload bytea`;
    table = await fx.table('customers', columns);
    await fx.admin.query(
      `INSERT INTO public.${table} SELECT g, 'user' || g || '@example.test', g * 1.25, g / 3.0, g % 2 = 0,
         date '1990-01-01' + g, timestamptz '2024-03-01 12:00:00.123+02' + g * interval '1 minute',
         jsonb_build_object('n', g, 'tags', jsonb_build_array('a', g)), ARRAY['x' || g, 'y,"z"'], '\\xdeadbeef'::bytea
       FROM generate_series(1, 300) g`,
    );
    other = await fx.table('orders', 'id bigint PRIMARY KEY, note text, gone text');
    await fx.admin.query(
      `INSERT INTO public.${other} SELECT g, 'note ' || g, 'soon dropped' FROM generate_series(1, 20) g`,
    );
    await fx.publish();
    source = fx.start();
    await wh.open();
    await wh.startCoercion();
    await wh.startLoader();
  });

  afterAll(async () => {
    await source?.stop().catch(() => undefined);
    await wh.close();
    await fx.close();
  });

  it('loads the snapshot exactly', async () => {
    await waitEqual();
    expect((await warehouseRows()).length).toBe(300);
    // type coercion counts what it read and wrote, and times its batches, as every stage does
    const value = async (metric: 'eventsIn' | 'eventsOut', labels: Record<string, string>) =>
      (await metrics[metric].get()).values
        .filter((v) =>
          Object.entries(labels).every(([k, l]) => (v.labels as Record<string, unknown>)[k] === l),
        )
        .reduce((sum, v) => sum + v.value, 0);
    const cdc = fx.topic(table);
    const warehouse = `warehouse.${fx.source}.public.${table}`;
    expect(await value('eventsIn', { stage: 'type-coercion', topic: cdc })).toBeGreaterThanOrEqual(300);
    expect(await value('eventsOut', { topic: warehouse })).toBeGreaterThanOrEqual(300);
    const batches = (await metrics.batchSeconds.get()).values.find(
      (v) => v.labels.stage === 'type-coercion' && v.metricName === 'dsr_cdc_batch_duration_seconds_count',
    );
    expect(batches?.value).toBeGreaterThan(0);
  }, 120_000);

  it('applies inserts, updates, deletes, a truncate and later writes', async () => {
    await fx.admin.query(
      `UPDATE public.${table} SET email = 'changed' || id || '@example.test', amount = amount + 0.01 WHERE id % 3 = 0`,
    );
    await fx.admin.query(`DELETE FROM public.${table} WHERE id % 5 = 0`);
    await fx.admin.query(`UPDATE public.${table} SET id = id + 1000 WHERE id = 7`); // a key change: delete + insert
    await fx.admin.query(`INSERT INTO public.${table} (id, email, amount) VALUES (5000, NULL, NULL)`);
    await waitEqual();
    await fx.admin.query(`TRUNCATE public.${table}`);
    await fx.admin.query(
      `INSERT INTO public.${table} (id, email, amount, active, doc) SELECT g, 'after' || g, 0.5, true, '[]'::jsonb FROM generate_series(1, 40) g`,
    );
    await waitEqual();
    expect((await warehouseRows()).length).toBe(40);
  }, 180_000);

  it('replays the warehouse topics from the start into a fresh schema: the same table', async () => {
    const replay = new WarehouseFixture(fx);
    await replay.open();
    try {
      await replay.startLoader();
      await waitEqual(table, 90_000, replay);
    } finally {
      await replay.close();
    }
  }, 150_000);

  it('replays them into the same tables: nothing changes, nothing is applied twice', async () => {
    const loadedAt = `SELECT COUNT(*) AS "N", MAX("_DSR_LOADED_AT") AS "AT" FROM ${wh.table(table)}`;
    const [before] = await wh.reader.execute<{ N: string; AT: Date }>(loadedAt);
    const again = new WarehouseFixture(fx, {}, wh.schema);
    await again.open();
    const admin = fx.kafka.admin();
    await admin.connect();
    try {
      await again.startLoader('again');
      const topic = `warehouse.${fx.source}.public.${table}`;
      const end = await admin.fetchTopicOffsets(topic);
      // the new group has read everything once its committed offsets reach the end of every partition
      let seen = '';
      await waitFor(
        async () => {
          const [group] = await admin.fetchOffsets({ groupId: `${again.run}.again`, topics: [topic] });
          seen = JSON.stringify({ end: end.map((p) => [p.partition, p.offset]), group: group?.partitions });
          return end.every(
            (p) => group?.partitions.find((g) => g.partition === p.partition)?.offset === p.offset,
          );
        },
        60_000,
        'the replaying group never reached the end of the topic',
      ).catch((error: Error) => {
        throw new Error(`${error.message}: ${seen}`);
      });
      expect(again.fatal).toEqual([]);
      // the apply is idempotent by source position, so equal rows alone would not show a second
      // apply: the replaying loader must have skipped everything by the offsets Snowflake holds
      expect(again.loader?.appliedChanges()).toBe(0);
      const [after] = await wh.reader.execute<{ N: string; AT: Date }>(loadedAt);
      expect(after).toEqual(before);
      await waitEqual();
    } finally {
      await admin.disconnect();
      await again.close();
    }
  }, 150_000);

  it('adds a column added at the source and loads it', async () => {
    await fx.admin.query(`ALTER TABLE public.${table} ADD COLUMN nickname text`);
    await fx.admin.query(`UPDATE public.${table} SET nickname = 'nick' || id WHERE id <= 10`);
    await waitFor(
      async () => {
        const rows = await wh.reader
          .execute<{ N: string }>(
            `SELECT COUNT(*) AS "N" FROM ${wh.table(table)} WHERE "NICKNAME" LIKE 'nick%'`,
          )
          .catch(() => [{ N: '0' }]);
        return Number(rows[0]?.N) === 10;
      },
      60_000,
      'the added column never arrived',
    );
    expect(wh.fatal).toEqual([]);
    await waitEqual();
  }, 150_000);

  it('widens a NUMBER column whose precision grew at the source', async () => {
    await fx.admin.query(`ALTER TABLE public.${table} ALTER COLUMN amount TYPE numeric(16,2)`);
    await fx.admin.query(`UPDATE public.${table} SET amount = 12345678901234.56 WHERE id = 2`);
    await waitEqual();
    const [amount] = await wh.reader.execute<{ P: string }>(
      `SELECT "NUMERIC_PRECISION" AS "P" FROM "${wh.settings.database}"."INFORMATION_SCHEMA"."COLUMNS"
        WHERE "TABLE_SCHEMA" = ? AND "TABLE_NAME" = ? AND "COLUMN_NAME" = 'AMOUNT'`,
      [wh.schema, wh.table(table).split('.').at(-1)?.replaceAll('"', '') ?? ''],
    );
    expect(Number(amount?.P)).toBe(16);
  }, 150_000);

  it('stops only the table whose column was dropped, with the reason', async () => {
    const ordersLoaded = async () =>
      Number(
        (
          await wh.reader
            .execute<{ N: string }>(`SELECT COUNT(*) AS "N" FROM ${wh.table(other)}`)
            .catch(() => [{ N: '0' }])
        )[0]?.N,
      );
    await waitFor(async () => (await ordersLoaded()) === 20, 60_000, 'orders never loaded');
    await fx.admin.query(`ALTER TABLE public.${other} DROP COLUMN gone`);
    await fx.admin.query(`INSERT INTO public.${other} VALUES (21, 'after the drop')`);
    await waitFor(
      async () => Object.keys(wh.loader?.stoppedTables() ?? {}).length === 1,
      60_000,
      'the loader never stopped the drifted table',
    );
    const [reason] = Object.values(wh.loader?.stoppedTables() ?? {});
    expect(reason).toMatch(/GONE is no longer in the source contract/);
    expect(await wh.reader.execute(`SELECT "ID" FROM ${wh.table(other)} WHERE "ID" = 21`)).toEqual([]);
    // the other table keeps loading
    await fx.admin.query(`UPDATE public.${table} SET email = 'still loading' WHERE id = 1`);
    await waitEqual();
  }, 150_000);
});
