/**
 * No loss through crashes: `dsr-cdc poller run` polls every second as a real process while writers
 * insert and update rows; it is killed with SIGKILL at random points (mid-page, mid-commit) and
 * restarted each time. In the end the latest version of every row is in Kafka: a restart resumes
 * from the stored watermark, which never passed anything Kafka did not hold.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CdcFixture } from '../support/cdc.js';
import { postgresPollerLines, spawnPoller, writePollerConfig } from '../support/poller.js';
import { clientConfig } from '../support/postgres.js';
import { waitFor } from '../support/source-process.js';

const KILLS = 4;
const KEYS = 400;
const PRELOADED = 20_000;

describe('Postgres poller under kill -9', () => {
  let fx: CdcFixture;
  let dir: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-poller-crash-'));
  });

  afterEach(async () => {
    for (const child of children) child.kill('SIGKILL');
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(path: string): ChildProcess {
    const child = spawnPoller(fx.source, path);
    children.push(child);
    return child;
  }

  it('publishes the latest version of every row across 4 SIGKILLs', async () => {
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
      'pageRows: 1000',
    ]);
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
        await new Promise((r) => setTimeout(r, 700 + Math.random() * 1_500));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
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
  }, 240_000);
});
