import { appendFileSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { clientConfig } from '../support/postgres.js';
import { exited, spawnSource, useProcessFixture, writeSourceConfig } from '../support/source-process.js';

const KEYS = 2_000;
const SHUTDOWN_TIMEOUT_MS = 10_000;

describe('dsr-cdc run under SIGTERM', () => {
  const run = useProcessFixture('shutdown');

  it('stops within the bound with status 0 and loses nothing across the restart', async () => {
    const { fx, dir } = run;
    const table = await fx.table('load', 'id bigint PRIMARY KEY, v bigint NOT NULL');
    await fx.admin.query(`INSERT INTO ${table} SELECT g, 0 FROM generate_series(1, ${KEYS}) g`);
    await fx.publish();
    const configPath = writeSourceConfig(fx, dir, [table]);
    appendFileSync(configPath, `runtime: { shutdownTimeoutMs: ${SHUTDOWN_TIMEOUT_MS} }\n`);
    const start = () => run.track(spawnSource(fx, configPath, ['run', '--only', `source:${fx.source}`]));

    let child = start();
    await fx.waitStreaming(90_000);
    const writer = new Writer(table);
    const writing = writer.run();
    try {
      await new Promise((r) => setTimeout(r, 2_000));
      const before = writer.commits;
      const stoppedAt = Date.now();
      child.kill('SIGTERM');
      expect(await exited(child)).toBe(0);
      const took = Date.now() - stoppedAt;
      expect(took).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
      expect(writer.commits).toBeGreaterThan(before); // the load was still running during the stop
      process.stdout.write(`run-shutdown: SIGTERM under load took ${took} ms\n`);

      child = start();
      await fx.waitStreaming(90_000);
      await new Promise((r) => setTimeout(r, 1_500));
    } finally {
      writer.stop();
      await writing;
    }
    await fx.waitSlotCaughtUp(90_000);
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);

    // every increment of every key arrived: per key the streamed values are 1, 2, … up to the table's
    const events = await fx.readAllEvents(fx.topic(table));
    const seen = new Map<string, Set<bigint>>();
    for (const event of events.filter((e) => !e.value.source.snapshot)) {
      const id = String(event.key?.id);
      const values = seen.get(id) ?? new Set<bigint>();
      values.add(event.value.after?.v as bigint);
      seen.set(id, values);
    }
    const { rows } = await fx.admin.query<{ id: string; v: string }>(
      `SELECT id::text, v::text FROM ${table} WHERE v > 0`,
    );
    expect(rows.length).toBeGreaterThan(100);
    const gaps = rows.filter(({ id, v }) => {
      const values = seen.get(id) ?? new Set<bigint>();
      for (let i = 1n; i <= BigInt(v); i++) if (!values.has(i)) return true;
      return false;
    });
    expect(gaps).toEqual([]);
    process.stdout.write(`run-shutdown: ${writer.commits} transactions, ${events.length} events\n`);
  }, 240_000);
});

/** Commits transactions that each add 1 to the `v` of 20 random keys, until stopped. */
class Writer {
  commits = 0;
  private stopped = false;

  constructor(private readonly table: string) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const client = new pg.Client(clientConfig('admin'));
    await client.connect();
    try {
      while (!this.stopped) {
        const ids = [...new Set(Array.from({ length: 20 }, () => 1 + Math.floor(Math.random() * KEYS)))];
        await client.query(`UPDATE ${this.table} SET v = v + 1 WHERE id = ANY($1::bigint[])`, [ids]);
        this.commits += 1;
      }
    } finally {
      await client.end();
    }
  }
}
