/**
 * The MySQL/MariaDB poller against the stack's MariaDB (installed from Debian's packages by
 * `npm run stack -- up`): the type mapping end to end through the registry, keyset pages through an
 * equal-timestamp burst larger than a page, concurrent writers committing out of timestamp order
 * within the safety lag with zero missed rows, incrementing mode, and a missing table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import { loadTopicFamilies, topicSpec } from '../../src/kafka/topics.js';
import { CdcFixture } from '../support/cdc.js';
import { uniqueName } from '../support/names.js';
import { mariadbPollerLines, pollerComponent, writePollerConfig } from '../support/poller.js';

async function adminConnection(): Promise<mysql.Connection> {
  const c = loadConnections().mariadb;
  try {
    return await mysql.createConnection({
      host: c.host,
      port: c.port,
      user: c.adminUser,
      password: c.adminPassword,
      database: c.database,
    });
  } catch (error) {
    throw new Error(`cannot reach MariaDB (${(error as Error).message}): run \`npm run stack -- up\``);
  }
}

describe('MySQL/MariaDB poller', () => {
  let fx: CdcFixture;
  let dir: string;
  let db: mysql.Connection;
  const tables: string[] = [];
  const database = loadConnections().mariadb.database;

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
    db = await adminConnection();
    dir = mkdtempSync(join(tmpdir(), 'dsr-cdc-mariadb-poller-'));
  });

  afterEach(async () => {
    for (const table of tables.splice(0)) await db.query(`DROP TABLE IF EXISTS \`${table}\``);
    await db.end();
    await fx.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function table(prefix: string, columns: string): Promise<{ name: string; topic: string }> {
    const name = uniqueName(prefix);
    await db.query(`CREATE TABLE \`${name}\` (${columns})`);
    tables.push(name);
    const topic = topicSpec(loadTopicFamilies(), 'cdc', {
      source: fx.source,
      schema: database,
      table: name,
    }).name;
    fx.extraTopics.push(topic);
    return { name, topic };
  }

  it('maps MySQL types exactly and pages through an equal-timestamp burst larger than a page', async () => {
    const t = await table(
      'types',
      `id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
       email VARCHAR(100), amount DECIMAL(10,2), flag TINYINT(1), doc JSON, raw VARBINARY(16), seen TIMESTAMP(6) NULL,
       born DATE, big BIGINT UNSIGNED, INDEX (updated_at, id)`,
    );
    await db.query(
      `INSERT INTO \`${t.name}\` (id, updated_at, email) SELECT seq, '2026-01-01 00:00:00.000001', CONCAT('u', seq, '@example.test')
         FROM seq_1_to_1200`,
    );
    await db.query(
      `UPDATE \`${t.name}\` SET updated_at = '2026-01-01 00:00:00.000001', amount = 12.5, flag = 1, doc = '{"a": [1, 2]}',
        raw = X'00ff10', seen = '2026-02-03 04:05:06.789012', born = '1969-12-31', big = 18446744073709551615 WHERE id = 7`,
    );
    const path = writePollerConfig(dir, fx.source, [
      ...mariadbPollerLines([`{ table: ${database}.${t.name}, cursor: updated_at }`]),
      'pageRows: 500',
    ]);
    const poller = pollerComponent(path, fx.source);
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 1200 });
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 0 });
    await poller.close();

    const events = await fx.readAllEvents(t.topic);
    expect(new Set(events.map((e) => e.key?.id)).size).toBe(1200);
    const seven = events.find((e) => e.key?.id === 7n);
    expect(seven?.value.op).toBe('u');
    expect(seven?.value.source).toMatchObject({
      connector: 'poller',
      db: database,
      schema: database,
      table: t.name,
    });
    const after = seven?.value.after as Record<string, unknown>;
    expect(after).toMatchObject({
      id: 7n,
      updated_at: 1767225600000001n,
      email: 'u7@example.test',
      flag: 1,
      doc: '{"a": [1, 2]}',
      raw: Buffer.from([0x00, 0xff, 0x10]),
      seen: 1770091506789012n,
      born: -1,
    });
    // decimals travel as the unscaled two's-complement integer: 12.50 → 1250
    expect(Buffer.from(after.amount as Buffer).readInt16BE(0)).toBe(1250);
  });

  it('loses no row of concurrent writers committing out of timestamp order within the safety lag', async () => {
    const t = await table(
      'race',
      'id BIGINT PRIMARY KEY, updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), INDEX (updated_at, id)',
    );
    const path = writePollerConfig(dir, fx.source, [
      ...mariadbPollerLines([`{ table: ${database}.${t.name}, cursor: updated_at }`]),
      'pageRows: 50',
      'safetyLagMs: 1000',
    ]);
    const poller = pollerComponent(path, fx.source);
    let next = 0;
    let writing = true;
    const committed: number[] = [];
    const writer = async () => {
      const connection = await adminConnection();
      try {
        while (writing) {
          const id = ++next;
          await connection.query('BEGIN');
          await connection.query(`INSERT INTO \`${t.name}\` (id) VALUES (?)`, [id]);
          // held up to 300 ms (< the lag): later timestamps often commit first
          await new Promise((r) => setTimeout(r, Math.random() * 300));
          await connection.query('COMMIT');
          committed.push(id);
        }
      } finally {
        await connection.end();
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    const deadline = Date.now() + 6_000;
    while (Date.now() < deadline) expect((await poller.sync()).status).toBe('succeeded');
    writing = false;
    await Promise.all(writers);
    await new Promise((r) => setTimeout(r, 1_200));
    await poller.sync();
    await poller.close();
    expect(committed.length).toBeGreaterThan(50);
    const seen = new Set((await fx.readAllEvents(t.topic)).map((e) => String(e.key?.id)));
    expect(committed.filter((id) => !seen.has(String(id)))).toEqual([]);
  });

  it('publishes append-only rows as op c in incrementing mode, names a missing table, refuses an integer cursor in timestamp mode', async () => {
    const t = await table('log', 'id BIGINT AUTO_INCREMENT PRIMARY KEY, message TEXT');
    await db.query(`INSERT INTO \`${t.name}\` (message) VALUES ('a'), ('b'), ('c')`);
    const path = writePollerConfig(dir, fx.source, [
      ...mariadbPollerLines([`{ table: ${database}.${t.name}, mode: incrementing }`]),
      'safetyLagMs: 500',
    ]);
    const poller = pollerComponent(path, fx.source);
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 3 });
    await db.query(`INSERT INTO \`${t.name}\` (message) VALUES ('d')`);
    expect(await poller.sync()).toMatchObject({ status: 'succeeded', rows: 1 });
    await poller.close();
    const events = await fx.readAllEvents(t.topic);
    expect(events.map((e) => e.value.op)).toEqual(['c', 'c', 'c', 'c']);

    const missing = writePollerConfig(
      dir,
      fx.source,
      mariadbPollerLines([`{ table: ${database}.no_such_table, cursor: updated_at }`]),
    );
    const failed = await pollerComponent(missing, fx.source).sync();
    expect(failed.status).toBe('failed');
    expect(failed.error).toContain(`table ${database}.no_such_table does not exist`);

    // timestamp mode bounds cursors by NOW(6) − lag: an integer cursor would be compared with a year
    const integerCursor = writePollerConfig(
      dir,
      fx.source,
      mariadbPollerLines([`{ table: ${database}.${t.name}, cursor: id }`]),
    );
    const refused = await pollerComponent(integerCursor, fx.source).sync();
    expect(refused.status).toBe('failed');
    expect(refused.error).toContain(`cursor column "id" of ${database}.${t.name} is bigint(20), an integer`);
    expect(refused.error).toContain(
      `use mode: incrementing (sources.${fx.source}.tables[${database}.${t.name}].mode)`,
    );
  });
});
