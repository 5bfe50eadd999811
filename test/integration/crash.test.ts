import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { type DecodedEvent, finalState } from '../support/cdc.js';
import { clientConfig } from '../support/postgres.js';
import { spawnSource, useProcessFixture, waitFor, writeSourceConfig } from '../support/source-process.js';

const KILLS = 5;
const KEYS = 300;
const PRELOADED = 20_000;

describe('replication source under kill -9', () => {
  const run = useProcessFixture('crash');

  const startSource = (configPath: string) => run.track(spawnSource(run.fx, configPath));

  it('loses nothing and keeps order per key across 5 SIGKILLs during snapshot and streaming', async () => {
    const { fx, dir } = run;
    const table = await fx.table('crash', 'id bigint PRIMARY KEY, v bigint NOT NULL, pad text');
    await fx.admin.query(
      `INSERT INTO ${table} SELECT g, 1, repeat('x', 50) FROM generate_series(1, ${PRELOADED}) g`,
    );
    await fx.publish();
    const configPath = writeSourceConfig(fx, dir, [table]);

    let child = startSource(configPath);
    // writers start once the slot exists, so every change they commit is after the consistent point
    await waitFor(
      async () =>
        (await fx.admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [fx.slot]))
          .rowCount === 1,
      60_000,
      'the slot was not created',
    );

    const writer = new Writer(table, KEYS);
    const writing = writer.run();
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        // the first kill lands right after the slot was created, i.e. during the snapshot
        await new Promise((r) =>
          setTimeout(r, kill === 0 ? Math.random() * 300 : 300 + Math.random() * 1_500),
        );
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        child = startSource(configPath);
      }
      // a real load across the kills, however slow a busy machine makes the writer
      await waitFor(
        async () => writer.commits > 50,
        60_000,
        'the writer committed fewer than 50 transactions',
      );
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      writer.stop();
      await writing;
    }

    // caught up: the slot confirmed the last commit, so every event up to it is durable in Kafka
    await fx.waitSlotCaughtUp(90_000);
    const events = await fx.readAllEvents(fx.topic(table));

    // duplicates (re-sent after a crash) are exact copies with the same commitLsn + seq
    const byPosition = new Map<string, DecodedEvent>();
    let duplicates = 0;
    for (const event of events) {
      const position = `${event.value.source.commitLsn}/${event.value.source.seq}/${event.value.source.snapshot}/${event.key?.id}`;
      const seen = byPosition.get(position);
      if (seen) {
        duplicates += 1;
        expect(event.key).toEqual(seen.key);
        expect(event.value.after).toEqual(seen.value.after);
        expect(event.value.op).toBe(seen.value.op);
      } else {
        byPosition.set(position, event);
      }
    }
    const unique = [...byPosition.values()];

    // every preloaded row was read by the snapshot; a snapshot resumed after a kill reads the
    // remaining chunks under a fresh snapshot, which may also hold rows written since
    const snapshotKeys = new Set(unique.filter((e) => e.value.op === 'r').map((e) => Number(e.key?.id)));
    const missing = Array.from({ length: PRELOADED }, (_, i) => i + 1).filter((id) => !snapshotKeys.has(id));
    expect(missing).toEqual([]);

    // no lost change, order per key: each key's streamed values run v0+1, v0+2, … with no gap
    const streamed = unique
      .filter((e) => !e.value.source.snapshot)
      .sort(
        (a, b) =>
          compare(a.value.source.commitLsn, b.value.source.commitLsn) ||
          compare(a.value.source.seq, b.value.source.seq),
      );
    const lastV = new Map<string, bigint>();
    for (const event of streamed) {
      const id = String(event.key?.id);
      const v = event.value.after?.v as bigint;
      const expected = (lastV.get(id) ?? (Number(id) <= PRELOADED ? 1n : 0n)) + 1n;
      expect({ id, v }).toEqual({ id, v: expected });
      lastV.set(id, v);
    }
    // in each partition, a key's first-seen events appear in commit order (re-sent copies aside)
    const inLog = [...events].sort(
      (a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)),
    );
    const seen = new Set<string>();
    const lastPosition = new Map<string, [bigint, bigint]>();
    for (const event of inLog.filter((e) => !e.value.source.snapshot)) {
      const { commitLsn, seq } = event.value.source;
      const position = `${commitLsn}/${seq}`;
      if (seen.has(position)) continue;
      seen.add(position);
      const id = String(event.key?.id);
      const previous = lastPosition.get(id);
      if (previous) {
        const after = compare(commitLsn, previous[0]) > 0 || (commitLsn === previous[0] && seq > previous[1]);
        expect({ id, inCommitOrder: after }).toEqual({ id, inCommitOrder: true });
      }
      lastPosition.set(id, [commitLsn ?? 0n, seq]);
    }

    const tableRows = await fx.admin.query<{ id: string; v: string }>(
      `SELECT id::text, v::text FROM ${table} ORDER BY id`,
    );
    const state = finalState(unique, (key) => String(key.id));
    expect(state.size).toBe(tableRows.rows.length);
    for (const row of tableRows.rows) expect(String(state.get(row.id)?.v)).toBe(row.v);

    // a graceful stop still works after all that
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    process.stdout.write(
      `crash test: ${writer.commits} transactions, ${events.length} events, ${duplicates} duplicates\n`,
    );
  }, 240_000);
});

/** Commits small transactions that bump a per-key counter `v` (or insert it at 1), until stopped. */
class Writer {
  commits = 0;
  private stopped = false;

  constructor(
    private readonly table: string,
    private readonly keys: number,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    const client = new pg.Client(clientConfig('admin'));
    await client.connect();
    try {
      while (!this.stopped) {
        const ids = new Set(Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () => this.randomId()));
        await client.query('BEGIN');
        for (const id of [...ids].sort((a, b) => a - b)) {
          await client.query(
            `INSERT INTO ${this.table} (id, v, pad) VALUES ($1, 1, 'new') ON CONFLICT (id) DO UPDATE SET v = ${this.table}.v + 1`,
            [id],
          );
        }
        await client.query('COMMIT');
        this.commits += 1;
      }
    } finally {
      await client.end();
    }
  }

  /** Half the writes touch preloaded rows, half create and then update rows above them. */
  private randomId(): number {
    const offset = Math.floor(Math.random() * this.keys);
    return Math.random() < 0.5 ? 1 + offset : PRELOADED + 1 + offset;
  }
}

function compare(a: bigint | null, b: bigint | null): number {
  const [x, y] = [a ?? 0n, b ?? 0n];
  return x < y ? -1 : x > y ? 1 : 0;
}
