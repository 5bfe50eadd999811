/**
 * The replication source end to end on the real stack: Postgres → pgoutput → registry contracts
 * → Kafka, read back by a separate consumer that decodes every event through the registry.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decimalText } from '../../src/events/pg-types.js';
import { CdcFixture, finalState } from '../support/cdc.js';

const byId = (key: Record<string, unknown>) => String(key.id);

describe('postgres replication source', () => {
  let fx: CdcFixture;

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
  });

  afterEach(async () => {
    await fx.close();
  });

  it('snapshots existing rows, then streams insert, update, delete and truncate; the result equals the table', async () => {
    const table = await fx.table('people', 'id bigint PRIMARY KEY, email text, score numeric(12,2)');
    await fx.admin.query(
      `INSERT INTO ${table} SELECT g, 'p' || g || '@example.test', g * 1.5 FROM generate_series(1, 5) g`,
    );
    await fx.publish();
    const running = fx.start();
    try {
      await fx.readUntil([fx.topic(table)], (events) => events.filter((e) => e.value.op === 'r').length >= 5);
      await fx.admin.query(
        `INSERT INTO ${table} VALUES (6, 'six@example.test', 6.25), (7, 'seven@example.test', NULL)`,
      );
      await fx.admin.query(`UPDATE ${table} SET email = 'changed@example.test' WHERE id = 2`);
      await fx.admin.query(`DELETE FROM ${table} WHERE id = 3`);
      await fx.admin.query(`UPDATE ${table} SET id = 70 WHERE id = 7`);

      // 5 snapshot reads, 2 inserts, 1 update, 1 delete, and the key change as a delete + a create
      const events = await fx.readUntil([fx.topic(table)], (es) => es.length >= 11);
      expect(events).toHaveLength(11);
      const ops = (id: bigint) =>
        events
          .filter((e) => e.key?.id === id)
          .map((e) => e.value.op)
          .join('');
      expect(ops(1n)).toBe('r');
      expect(ops(2n)).toBe('ru');
      expect(ops(3n)).toBe('rd');
      expect(ops(7n)).toBe('cd');
      expect(ops(70n)).toBe('c');

      const { rows } = await fx.admin.query(`SELECT id::text, email, score::text FROM ${table} ORDER BY id`);
      const state = finalState(events, byId);
      expect(
        [...state.entries()]
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([id, row]) => ({
            id,
            email: row.email,
            score: row.score === null ? null : decimalText(row.score as Buffer, 2),
          })),
      ).toEqual(rows);

      // every change of one transaction shares commitLsn and txId and is numbered by seq
      const snapshot = events.filter((e) => e.value.op === 'r');
      expect(new Set(snapshot.map((e) => e.value.source.commitLsn)).size).toBe(1);
      expect(snapshot.every((e) => e.value.source.snapshot)).toBe(true);
      const twoRowInsert = events.filter(
        (e) => e.value.op === 'c' && (e.key?.id === 6n || e.value.after?.id === 7n),
      );
      // (rows 6 and 7 sit on different partitions, so compare by key, not by arrival)
      expect(twoRowInsert.map((e) => [e.value.after?.id, e.value.source.seq]).sort()).toEqual([
        [6n, 0n],
        [7n, 1n],
      ]);
      expect(twoRowInsert[0]?.value.source.txId).toBe(twoRowInsert[1]?.value.source.txId);

      await fx.admin.query(`TRUNCATE ${table}`);
      // a truncate has no key: it goes to every partition, so each partition's readers see it in order
      const withTruncate = await fx.readUntil(
        [fx.topic(table)],
        (es) => es.filter((e) => e.value.op === 't').length >= 6,
      );
      expect(
        withTruncate
          .filter((e) => e.value.op === 't')
          .map((e) => e.partition)
          .sort(),
      ).toEqual([0, 1, 2, 3, 4, 5]);
      expect(finalState(withTruncate, byId).size).toBe(0);
    } finally {
      await running.stop();
    }
  });

  it('acknowledges the slot only up to what Kafka has durably received', async () => {
    const table = await fx.table('acks', 'id int PRIMARY KEY, v text');
    await fx.publish();
    const running = fx.start({ snapshot: 'never' });
    try {
      await fx.waitStreaming();
      await fx.admin.query(`INSERT INTO ${table} SELECT g, 'v' FROM generate_series(1, 500) g`);
      await fx.readUntil([fx.topic(table)], (es) => es.length >= 500);
      // the slot's confirmed position reaches the commit once its events are in Kafka
      await fx.waitSlotCaughtUp(15_000);
      expect(running.source.stats.transactions).toBeGreaterThanOrEqual(1);
    } finally {
      await running.stop();
    }
  });
});
