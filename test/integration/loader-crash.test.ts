/**
 * Exactly once into Snowflake through crashes: the loader runs as a real process (`dsr-cdc
 * consumer run snowflake-loader`) and is killed with SIGKILL at random points of a load while
 * writers keep changing the source, then restarted each time. In the end the warehouse table
 * equals the source table: no change lost, no row twice, no deleted row back.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CdcFixture, type RunningSource } from '../support/cdc.js';
import { spawnSource, waitFor, writeSourceConfig } from '../support/source-process.js';
import { WarehouseFixture } from '../support/warehouse.js';

const KILLS = 5;
const PRELOADED = 3_000;

describe('snowflake loader under kill -9', () => {
  const fx = new CdcFixture();
  const wh = new WarehouseFixture(fx);
  const children: ChildProcess[] = [];
  let dir = '';
  let table = '';
  let source: RunningSource;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-loader-crash-'));
    await fx.open();
    table = await fx.table('load', 'id bigint PRIMARY KEY, v bigint NOT NULL, note text');
    await fx.admin.query(
      `INSERT INTO public.${table} SELECT g, 1, repeat('x', 40) FROM generate_series(1, ${PRELOADED}) g`,
    );
    await fx.publish();
    source = fx.start();
    await wh.open();
    await wh.startCoercion();
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await source?.stop().catch(() => undefined);
    await wh.close();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The config a user would write for this loader, the password as a secret reference. */
  function writeConfig(name: string, maxBytes: number): string {
    const s = wh.settings;
    const into = join(dir, name);
    mkdirSync(into);
    return writeSourceConfig(fx, into, [], {
      pipeline: { name: wh.run },
      warehouse: {
        snowflake: {
          account: s.account,
          accessUrl: s.accessUrl,
          insecure: s.insecure,
          topics: `^warehouse\\.${fx.source}\\.`,
          username: s.username,
          password: '${env:DSR_CDC_TEST_SF_PASSWORD}',
          warehouse: s.warehouse,
          database: s.database,
          schema: s.schema,
          batch: { maxWaitMs: 100, minBytes: 1, maxBytes },
        },
      },
    });
  }

  const offsetsMoved = async (): Promise<number> => {
    const rows = await wh.reader
      .execute<{ N: string }>(
        `SELECT COALESCE(SUM("NEXT_OFFSET"), 0) AS "N" FROM "${wh.settings.database}"."${wh.schema}"."_DSR_CDC_OFFSETS"`,
      )
      .catch(() => [{ N: '0' }]);
    return Number(rows[0]?.N ?? 0);
  };

  it(`loses and duplicates nothing across ${KILLS} SIGKILLs of the loader during a load`, async () => {
    // small fetches while killing: many transactions, so the kills land between and inside them;
    // large ones for the final catch-up, which only has to be correct
    const killed = writeConfig('killed', 8192);
    const catchUp = writeConfig('catch-up', 4 * 1024 * 1024);
    const start = (config = killed) => {
      const child = spawnSource(fx, config, ['consumer', 'run', 'snowflake-loader']);
      children.push(child);
      return child;
    };

    let writing = true;
    let nextId = PRELOADED + 1;
    const writer = (async () => {
      while (writing) {
        const id = 1 + Math.floor(Math.random() * (nextId - 1));
        await fx.admin.query(`UPDATE public.${table} SET v = v + 1 WHERE id = $1 OR id = $1 + 7`, [id]);
        await fx.admin.query(`INSERT INTO public.${table} VALUES ($1, 1, 'new')`, [nextId++]);
        if (Math.random() < 0.3) await fx.admin.query(`DELETE FROM public.${table} WHERE id = $1`, [id + 3]);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    try {
      for (let kill = 1; kill <= KILLS; kill++) {
        const before = await offsetsMoved();
        const child = start();
        // let it commit at least one batch, then kill it at a random point of the next ones
        await waitFor(async () => (await offsetsMoved()) > before, 90_000, `no progress before kill ${kill}`);
        await new Promise((r) => setTimeout(r, Math.random() * 1_500));
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
    } finally {
      writing = false;
      await writer;
    }

    const final = start(catchUp);
    const sourceRows = async () =>
      (await fx.admin.query(`SELECT id::text AS id, v::text AS v FROM public.${table} AS t ORDER BY t.id`))
        .rows;
    const warehouseRows = async () =>
      (
        await wh.reader
          .execute<{ ID: string; V: string }>(`SELECT "ID", "V" FROM ${wh.table(table)} ORDER BY "ID"`)
          .catch(() => [])
      ).map((r) => ({ id: String(r.ID), v: String(r.V) }));
    await waitFor(
      async () => JSON.stringify(await sourceRows()) === JSON.stringify(await warehouseRows()),
      180_000,
      'the warehouse never equalled the source after the kills',
    ).catch(async (error) => {
      process.stderr.write(`the catch-up loader's log (tail):\n${final.stderrTail()}\n`);
      expect(await warehouseRows()).toEqual(await sourceRows());
      throw error;
    });
    const [counts] = await wh.reader.execute<{ N: string; D: string }>(
      `SELECT COUNT(*) AS "N", COUNT(DISTINCT "ID") AS "D" FROM ${wh.table(table)}`,
    );
    expect(counts?.N).toBe(counts?.D);
    expect(Number(counts?.N)).toBeGreaterThan(PRELOADED / 2);
    final.kill('SIGKILL');
  }, 600_000);
});
