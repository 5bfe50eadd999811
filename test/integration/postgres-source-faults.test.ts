/**
 * What the source does when the world changes under it: an idle captured table on a busy
 * database, a contract change the registry rejects, a dropped publication.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CdcFixture } from '../support/cdc.js';
import { uniqueName } from '../support/names.js';
import { spawnSource, writeSourceConfig } from '../support/source-process.js';

describe('postgres source faults', () => {
  let fx: CdcFixture;
  const extraTables: string[] = [];

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
  });

  afterEach(async () => {
    for (const table of extraTables.splice(0)) await fx.admin.query(`DROP TABLE IF EXISTS ${table}`);
    await fx.close();
  });

  it('keeps the slot moving while its tables are idle and the database is busy', async () => {
    await fx.table('idle', 'id int PRIMARY KEY');
    await fx.publish();
    const running = fx.start({ snapshot: 'never', heartbeatIntervalMs: 200 });
    try {
      await fx.waitStreaming();
      const busy = uniqueName('busy');
      extraTables.push(busy);
      await fx.admin.query(`CREATE TABLE ${busy} (id serial PRIMARY KEY, pad text)`);
      // WAL the source does not capture: without heartbeats the slot would hold all of it
      for (let i = 0; i < 20; i++) {
        await fx.admin.query(
          `INSERT INTO ${busy} (pad) SELECT repeat('x', 500) FROM generate_series(1, 500)`,
        );
      }
      // well inside wal_sender_timeout / 2 (30 s), when the server would send a keepalive unasked
      await fx.waitSlotCaughtUp(8_000);
      // and the metric the admin API will expose agrees
      expect(await running.source.slotLagBytes()).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await running.stop();
    }
  });

  it('reconnects with backoff when its replication connection is killed, and loses nothing', async () => {
    const table = await fx.table('reconnect', 'id int PRIMARY KEY');
    await fx.publish();
    const dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-reconnect-'));
    const child = spawnSource(fx, writeSourceConfig(fx, dir, [table]));
    try {
      await fx.waitStreaming(60_000);
      await fx.admin.query(`INSERT INTO ${table} SELECT g FROM generate_series(1, 100) g`);
      const { rows: killed } = await fx.admin.query<{ done: boolean }>(
        'SELECT pg_terminate_backend(active_pid) AS done FROM pg_replication_slots WHERE slot_name = $1',
        [fx.slot],
      );
      expect(killed[0]?.done).toBe(true);
      await fx.admin.query(`INSERT INTO ${table} SELECT g FROM generate_series(101, 200) g`);
      await fx.waitSlotCaughtUp(60_000);
      const events = await fx.readUntil(
        [fx.topic(table)],
        (es) => new Set(es.map((e) => e.key?.id)).size >= 200,
      );
      expect(new Set(events.map((e) => e.key?.id)).size).toBe(200);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops with CONTRACT_REJECTED when the registry refuses a changed table contract', async () => {
    const table = await fx.table('contract', 'id int PRIMARY KEY, amount int');
    await fx.publish();
    const running = fx.start({ snapshot: 'never' });
    await fx.waitStreaming();
    await fx.admin.query(`INSERT INTO ${table} VALUES (1, 10)`);
    await fx.readUntil([fx.topic(table)], (events) => events.length >= 1);
    // int → text cannot read old data under BACKWARD compatibility
    await fx.admin.query(`ALTER TABLE ${table} ALTER COLUMN amount TYPE text`);
    await fx.admin.query(`INSERT INTO ${table} VALUES (2, 'twenty')`);
    await expect(running.done).rejects.toMatchObject({
      code: 'CONTRACT_REJECTED',
      message: expect.stringMatching(new RegExp(`${fx.topic(table)}-value.*compatib`, 's')),
    });
    // the rejected change was not acknowledged: the slot still holds it for a fixed restart
    const { rows } = await fx.admin.query<{ behind: boolean }>(
      'SELECT confirmed_flush_lsn < pg_current_wal_lsn() AS behind FROM pg_replication_slots WHERE slot_name = $1',
      [fx.slot],
    );
    expect(rows[0]?.behind).toBe(true);
  });

  it('stops with a clear error when its publication is dropped mid-stream', async () => {
    const table = await fx.table('dropped', 'id int PRIMARY KEY');
    await fx.publish();
    const running = fx.start({ snapshot: 'never' });
    await fx.waitStreaming();
    await fx.admin.query(`DROP PUBLICATION ${fx.publication}`);
    await fx.admin.query(`INSERT INTO ${table} VALUES (1)`);
    await expect(running.done).rejects.toMatchObject({
      retryable: false,
      message: expect.stringMatching(/publication .* does not exist/),
    });
  });
});
