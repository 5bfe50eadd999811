/**
 * The raw pgoutput decoder against the real cluster: one workload is streamed once through
 * RawPgoutputPlugin (as the pipeline role), then each test checks its part of the stream.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { LogicalReplicationService } from 'pg-logical-replication';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  formatLsn,
  type PgoutputDelete,
  type PgoutputInsert,
  type PgoutputMessage,
  type PgoutputUpdate,
  parseLsn,
  pgEpochMicrosToIso,
  pgEpochMicrosToUnixMicros,
  UNCHANGED_TOAST,
} from '../../src/sources/postgres/pgoutput.js';
import { RawPgoutputPlugin } from '../../src/sources/postgres/plugin.js';
import { uniqueName } from '../support/names.js';
import { clientConfig, connect } from '../support/postgres.js';

const TIMESTAMP = '2024-02-29 23:59:59.123456+00';
const NUMERIC_38 = '12345678901234567890123456789012345678';
const NUMERIC_SCALED = '1234567890123456789012345678.0123456789';
const INT8_ABOVE_2_53 = '9007199254740993';
const INT8_MAX = '9223372036854775807';
const UTF8_TEXT = 'Zoë Ørsted — 北京 🎉';

describe('pgoutput decoder (real cluster, pipeline role)', () => {
  const full = uniqueName('pgo_full');
  const plain = uniqueName('pgo_default');
  const toast = uniqueName('pgo_toast');
  const mood = uniqueName('pgo_mood');
  // mixed case: streaming only works if the plugin quotes the name as an identifier
  const publication = uniqueName('PgoPub');
  const slot = uniqueName('pgo_slot');
  const prefix = uniqueName('pgo_msg');
  let admin: pg.Client;
  let pipeline: pg.Client;
  const oids = { full: 0, plain: 0, toast: 0 };
  let toastBody: { md5: string; length: number };
  let startedAt: number;
  const stream: { lsn: string; message: PgoutputMessage }[] = [];
  const messages = () => stream.map((s) => s.message);
  const changesOf = <T extends PgoutputMessage['tag']>(tag: T, relationOid: number) =>
    messages().filter(
      (m): m is Extract<PgoutputMessage, { tag: T }> =>
        m.tag === tag && 'relationOid' in m && m.relationOid === relationOid,
    );

  beforeAll(async () => {
    admin = await connect('admin');
    pipeline = await connect('pipeline');
    await admin.query(`CREATE TYPE ${mood} AS ENUM ('happy', 'sad')`);
    await admin.query(
      `CREATE TABLE ${full} (id bigint PRIMARY KEY, ts timestamptz, amount numeric(38,0), scaled numeric(38,10),
         big bigint, note text)`,
    );
    await admin.query(`ALTER TABLE ${full} REPLICA IDENTITY FULL`);
    await admin.query(`CREATE TABLE ${plain} (id bigint PRIMARY KEY, email text, feeling ${mood})`);
    await admin.query(`CREATE TABLE ${toast} (id int PRIMARY KEY, body text, counter int NOT NULL)`);
    await admin.query(`CREATE PUBLICATION "${publication}" FOR TABLE ${full}, ${plain}, ${toast}`);
    const { rows } = await admin.query<{ full: number; plain: number; toast: number }>(
      'SELECT $1::regclass::oid::int8 AS full, $2::regclass::oid::int8 AS plain, $3::regclass::oid::int8 AS toast',
      [full, plain, toast],
    );
    Object.assign(oids, {
      full: Number(rows[0]?.full),
      plain: Number(rows[0]?.plain),
      toast: Number(rows[0]?.toast),
    });
    await pipeline.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);

    // the workload: one transaction per statement unless stated
    startedAt = Date.now();
    await admin.query(`INSERT INTO ${full} VALUES (1, $1, $2, $3, $4, $5), (2, NULL, NULL, NULL, $6, '')`, [
      TIMESTAMP,
      NUMERIC_38,
      NUMERIC_SCALED,
      INT8_ABOVE_2_53,
      UTF8_TEXT,
      INT8_MAX,
    ]);
    await admin.query(`UPDATE ${full} SET note = 'after' WHERE id = 1`);
    await admin.query(`DELETE FROM ${full} WHERE id = 2`);
    await admin.query(`INSERT INTO ${plain} VALUES (10, 'a@example.test', 'happy')`);
    await admin.query(`UPDATE ${plain} SET email = 'b@example.test' WHERE id = 10`);
    await admin.query(`UPDATE ${plain} SET id = 11 WHERE id = 10`);
    await admin.query(`DELETE FROM ${plain} WHERE id = 11`);
    // distinct md5s do not compress, so the 1.28 MB value is stored out of line
    await admin.query(
      `INSERT INTO ${toast} SELECT 1, string_agg(md5(i::text || random()::text), ''), 0
         FROM generate_series(1, 40000) AS i`,
    );
    const body = await admin.query<{ md5: string; length: number }>(
      `SELECT md5(body), length(body) FROM ${toast} WHERE id = 1`,
    );
    toastBody = body.rows[0] ?? { md5: '', length: 0 };
    await admin.query(`UPDATE ${toast} SET counter = counter + 1 WHERE id = 1`);
    await admin.query('BEGIN');
    await admin.query('SELECT pg_logical_emit_message(true, $1, $2)', [prefix, 'héllo']);
    await admin.query(`INSERT INTO ${plain} VALUES (12, NULL, NULL)`);
    await admin.query('COMMIT');
    await admin.query(`TRUNCATE ${full}, ${plain}`);
    await admin.query('SELECT pg_logical_emit_message(false, $1, $2)', [`${prefix}.end`, '']);

    // the walsender renders values with its session settings: pin the time zone
    const service = new LogicalReplicationService(clientConfig('pipeline', { options: '-c TimeZone=UTC' }), {
      acknowledge: { auto: false, timeoutSeconds: 0 },
    });
    const streamErrors: Error[] = [];
    let ended = false;
    service.on('data', (lsn: string, message: PgoutputMessage) => {
      stream.push({ lsn, message });
      if (message.tag === 'message' && message.prefix === `${prefix}.end`) ended = true;
    });
    service.on('error', (error: Error) => streamErrors.push(error));
    const plugin = new RawPgoutputPlugin({ publicationNames: [publication], messages: true });
    const streaming = service.subscribe(plugin, slot).catch((error: Error) => streamErrors.push(error));
    const deadline = Date.now() + 30_000;
    while (!ended && Date.now() < deadline && streamErrors.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await service.stop();
    await streaming;
    expect(streamErrors).toEqual([]);
    expect(ended).toBe(true);
  });

  afterAll(async () => {
    // the walsender may need a moment to release the slot after the stream stops
    for (let attempt = 0; attempt < 50; attempt++) {
      const dropped = await pipeline
        ?.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1', [
          slot,
        ])
        .then(() => true)
        .catch(() => false);
      if (dropped !== false) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await admin?.query(`DROP PUBLICATION IF EXISTS "${publication}"`);
    await admin?.query(`DROP TABLE IF EXISTS ${full}, ${plain}, ${toast}`);
    await admin?.query(`DROP TYPE IF EXISTS ${mood}`);
    await Promise.all([admin?.end(), pipeline?.end()]);
  });

  it('frames every transaction with begin/commit whose LSNs and times agree', () => {
    const begins = messages().filter((m) => m.tag === 'begin');
    const commits = messages().filter((m) => m.tag === 'commit');
    // 9 single-statement DML transactions, the one with the transactional message, the truncate
    expect(begins).toHaveLength(11);
    expect(commits.map((c) => c.commitLsn)).toEqual(begins.map((b) => b.finalLsn));
    for (const [i, commit] of commits.entries()) {
      expect(commit.commitTime).toBe(begins[i]?.commitTime);
      expect(commit.endLsn).toBeGreaterThan(commit.commitLsn);
      expect(parseLsn(formatLsn(commit.endLsn))).toBe(commit.endLsn);
      const millis = Number(pgEpochMicrosToUnixMicros(commit.commitTime) / 1000n);
      expect(millis).toBeGreaterThanOrEqual(startedAt - 5_000);
      expect(millis).toBeLessThanOrEqual(Date.now());
      expect(Date.parse(pgEpochMicrosToIso(commit.commitTime))).toBe(millis);
    }
    // the XLogData LSN the library reports is Postgres's own text, which parseLsn accepts
    for (const { lsn } of stream) expect(formatLsn(parseLsn(lsn))).toBe(lsn);
  });

  it('describes relations, with the enum type first and key flags per replica identity', () => {
    const relations = messages().flatMap((m) => (m.tag === 'relation' ? [m.relation] : []));
    const fullRelation = relations.find((r) => r.oid === oids.full);
    expect(fullRelation).toEqual({
      oid: oids.full,
      schema: 'public',
      name: full,
      replicaIdentity: 'full',
      columns: [
        { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
        { name: 'ts', typeOid: 1184, typeMod: -1, isKey: true },
        { name: 'amount', typeOid: 1700, typeMod: (38 << 16) + 4, isKey: true },
        { name: 'scaled', typeOid: 1700, typeMod: (38 << 16) + 10 + 4, isKey: true },
        { name: 'big', typeOid: 20, typeMod: -1, isKey: true },
        { name: 'note', typeOid: 25, typeMod: -1, isKey: true },
      ],
    });
    const plainRelation = relations.find((r) => r.oid === oids.plain);
    expect(plainRelation?.replicaIdentity).toBe('default');
    expect(plainRelation?.columns.map((c) => [c.name, c.isKey])).toEqual([
      ['id', true],
      ['email', false],
      ['feeling', false],
    ]);
    const typeIndex = messages().findIndex((m) => m.tag === 'type' && m.name === mood);
    const plainIndex = messages().findIndex((m) => m.tag === 'relation' && m.relation.oid === oids.plain);
    expect(messages()[typeIndex]).toEqual({
      tag: 'type',
      typeOid: plainRelation?.columns[2]?.typeOid,
      schema: 'public',
      name: mood,
    });
    expect(typeIndex).toBeGreaterThanOrEqual(0);
    expect(typeIndex).toBeLessThan(plainIndex);
  });

  it('streams REPLICA IDENTITY FULL changes with exact text values and whole old rows', () => {
    const row1 = ['1', TIMESTAMP, NUMERIC_38, NUMERIC_SCALED, INT8_ABOVE_2_53, UTF8_TEXT];
    const row2 = ['2', null, null, null, INT8_MAX, ''];
    expect(changesOf('insert', oids.full)).toEqual<PgoutputInsert[]>([
      { tag: 'insert', relationOid: oids.full, new: row1 },
      { tag: 'insert', relationOid: oids.full, new: row2 },
    ]);
    expect(changesOf('update', oids.full)).toEqual<PgoutputUpdate[]>([
      { tag: 'update', relationOid: oids.full, key: null, old: row1, new: [...row1.slice(0, 5), 'after'] },
    ]);
    expect(changesOf('delete', oids.full)).toEqual<PgoutputDelete[]>([
      { tag: 'delete', relationOid: oids.full, key: null, old: row2 },
    ]);
  });

  it('streams default-identity changes: key tuples only when the key changes, non-key columns null', () => {
    expect(changesOf('insert', oids.plain).map((m) => m.new)).toEqual([
      ['10', 'a@example.test', 'happy'],
      ['12', null, null],
    ]);
    expect(changesOf('update', oids.plain)).toEqual<PgoutputUpdate[]>([
      {
        tag: 'update',
        relationOid: oids.plain,
        key: null,
        old: null,
        new: ['10', 'b@example.test', 'happy'],
      },
      {
        tag: 'update',
        relationOid: oids.plain,
        key: ['10', null, null],
        old: null,
        new: ['11', 'b@example.test', 'happy'],
      },
    ]);
    expect(changesOf('delete', oids.plain)).toEqual<PgoutputDelete[]>([
      { tag: 'delete', relationOid: oids.plain, key: ['11', null, null], old: null },
    ]);
  });

  it('marks an unchanged out-of-line TOAST column instead of resending or dropping it', () => {
    const [insert] = changesOf('insert', oids.toast);
    const inserted = insert?.new[1];
    expect(typeof inserted).toBe('string');
    expect((inserted as string).length).toBe(toastBody.length);
    expect(toastBody.length).toBeGreaterThanOrEqual(1_000_000);
    expect(
      createHash('md5')
        .update(inserted as string)
        .digest('hex'),
    ).toBe(toastBody.md5);
    expect(changesOf('update', oids.toast)).toEqual<PgoutputUpdate[]>([
      { tag: 'update', relationOid: oids.toast, key: null, old: null, new: ['1', UNCHANGED_TOAST, '1'] },
    ]);
  });

  it('streams logical messages inside and outside transactions', () => {
    const ours = messages().filter((m) => m.tag === 'message' && m.prefix.startsWith(prefix));
    expect(
      ours.map((m) => m.tag === 'message' && [m.prefix, m.transactional, m.content.toString('utf8')]),
    ).toEqual([
      [prefix, true, 'héllo'],
      [`${prefix}.end`, false, ''],
    ]);
    // the transactional message sits in the transaction of the insert of row 12
    const index = messages().indexOf(ours[0] as PgoutputMessage);
    const next = messages()
      .slice(index)
      .find((m) => m.tag === 'insert' || m.tag === 'commit');
    expect(next?.tag === 'insert' && next.new[0]).toBe('12');
  });

  it('streams one truncate naming both tables', () => {
    const truncates = messages().filter((m) => m.tag === 'truncate');
    expect(truncates).toHaveLength(1);
    expect(truncates[0]).toMatchObject({ cascade: false, restartIdentity: false });
    expect([...(truncates[0]?.tag === 'truncate' ? truncates[0].relationOids : [])].sort()).toEqual(
      [oids.full, oids.plain].sort(),
    );
  });
});
