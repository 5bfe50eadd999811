/**
 * The Postgres poller against the real stack: keyset pages through equal-timestamp bursts larger
 * than a page, the late-commit race (a transaction with an earlier timestamp commits after a later
 * one) with zero missed rows, resume from the stored watermark, deletes, incrementing mode, and
 * the errors a bad config gets.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CdcFixture } from '../support/cdc.js';
import { runCli } from '../support/cli.js';
import { pollerComponent, pollerEnv, postgresPollerLines, writePollerConfig } from '../support/poller.js';
import { clientConfig } from '../support/postgres.js';

const idOf = (key: Record<string, unknown> | null) => String(key?.id);

describe('Postgres poller', () => {
  let fx: CdcFixture;
  let dir: string;

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-pg-poller-'));
  });

  afterEach(async () => {
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function timestampTable(prefix: string): Promise<string> {
    const table = await fx.table(
      prefix,
      'id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), v int NOT NULL DEFAULT 0, deleted_at timestamptz',
    );
    await fx.admin.query(`CREATE INDEX ON ${table} (updated_at, id)`);
    return table;
  }

  it('pages through an equal-timestamp burst larger than a page, then only what changed, and resumes after a restart', async () => {
    const table = await timestampTable('burst');
    // one statement: 2 500 rows share one now()
    await fx.admin.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, 2500) g`);
    const path = writePollerConfig(dir, fx.source, [
      ...postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
      'pageRows: 700',
      // rows are written before each sync here, not while it runs
      'safetyLagMs: 0',
    ]);
    const poller = pollerComponent(path, fx.source);
    const first = await poller.sync();
    expect(first).toMatchObject({ status: 'succeeded', rows: 2500 });

    await fx.admin.query(`UPDATE ${table} SET v = 1, updated_at = now() WHERE id <= 10`);
    await fx.admin.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series(2501, 2505) g`);
    const second = await poller.sync();
    expect(second).toMatchObject({ status: 'succeeded', rows: 15 });
    // status: each table's durable cursor (never the key: a row value) and the runs, newest first
    const status = poller.status() as {
      positions: { cursors: Record<string, string> };
      runs: { rows: number }[];
    };
    expect(Object.keys(status.positions.cursors)).toEqual([`public.${table}`]);
    expect(status.positions.cursors[`public.${table}`]).toMatch(/^\d{4}-\d{2}-\d{2} [\d:.]+\+00$/);
    expect(status.runs.map((r) => r.rows)).toEqual([15, 2500]);
    await poller.close();

    // a new process resumes from the stored watermark: nothing is read twice
    const restarted = pollerComponent(path, fx.source);
    expect(await restarted.sync()).toMatchObject({ status: 'succeeded', rows: 0 });
    await fx.admin.query(`UPDATE ${table} SET v = 2, updated_at = now() WHERE id = 2505`);
    expect(await restarted.sync()).toMatchObject({ status: 'succeeded', rows: 1 });
    await restarted.close();

    const events = await fx.readAllEvents(fx.topic(table));
    expect(events).toHaveLength(2516);
    expect(new Set(events.map((e) => idOf(e.key))).size).toBe(2505);
    const event = events.find((e) => idOf(e.key) === '2505' && (e.value.after as { v: number }).v === 2);
    expect(event?.value.op).toBe('u');
    expect(event?.value.source).toMatchObject({
      connector: 'poller',
      name: fx.source,
      schema: 'public',
      table,
    });
    // seq is the cursor in µs since the epoch, commitTs the same instant
    expect(event?.value.source.seq).toBe(event?.value.source.commitTs);
    expect(event?.value.after).toMatchObject({ id: 2505n, v: 2 });
  });

  it('never publishes past an open transaction: the late commit with the earlier timestamp is not skipped', async () => {
    const table = await timestampTable('late');
    const path = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
    );
    const poller = pollerComponent(path, fx.source);
    const early = new pg.Client(clientConfig('admin'));
    await early.connect();
    try {
      for (let round = 0; round < 5; round++) {
        // the early transaction takes its timestamp first and commits last
        await early.query('BEGIN');
        await early.query(`INSERT INTO ${table} (id) VALUES ($1)`, [round * 2 + 1]);
        await fx.admin.query(`INSERT INTO ${table} (id) VALUES ($1)`, [round * 2 + 2]);
        // older than the safety lag (200 ms): only the transaction horizon holds them back now
        await new Promise((r) => setTimeout(r, 500));
        const whileOpen = await poller.sync();
        // the later row waits too: publishing it would move the watermark past the open one
        expect(whileOpen).toMatchObject({ status: 'succeeded', rows: 0 });
        await early.query('COMMIT');
        expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 2 });
      }
    } finally {
      await early.end();
      await poller.close();
    }
    const events = await fx.readAllEvents(fx.topic(table));
    expect(events.map((e) => idOf(e.key)).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 10 }, (_, i) => String(i + 1)),
    );
  });

  it('loses no row of many concurrent writers whose transactions commit out of timestamp order', async () => {
    const table = await timestampTable('race');
    const path = writePollerConfig(dir, fx.source, [
      ...postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
      'pageRows: 50',
    ]);
    const poller = pollerComponent(path, fx.source);
    let next = 0;
    let writing = true;
    const committed: number[] = [];
    const writer = async () => {
      const client = new pg.Client(clientConfig('admin'));
      await client.connect();
      try {
        while (writing) {
          const id = ++next;
          await client.query('BEGIN');
          await client.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id]);
          // random hold, often longer than the safety lag: later timestamps often commit first
          await new Promise((r) => setTimeout(r, Math.random() * 400));
          await client.query('COMMIT');
          committed.push(id);
        }
      } finally {
        await client.end();
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    const deadline = Date.now() + 8_000;
    let polls = 0;
    while (Date.now() < deadline) {
      expect((await poller.sync()).status).toBe('succeeded');
      polls += 1;
    }
    writing = false;
    await Promise.all(writers);
    // the last commits are younger than the safety lag (default 200 ms) until then
    await new Promise((r) => setTimeout(r, 500));
    await poller.sync();
    await poller.close();
    expect(polls).toBeGreaterThan(10);
    expect(committed.length).toBeGreaterThan(100);
    const events = await fx.readAllEvents(fx.topic(table));
    const seen = new Set(events.map((e) => idOf(e.key)));
    expect(committed.filter((id) => !seen.has(String(id)))).toEqual([]);
  });

  it('emits op d for soft-deleted rows and for keys gone from the table; op c in incrementing mode', async () => {
    const table = await timestampTable('del');
    const log = await fx.table('log', 'id bigserial PRIMARY KEY, message text');
    await fx.admin.query(`INSERT INTO ${table} (id) SELECT g FROM generate_series(1, 5) g`);
    await fx.admin.query(`INSERT INTO ${log} (message) SELECT 'm' || g FROM generate_series(1, 3) g`);
    const path = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines(
        [
          `{ table: public.${table}, cursor: updated_at, deletes: { softDeleteColumn: deleted_at, compareKeysEvery: 1 } }`,
          `{ table: public.${log}, mode: incrementing }`,
        ],
        ['safetyLagMs: 0'],
      ),
    );
    const poller = pollerComponent(path, fx.source);
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 8 });
    await fx.admin.query(`UPDATE ${table} SET deleted_at = now(), updated_at = now() WHERE id = 2`);
    await fx.admin.query(`DELETE FROM ${table} WHERE id = 4`);
    await fx.admin.query(`INSERT INTO ${log} (message) VALUES ('m4')`);
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 3 });
    await poller.close();

    const events = await fx.readAllEvents(fx.topic(table));
    const deletes = events.filter((e) => e.value.op === 'd').map((e) => idOf(e.key));
    expect(deletes.sort()).toEqual(['2', '4']);
    const hardDelete = events.find((e) => e.value.op === 'd' && idOf(e.key) === '4');
    expect(hardDelete?.value.after).toBeNull();
    expect(hardDelete?.value.before).toMatchObject({ id: 4n, v: null });
    const appended = await fx.readAllEvents(fx.topic(log));
    expect(appended.map((e) => e.value.op)).toEqual(['c', 'c', 'c', 'c']);
    expect(appended.map((e) => e.value.source.seq).sort()).toEqual([1n, 2n, 3n, 4n]);
  });

  it('names a missing table or column, refuses an integer cursor in timestamp mode, and warns about a cursor without an index', async () => {
    const table = await fx.table(
      'bad',
      'id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now()',
    );
    const missingTable = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines(['{ table: public.no_such_table, cursor: updated_at }']),
    );
    const failed = await pollerComponent(missingTable, fx.source).sync();
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain('table public.no_such_table does not exist');
    expect(failed.error).toContain(`sources.${fx.source}.tables[public.no_such_table].table`);

    const missingColumn = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines([`{ table: public.${table}, cursor: changed_at }`]),
    );
    const noColumn = await pollerComponent(missingColumn, fx.source).sync();
    expect(noColumn.error).toContain(`cursor column "changed_at" does not exist in public.${table}`);

    // timestamp mode bounds cursors by now() − lag: an integer cursor cannot be compared with it
    const integerCursor = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines([`{ table: public.${table}, cursor: id }`]),
    );
    const refused = await pollerComponent(integerCursor, fx.source).sync();
    expect(refused.status).toBe('failed');
    expect(refused.error).toContain(`cursor column "id" of public.${table} is int8, an integer`);
    expect(refused.error).toContain(
      `use mode: incrementing (sources.${fx.source}.tables[public.${table}].mode)`,
    );

    const unindexed = writePollerConfig(
      dir,
      fx.source,
      postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
    );
    const report = await pollerComponent(unindexed, fx.source).test();
    expect(report.ok).toBe(true);
    expect(report.checks.find((c) => c.name === `table public.${table}`)?.detail).toContain(
      `cursor column "updated_at" of public.${table} leads no index`,
    );
  });

  it('runs through the CLI: poller test, poller sync, and a clear error for the wrong kind of source', async () => {
    const table = await timestampTable('cli');
    await fx.admin.query(`INSERT INTO ${table} (id) VALUES (1), (2)`);
    const path = writePollerConfig(dir, fx.source, [
      ...postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
      'safetyLagMs: 0',
    ]);
    const env = pollerEnv();
    const tested = await runCli(['poller', 'test', fx.source, '--config', path], env);
    expect(tested.stdout).toContain('ok   connect');
    expect(tested.stdout).toContain(`ok   table public.${table}`);
    expect(tested.code).toBe(0);
    const synced = await runCli(['poller', 'sync', fx.source, '--config', path], env);
    expect(synced.code).toBe(0);
    expect(JSON.parse(synced.stdout)).toMatchObject({ status: 'succeeded', rows: 2 });
    const wrong = await runCli(['source', 'run', fx.source, '--config', path], env);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`source '${fx.source}' is a postgres-poller, not a replication source`);
    const missing = await runCli(['poller', 'sync', 'nope', '--config', path], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`no source 'nope' in the config; configured pollers: ${fx.source}`);
  });
});
