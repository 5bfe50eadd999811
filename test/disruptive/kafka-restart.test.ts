/**
 * The broker goes away mid-stream and comes back: the source process (a real `dsr-cdc source
 * run`) fails over to backoff-and-retry, resumes from its slot, and in the end every committed
 * row is in Kafka. Runs in the `disruptive` project, alone, after every other test: it stops the
 * stack's Kafka.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { poll } from '../../stack/process.js';
import { kafkaService } from '../../stack/services/kafka.js';
import { CdcFixture } from '../support/cdc.js';
import { clientConfig } from '../support/postgres.js';
import { spawnSource, writeSourceConfig } from '../support/source-process.js';

describe('kafka restart under a running source', () => {
  let fx: CdcFixture;
  let dir: string;
  let child: ChildProcess | undefined;
  const kafka = kafkaService();

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-restart-'));
  });

  afterEach(async () => {
    child?.kill('SIGKILL');
    // whatever happened, leave the broker running for whoever comes next
    if (!(await kafka.health()).healthy) {
      if (!(await kafka.running())) await kafka.start();
      await poll(async () => (await kafka.health()).healthy, { timeoutMs: 120_000, intervalMs: 500 });
    }
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses no committed row when the broker is stopped and restarted mid-stream', async () => {
    const table = await fx.table('restart', 'id bigint PRIMARY KEY, note text');
    await fx.publish();
    child = spawnSource(fx, writeSourceConfig(fx, dir, [table]));
    await fx.waitStreaming(60_000);

    const writer = new pg.Client(clientConfig('admin'));
    await writer.connect();
    let next = 1;
    let writing = true;
    const committed: number[] = [];
    const writes = (async () => {
      while (writing) {
        await writer.query(`INSERT INTO ${table} VALUES ($1, 'n')`, [next]);
        committed.push(next++);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await kafka.stop()).toBe(true);
      const beforeOutage = committed.length;
      await new Promise((r) => setTimeout(r, 4_000));
      expect(committed.length).toBeGreaterThan(beforeOutage); // Postgres kept committing meanwhile
      await kafka.start();
      expect(
        await poll(async () => (await kafka.health()).healthy, { timeoutMs: 120_000, intervalMs: 500 }),
      ).toBe(true);
      await new Promise((r) => setTimeout(r, 1_000));
    } finally {
      writing = false;
      await writes;
      await writer.end();
    }

    await fx.waitSlotCaughtUp(120_000);
    const events = await fx.readAllEvents(fx.topic(table));

    const ids = new Set(events.map((e) => Number(e.key?.id)));
    expect(committed.filter((id) => !ids.has(id))).toEqual([]);
    expect(ids.size).toBe(committed.length);

    child.kill('SIGTERM');
    expect(await new Promise((r) => child?.once('exit', (code) => r(code)))).toBe(0);
  }, 300_000);
});
