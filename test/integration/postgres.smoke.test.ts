/**
 * Smoke test of the real Postgres: logical replication works for the least-privilege pipeline
 * role. The role creates its slot and streams pgoutput with pg-logical-replication; the
 * publication is created by the table owner, because Postgres lets only owners publish a table.
 */

import type pg from 'pg';
import { LogicalReplicationService, type Pgoutput, PgoutputPlugin } from 'pg-logical-replication';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../support/names.js';
import { clientConfig, connect } from '../support/postgres.js';

describe('postgres (real cluster, pipeline role)', () => {
  const table = uniqueName('smoke_people');
  const publication = uniqueName('smoke_pub');
  const slot = uniqueName('smoke_slot');
  let admin: pg.Client;
  let pipeline: pg.Client;

  beforeAll(async () => {
    admin = await connect('admin');
    pipeline = await connect('pipeline');
    await admin.query(
      `CREATE TABLE ${table} (id bigint PRIMARY KEY, email text NOT NULL, score numeric(38,2))`,
    );
    await admin.query(`CREATE PUBLICATION ${publication} FOR TABLE ${table}`);
  });

  afterAll(async () => {
    await pipeline
      ?.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
        slot,
      ])
      .catch(() => undefined);
    await admin?.query(`DROP PUBLICATION IF EXISTS ${publication}`);
    await admin?.query(`DROP TABLE IF EXISTS ${table}`);
    await Promise.all([admin?.end(), pipeline?.end()]);
  });

  it('runs with wal_level=logical and a pipeline role that is neither superuser nor writer', async () => {
    const { rows } = await pipeline.query<{ wal_level: string; rolsuper: boolean; rolreplication: boolean }>(
      `SELECT current_setting('wal_level') AS wal_level, rolsuper, rolreplication
         FROM pg_roles WHERE rolname = current_user`,
    );
    expect(rows[0]).toEqual({ wal_level: 'logical', rolsuper: false, rolreplication: true });
    await expect(pipeline.query(`INSERT INTO ${table} VALUES (0, 'x', 0)`)).rejects.toThrow(
      /permission denied/,
    );
    await expect(
      pipeline.query(`CREATE PUBLICATION ${uniqueName('denied')} FOR TABLE ${table}`),
    ).rejects.toThrow(/must be owner|permission denied/);
    await expect(pipeline.query(`SELECT count(*) FROM ${table}`)).resolves.toBeDefined();
  });

  it('creates a logical slot as the pipeline role and streams an INSERT through pgoutput', async () => {
    await pipeline.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);

    const service = new LogicalReplicationService(clientConfig('pipeline'), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
    });
    const messages: Pgoutput.Message[] = [];
    service.on('data', (_lsn: string, message: Pgoutput.Message) => {
      messages.push(message);
    });
    const streamErrors: Error[] = [];
    service.on('error', (error: Error) => streamErrors.push(error));
    const plugin = new PgoutputPlugin({ protoVersion: 1, publicationNames: [publication] });
    // subscribe() resolves only when the stream ends, so it runs in the background
    const streaming = service.subscribe(plugin, slot).catch((error: Error) => streamErrors.push(error));

    await admin.query(`INSERT INTO ${table} (id, email, score) VALUES ($1, $2, $3)`, [
      42,
      'ada@example.test',
      '12345678901234567890123456789012345.67',
    ]);

    const deadline = Date.now() + 20_000;
    while (!messages.some((m) => m.tag === 'commit') && Date.now() < deadline && streamErrors.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await service.stop();
    await streaming;

    expect(streamErrors).toEqual([]);
    expect(messages.map((m) => m.tag)).toEqual(['begin', 'relation', 'insert', 'commit']);
    const insert = messages.find((m): m is Pgoutput.MessageInsert => m.tag === 'insert');
    expect(insert?.relation.name).toBe(table);
    expect(insert?.relation.keyColumns).toEqual(['id']);
    expect(insert?.new.email).toBe('ada@example.test');
    // numeric arrives as text: exact, no float on the way
    expect(insert?.new.score).toBe('12345678901234567890123456789012345.67');
  });
});
