import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { SourceStateStore } from '../../src/kafka/source-state.js';
import type { PollerState } from '../../src/sources/poller/publisher.js';
import { comparePositions, type Watermark } from '../../src/sources/poller/watermark.js';
import { postgresPollerLines, spawnPoller, writePollerConfig } from '../support/poller.js';
import { clientConfig } from '../support/postgres.js';
import { useProcessFixture, waitFor } from '../support/source-process.js';

const KILLS = 4;
const KEYS = 400;
const PRELOADED = 20_000;
const PAGE_ROWS = 1_000;

describe('Postgres poller under kill -9', () => {
  const run = useProcessFixture('poller-crash');

  const start = (path: string) => run.track(spawnPoller(run.fx.source, path));

  it('publishes the latest version of every row across 4 SIGKILLs', async () => {
    const { fx, dir } = run;
    const table = await fx.table(
      'crash',
      'id bigint PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now(), v bigint NOT NULL, pad text',
    );
    await fx.admin.query(`CREATE INDEX ON ${table} (updated_at, id)`);
    await fx.admin.query(
      `INSERT INTO ${table} SELECT g, now(), 1, repeat('x', 50) FROM generate_series(1, ${PRELOADED}) g`,
    );
    const path = writePollerConfig(dir, fx.source, [
      ...postgresPollerLines([`{ table: public.${table}, cursor: updated_at }`]),
      "schedule: '* * * * * *'",
      `pageRows: ${PAGE_ROWS}`,
    ]);
    // the watermark a (re)started process resumes from, as stored
    const store = new SourceStateStore(fx.kafka, fx.kafka.producer());
    const stored = async (): Promise<Watermark | undefined> =>
      (await store.read<PollerState>(`poller/${fx.source}`))?.tables[`public.${table}`];
    const watermarks: Watermark[] = [];
    const expectNotBehind = (next: Watermark | undefined) => {
      const previous = watermarks.at(-1);
      if (previous) {
        expect(next, 'the stored watermark disappeared').toBeDefined();
        expect(
          comparePositions('timestamp', next as Watermark, previous, 'updated_at'),
        ).toBeGreaterThanOrEqual(0);
      }
      if (next) watermarks.push(next);
    };
    let child = start(path);
    const topic = fx.topic(table);
    await fx.waitForTopics([topic], 60_000);

    // writers: updates of KEYS keys (v counts up) and inserts of new keys, in short transactions
    const writer = new pg.Client(clientConfig('admin'));
    await writer.connect();
    let writing = true;
    let commits = 0;
    const writing$ = (async () => {
      let nextId = PRELOADED;
      while (writing) {
        await writer.query('BEGIN');
        const key = 1 + Math.floor(Math.random() * KEYS);
        await writer.query(`UPDATE ${table} SET v = v + 1, updated_at = now() WHERE id = $1`, [key]);
        await writer.query(`INSERT INTO ${table} VALUES ($1, now(), 1, 'y')`, [++nextId]);
        await writer.query('COMMIT');
        commits += 1;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        // a process takes seconds to start: kill it only once it is polling (it stored a newer
        // watermark), at a random point after that (mid-page, mid-commit, between runs)
        const from = watermarks.at(-1);
        await waitFor(
          async () => {
            const now = await stored();
            return now !== undefined && (!from || comparePositions('timestamp', now, from) > 0);
          },
          60_000,
          'the (re)started poller stored no newer watermark',
        );
        await new Promise((r) => setTimeout(r, Math.random() * 1_500));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        expectNotBehind(await stored());
        child = start(path);
      }
    } finally {
      writing = false;
      await writing$;
    }
    expect(commits).toBeGreaterThan(50);

    const { rows } = await fx.admin.query<{ id: string; v: string }>(
      `SELECT id::text, v::text FROM ${table}`,
    );
    const expected = new Map(rows.map((r) => [r.id, r.v]));
    await writer.end();
    // the running poller catches up: every row's latest version arrives
    const latest = new Map<string, string>();
    await waitFor(
      async () => {
        const events = await fx.readAllEvents(topic);
        latest.clear();
        for (const e of events) {
          const id = String(e.key?.id);
          const v = String((e.value.after as { v: bigint }).v);
          if (BigInt(v) > BigInt(latest.get(id) ?? '0')) latest.set(id, v);
        }
        return [...expected].every(([id, v]) => latest.get(id) === v);
      },
      90_000,
      'the poller did not publish the latest version of every row',
    );
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    const missing = [...expected].filter(([id, v]) => latest.get(id) !== v);
    expect(missing).toEqual([]);

    // the watermark moved on across the restarts and never back
    expectNotBehind(await stored());
    expect(watermarks.length).toBeGreaterThanOrEqual(2);
    expect(
      comparePositions('timestamp', watermarks.at(-1) as Watermark, watermarks[0] as Watermark),
    ).toBeGreaterThan(0);
    // repeats: at most the page in flight at each kill; resuming from the start would repeat ≥ PRELOADED
    const events = await fx.readAllEvents(topic);
    const versions = new Set(events.map((e) => `${String(e.key?.id)}@${e.value.source.seq}`));
    expect(events.length - versions.size).toBeLessThanOrEqual(KILLS * PAGE_ROWS);
  }, 240_000);
});
