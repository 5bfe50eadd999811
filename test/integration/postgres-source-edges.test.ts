/**
 * Edges of the replication source on the real stack: every mapped type at its extremes through
 * snapshot and stream, a column added mid-stream, a 100,000-row transaction, unchanged TOAST values
 * under both replica identities, a snapshot taken while writers keep writing, and the setups the
 * source must refuse. Values are compared with what Postgres computes from the stored row.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import { DsrCdcError } from '../../src/errors.js';
import { decimalText, type PgInterval } from '../../src/events/pg-types.js';
import { CdcFixture, type DecodedEvent, finalState, type RunningSource } from '../support/cdc.js';
import { uniqueName } from '../support/names.js';
import { connect } from '../support/postgres.js';

const byId = (key: Record<string, unknown>) => String(key.id);
const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';

/** Query results as text, whatever the column type: the comparable forms are computed in SQL. */
const TEXT = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads until `enough` holds; fails at once with the source's own error if the source stops. */
function read(
  fx: CdcFixture,
  running: RunningSource,
  topics: string[],
  enough: (events: DecodedEvent[]) => boolean,
  timeoutMs?: number,
): Promise<DecodedEvent[]> {
  const stopped = running.done.then(() => {
    throw new Error('the source stopped before enough events arrived');
  });
  return Promise.race([fx.readUntil(topics, enough, timeoutMs), stopped]);
}

/**
 * Waits until the source has made everything committed so far durable (the slot confirms the
 * current WAL position), then reads every event of the topic: as many as its high watermarks say.
 * (A marker row seen by a reader is not enough: partitions are read independently.)
 */
async function readCaughtUp(fx: CdcFixture, running: RunningSource, topic: string): Promise<DecodedEvent[]> {
  await fx.waitSlotCaughtUp(90_000);
  const stopped = running.done.then(() => {
    throw new Error('the source stopped before every event arrived');
  });
  return Promise.race([fx.readAllEvents(topic, 90_000), stopped]);
}

async function registryJson(path: string): Promise<unknown> {
  const response = await fetch(`${loadConnections().registry.url}${path}`);
  if (!response.ok) throw new Error(`registry GET ${path}: ${response.status}`);
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// Every mapped type

interface Column {
  name: string;
  sqlType: string;
  /** SQL expressions, one per row; rows beyond the list get NULL. */
  values: string[];
  /** SQL computing the comparable text from the stored value `c`; default: the output function's text. */
  expect?: (c: string) => string;
  /** The decoded Avro value in the comparable form. */
  render?: (value: never) => unknown;
  /** Parses the expected text; default identity. */
  parse?: (text: string) => unknown;
}

const outputText = (c: string) => `format('%s', ${c})`;
const epochMicros = (c: string) =>
  `CASE WHEN isfinite(${c}) THEN trunc(extract(epoch FROM ${c}) * 1000000)::text
        WHEN ${c} > 'epoch' THEN '${INT64_MAX}' ELSE '${INT64_MIN}' END`;
const bigintText = (v: bigint) => v.toString();
const decimal = (scale: number) => (v: Buffer | string) =>
  typeof v === 'string' ? v : decimalText(v, scale);
const floatBits = (bytes: 4 | 8) => (v: number) => {
  const buf = Buffer.alloc(bytes);
  if (bytes === 4) buf.writeFloatBE(v);
  else buf.writeDoubleBE(v);
  return buf.toString('hex');
};
/** Large byte strings compare as length + digest: exact, with a readable diff when they differ. */
const byteaDigest = (v: Buffer) => `${v.length}:${createHash('sha256').update(v).digest('hex')}`;
const json = (c: string) => `array_to_json(${c})::text`;

function typeColumns(mood: string): Column[] {
  return [
    { name: 'i2', sqlType: 'int2', values: ['-32768', '32767', '0'], render: String },
    { name: 'i4', sqlType: 'int4', values: ['-2147483648', '2147483647'], render: String },
    { name: 'i8', sqlType: 'int8', values: [INT64_MIN, INT64_MAX, '9007199254740993'], render: bigintText },
    {
      name: 'n38',
      sqlType: 'numeric(38,10)',
      values: [
        "'1234567890123456789012345678.1234567890'",
        "'-0.0000000001'",
        "'NaN'",
        '0',
        "'-9999999999999999999999999999.9999999999'",
      ],
      render: decimal(10),
    },
    {
      name: 'num',
      sqlType: 'numeric',
      values: [
        "'12345678901234567890.123456789012345678901234567890'",
        "'NaN'",
        "'Infinity'",
        "'-Infinity'",
        "'-1e-30'",
        '0',
      ],
    },
    {
      name: 'f4',
      sqlType: 'float4',
      values: ["'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "'3.4028235e38'", "'1e-45'", "'0.1'"],
      expect: (c) => `encode(float4send(${c}), 'hex')`,
      render: floatBits(4),
    },
    {
      name: 'f8',
      sqlType: 'float8',
      values: ["'NaN'", "'-Infinity'", "'Infinity'", "'5e-324'", "'1.7976931348623157e308'", "'-0'", "'0.1'"],
      expect: (c) => `encode(float8send(${c}), 'hex')`,
      render: floatBits(8),
    },
    { name: 'b', sqlType: 'bool', values: ['true', 'false'], render: (v: boolean) => (v ? 't' : 'f') },
    {
      name: 't',
      sqlType: 'text',
      values: [`'ünïcødé 中文 😀 "q" \\ back'`, "''", "E'line\\nbreak\\ttab'"],
    },
    { name: 'vc', sqlType: 'varchar(16)', values: ["'ü😀'", "''", "'exactly16chars!!'"] },
    // bpchar keeps its padding as Postgres prints it; '' is five spaces
    { name: 'ch', sqlType: 'char(5)', values: ["'a'", "''", "'ü😀'", "'abcde'"] },
    {
      name: 'u',
      sqlType: 'uuid',
      values: [
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
        "'00000000-0000-0000-0000-000000000000'",
        "'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF'",
      ],
    },
    {
      name: 'd',
      sqlType: 'date',
      values: [
        "'1969-12-31'",
        "'1900-02-28'",
        "'0044-03-15 BC'",
        "'infinity'",
        "'-infinity'",
        "'2040-02-29'",
      ],
      expect: (c) => `CASE WHEN isfinite(${c}) THEN (${c} - date '1970-01-01')::text
                           WHEN ${c} > 'epoch' THEN '2147483647' ELSE '-2147483648' END`,
      render: String,
    },
    {
      name: 'tm',
      sqlType: 'time',
      values: ["'00:00:00'", "'23:59:59.999999'", "'24:00:00'", "'12:00:00.000001'"],
      expect: (c) => `trunc(extract(epoch FROM ${c}) * 1000000)::text`,
      render: bigintText,
    },
    {
      name: 'ts',
      sqlType: 'timestamp',
      values: [
        "'1969-12-31 23:59:59.999999'",
        "'1901-12-13 20:45:51.999999'",
        "'2038-01-19 03:14:08.000001'",
        "'infinity'",
        "'-infinity'",
        "'0044-03-15 12:00:00.5 BC'",
      ],
      expect: epochMicros,
      render: bigintText,
    },
    {
      name: 'tstz',
      sqlType: 'timestamptz',
      values: [
        "'1969-07-20 20:17:40.123456+00'",
        "'1901-12-13 20:45:51.654321-05:30'",
        "'2038-01-19 03:14:08.000001+00'",
        "'2262-04-11 23:47:16.854776+02'",
        "'infinity'",
        "'-infinity'",
        "'9999-12-31 23:59:59.999999+14'",
      ],
      expect: epochMicros,
      render: bigintText,
    },
    {
      name: 'iv',
      sqlType: 'interval',
      values: [
        "'-1 year -2 mons +3 days -04:05:06.789'",
        "'-00:00:00.000001'",
        "'1 day -00:00:01'",
        "'0'",
        "'-178000000 years'",
        "'1 mon -30 days 2562047788:00:54.775807'",
      ],
      expect: (c) => `((extract(year FROM ${c}) * 12 + extract(month FROM ${c}))::int
                       || ' ' || extract(day FROM ${c})::int
                       || ' ' || ((extract(hour FROM ${c}) * 3600 + extract(minute FROM ${c}) * 60) * 1000000
                                  + extract(microseconds FROM ${c}))::int8)`,
      render: (v: PgInterval) => `${v.months} ${v.days} ${v.micros}`,
    },
    // json keeps its text as written (spacing, duplicate keys); 'null' is JSON null, not SQL NULL
    {
      name: 'j',
      sqlType: 'json',
      values: [`'{"b": 1,  "a": [1, 2.50, "ü"], "a": null}'`, "'[]'", `'"😀"'`, "'null'"],
    },
    { name: 'jb', sqlType: 'jsonb', values: [`'{"b": 1, "a": [1, 2.50, "ü"]}'`, "'{}'", "'null'"] },
    {
      name: 'by',
      sqlType: 'bytea',
      values: [
        "'\\x'",
        // 256 KB of incompressible bytes: stored out of line
        `(SELECT string_agg(decode(md5(i::text), 'hex'), ''::bytea ORDER BY i) FROM generate_series(1, 16384) i)`,
        "'\\x00ff'",
      ],
      expect: (c) => `length(${c}) || ':' || encode(sha256(${c}), 'hex')`,
      render: byteaDigest,
    },
    {
      name: 'ia',
      sqlType: 'int4[]',
      values: ["'{}'", "'{1,NULL,-2147483648}'", "'{NULL}'"],
      expect: json,
      parse: JSON.parse,
    },
    {
      name: 'ta',
      sqlType: 'text[]',
      values: [
        "'{}'",
        `ARRAY['a b', '', NULL, 'NULL', 'ü😀', 'q"x', E'back\\\\slash', '{1,2}']`,
        'ARRAY[NULL]::text[]',
      ],
      expect: json,
      parse: JSON.parse,
    },
    { name: 'mood', sqlType: mood, values: ["'sad'", "'very happy 😀'"] },
    { name: 'ip', sqlType: 'inet', values: ["'192.168.0.1/24'", "'::1'", "'10.0.0.1'"] },
    { name: 'net', sqlType: 'cidr', values: ["'2001:db8::/32'", "'10.0.0.0/8'"] },
    // types without a dedicated mapping travel as their exact text
    { name: 'pt', sqlType: 'point', values: ["'(1.5,-2)'", "'(-0,1e300)'"] },
    { name: 'm', sqlType: 'money', values: ['1000.5', "'-0.01'"] },
  ];
}

// ---------------------------------------------------------------------------------------------

describe('postgres replication source at its edges', () => {
  let fx: CdcFixture;
  const cleanup: string[] = [];

  beforeEach(async () => {
    fx = new CdcFixture();
    await fx.open();
  });

  afterEach(async () => {
    for (const statement of cleanup.splice(0)) await fx.admin.query(statement).catch(() => undefined);
    await fx.close();
  });

  it('carries every mapped type at its edges exactly, through snapshot, insert and update', async () => {
    const mood = uniqueName('mood');
    await fx.admin.query(`CREATE TYPE ${mood} AS ENUM ('sad', 'ok', 'very happy 😀')`);
    cleanup.push(`DROP TYPE IF EXISTS ${mood} CASCADE`);
    const columns = typeColumns(mood);
    const table = await fx.table(
      'types',
      `id int PRIMARY KEY, ${columns.map((c) => `${c.name} ${c.sqlType}`).join(', ')}`,
    );
    const rows = Math.max(...columns.map((c) => c.values.length)) + 1; // the last row is all NULL
    const insert = async (offset: number) => {
      for (let row = 0; row < rows; row++) {
        await fx.admin.query(
          `INSERT INTO ${table} (id, ${columns.map((c) => c.name).join(', ')})
           VALUES (${offset + row + 1}, ${columns.map((c) => c.values[row] ?? 'NULL').join(', ')})`,
        );
      }
    };
    /** Per id: each column's comparable text as Postgres computes it from the stored value. */
    const expected = async () => {
      const { rows: result } = await fx.admin.query<string[]>({
        text: `SELECT id, ${columns
          .map((c) => `CASE WHEN ${c.name} IS NOT NULL THEN ${(c.expect ?? outputText)(c.name)} END`)
          .join(', ')} FROM ${table} ORDER BY id`,
        rowMode: 'array',
        types: TEXT,
      });
      return new Map(
        result.map(([id, ...texts]) => [
          String(id),
          Object.fromEntries(
            columns.map((c, i) => {
              const text = texts[i] ?? null;
              return [c.name, text === null ? null : (c.parse ?? ((t: string) => t))(text)];
            }),
          ),
        ]),
      );
    };
    const actual = (after: Record<string, unknown> | null) =>
      Object.fromEntries(
        columns.map((c) => {
          const value = after?.[c.name];
          expect(value, `column ${c.name} is missing from the event`).not.toBeUndefined();
          return [c.name, value === null ? null : (c.render ?? ((v: unknown) => v))(value as never)];
        }),
      );

    await insert(0);
    const snapshotExpected = await expected();
    await fx.publish();
    const running = fx.start();
    try {
      await fx.waitStreaming();
      await insert(100);
      // an update writes every column of row 1 from row 2 (among them the 256 KB bytea)
      const names = columns.map((c) => c.name).join(', ');
      await fx.admin.query(
        `UPDATE ${table} SET (${names}) = (SELECT ${names} FROM ${table} WHERE id = 2) WHERE id = 1`,
      );
      const streamExpected = await expected();

      const events = await read(fx, running, [fx.topic(table)], (es) => es.length >= 2 * rows + 1);
      expect(events).toHaveLength(2 * rows + 1);
      const ops = events.map((e) => `${e.value.op}${byId(e.key ?? {})}`).sort();
      expect(ops).toEqual(
        [
          ...Array.from({ length: rows }, (_, i) => `r${i + 1}`),
          ...Array.from({ length: rows }, (_, i) => `c${101 + i}`),
          'u1',
        ].sort(),
      );
      for (const event of events) {
        const id = byId(event.key ?? {});
        const want = event.value.op === 'r' ? snapshotExpected.get(id) : streamExpected.get(id);
        expect({ id, op: event.value.op, ...actual(event.value.after) }).toEqual({
          id,
          op: event.value.op,
          ...want,
        });
        expect(event.value.unchanged).toEqual([]);
      }
      // the snapshot and the stream saw the same values for the same SQL
      for (let row = 1; row <= rows; row++) {
        if (row !== 1)
          expect(streamExpected.get(String(100 + row))).toEqual(snapshotExpected.get(String(row)));
      }
    } finally {
      await running.stop();
    }
  });

  it('registers a new contract version when a column is added mid-stream; old events still decode', async () => {
    const table = await fx.table('alter', 'id int PRIMARY KEY, v text');
    await fx.admin.query(`INSERT INTO ${table} VALUES (1, 'one'), (2, 'two')`);
    await fx.publish();
    const topic = fx.topic(table);
    const running = fx.start();
    try {
      await fx.waitStreaming();
      await fx.admin.query(`INSERT INTO ${table} VALUES (3, 'three')`);
      await fx.admin.query(`ALTER TABLE ${table} ADD COLUMN extra int DEFAULT 7, ADD COLUMN tags text[]`);
      await fx.admin.query(`INSERT INTO ${table} VALUES (4, 'four', 42, '{a,NULL}')`);
      // row 1 predates the column: its update carries the column's default
      await fx.admin.query(`UPDATE ${table} SET v = 'uno' WHERE id = 1`);

      const events = await read(fx, running, [topic], (es) => es.length >= 5);
      expect(events).toHaveLength(5);
      const event = (op: string, id: number) => {
        const found = events.find((e) => e.value.op === op && e.key?.id === id);
        if (!found) throw new Error(`no ${op} event of id ${id}`);
        return found;
      };
      const old = [event('r', 1), event('r', 2), event('c', 3)];
      const altered = [event('c', 4), event('u', 1)];
      // events before the ALTER decode with the first version: no new fields
      for (const e of old) expect(Object.keys(e.value.after ?? {})).toEqual(['id', 'v']);
      expect(altered.map((e) => e.value.after)).toEqual([
        { id: 4, v: 'four', extra: 42, tags: ['a', null] },
        { id: 1, v: 'uno', extra: 7, tags: null },
      ]);

      const versions = (await registryJson(`/subjects/${topic}-value/versions`)) as number[];
      expect(versions).toHaveLength(2);
      const ids = await Promise.all(
        versions.map(
          async (v) => ((await registryJson(`/subjects/${topic}-value/versions/${v}`)) as { id: number }).id,
        ),
      );
      expect(new Set(ids).size).toBe(2);
      expect(old.map((e) => e.valueSchemaId)).toEqual([ids[0], ids[0], ids[0]]);
      expect(altered.map((e) => e.valueSchemaId)).toEqual([ids[1], ids[1]]);
      // the key did not change shape: still one key contract
      expect(await registryJson(`/subjects/${topic}-key/versions`)).toHaveLength(1);

      // a column added inside a transaction: the change after it uses the next version, seq runs on
      await fx.admin.query(
        `BEGIN;
         INSERT INTO ${table} (id, v) VALUES (5, 'five');
         ALTER TABLE ${table} ADD COLUMN late timestamptz;
         INSERT INTO ${table} (id, v, late) VALUES (6, 'six', '1960-01-01 00:00:00.000001+00');
         COMMIT`,
      );
      const more = await read(fx, running, [topic], (es) => es.length >= 7);
      expect(more).toHaveLength(7);
      const [five, six] = [5, 6].map((id) => more.find((e) => e.key?.id === id) as DecodedEvent);
      expect(five?.value.after).toEqual({ id: 5, v: 'five', extra: 7, tags: null });
      expect(six?.value.after).toEqual({
        id: 6,
        v: 'six',
        extra: 7,
        tags: null,
        late: -315619199999999n,
      });
      expect([five?.value.source.seq, six?.value.source.seq]).toEqual([0n, 1n]);
      expect(five?.value.source.commitLsn).toBe(six?.value.source.commitLsn);
      expect(five?.valueSchemaId).toBe(ids[1]);
      const third = (await registryJson(`/subjects/${topic}-value/versions`)) as number[];
      expect(third).toHaveLength(3);
      const thirdId = (
        (await registryJson(`/subjects/${topic}-value/versions/${third[2]}`)) as { id: number }
      ).id;
      expect(six?.valueSchemaId).toBe(thirdId);

      const { rows } = await fx.admin.query(`SELECT id, v, extra, tags, late FROM ${table} ORDER BY id`);
      const state = finalState(more, byId);
      expect(rows.map((r) => String(r.id))).toEqual([...state.keys()].sort());
    } finally {
      await running.stop();
    }
  });

  it('streams a 100,000-row transaction whole: one commitLsn, seq 0..99999 without gap or duplicate', {
    timeout: 180_000,
  }, async () => {
    const count = 100_000;
    const table = await fx.table('bulk', 'id int PRIMARY KEY, v text');
    await fx.publish();
    const topic = fx.topic(table);
    const running = fx.start({ snapshot: 'never' });
    try {
      await fx.waitStreaming();
      await fx.admin.query(`INSERT INTO ${table} SELECT g, 'row ' || g FROM generate_series(1, ${count}) g`);
      const events = await read(fx, running, [topic], (es) => es.length >= count, 160_000);
      expect(events).toHaveLength(count);
      // nothing beyond them in the topic either
      const admin = fx.kafka.admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.disconnect();
      expect(offsets.reduce((sum, o) => sum + Number(o.high), 0)).toBe(count);

      const first = events[0]?.value.source;
      expect(first?.commitLsn).toBeTypeOf('bigint');
      const seqs = new Uint8Array(count);
      const ids = new Uint8Array(count + 1);
      const lastSeq = new Map<number, bigint>();
      let mismatches = 0;
      for (const e of events) {
        const { op, source } = e.value;
        if (op !== 'c' || source.commitLsn !== first?.commitLsn || source.txId !== first?.txId) mismatches++;
        const [seq, id] = [Number(source.seq), Number(e.key?.id)];
        if (seq >= 0 && seq < count) seqs[seq] = (seqs[seq] ?? 0) + 1;
        if (id >= 1 && id <= count) ids[id] = (ids[id] ?? 0) + 1;
        // within each partition the transaction's order holds
        if ((lastSeq.get(e.partition) ?? -1n) >= source.seq) mismatches++;
        lastSeq.set(e.partition, source.seq);
      }
      expect(mismatches).toBe(0);
      expect(seqs.every((n) => n === 1)).toBe(true);
      expect(ids.slice(1).every((n) => n === 1)).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it('an unchanged 1 MB TOAST value: marked unchanged under REPLICA IDENTITY DEFAULT, carried in full under FULL', async () => {
    const plain = await fx.table('toast_default', 'id int PRIMARY KEY, big text, n int');
    const full = await fx.table('toast_full', 'id int PRIMARY KEY, big text, n int');
    await fx.admin.query(`ALTER TABLE ${full} REPLICA IDENTITY FULL`);
    for (const table of [plain, full]) {
      // EXTERNAL: out of line and uncompressed, so the value is TOASTed whatever its content
      await fx.admin.query(`ALTER TABLE ${table} ALTER COLUMN big SET STORAGE EXTERNAL`);
      await fx.admin.query(
        `INSERT INTO ${table} SELECT 1, string_agg(md5(i::text), '' ORDER BY i), 0 FROM generate_series(1, 32768) i`,
      );
      // the value really lives in the TOAST table
      const { rows } = await fx.admin.query<{ toast: string }>(
        `SELECT reltoastrelid::regclass::text AS toast FROM pg_class WHERE oid = 'public.${table}'::regclass`,
      );
      const { rows: chunks } = await fx.admin.query<{ bytes: string }>(
        `SELECT sum(length(chunk_data))::text AS bytes FROM ${rows[0]?.toast}`,
      );
      expect(Number(chunks[0]?.bytes)).toBe(1024 * 1024);
    }
    const { rows: stored } = await fx.admin.query<{ big: string }>(`SELECT big FROM ${plain} WHERE id = 1`);
    const big = stored[0]?.big ?? '';
    expect(big).toHaveLength(1024 * 1024);
    await fx.publish();
    const running = fx.start();
    try {
      await fx.waitStreaming();
      await fx.admin.query(`UPDATE ${plain} SET n = 1 WHERE id = 1`);
      await fx.admin.query(`UPDATE ${full} SET n = 1 WHERE id = 1`);
      const events = await read(
        fx,
        running,
        [fx.topic(plain), fx.topic(full)],
        (es) => es.filter((e) => e.value.op === 'u').length >= 2,
      );
      const of = (table: string, op: string) => {
        const found = events.find((e) => e.topic === fx.topic(table) && e.value.op === op);
        if (!found) throw new Error(`no ${op} event of ${table}`);
        return found.value;
      };
      // the snapshot reads the whole value
      for (const table of [plain, full]) expect(of(table, 'r').after?.big === big).toBe(true);

      const withoutValue = of(plain, 'u');
      expect(withoutValue.unchanged).toEqual(['big']);
      expect(withoutValue.after).toEqual({ id: 1, big: null, n: 1 });
      expect(withoutValue.before).toBeNull();

      const withValue = of(full, 'u');
      expect(withValue.unchanged).toEqual([]);
      expect(withValue.after?.n).toBe(1);
      expect(withValue.after?.big === big).toBe(true);
      expect(withValue.before?.n).toBe(0);
      expect(withValue.before?.big === big).toBe(true);
    } finally {
      await running.stop();
    }
  });

  it('a snapshot taken while writers keep writing ends in exactly the table', {
    timeout: 120_000,
  }, async () => {
    const table = await fx.table('busy', 'id int PRIMARY KEY, v int NOT NULL, note text');
    await fx.admin.query(`INSERT INTO ${table} SELECT g, 0, md5(g::text) FROM generate_series(1, 20000) g`);
    await fx.publish();
    const keys = 25_000;
    const marker = 1_000_000;
    const key = () => 1 + Math.floor(Math.random() * keys);
    const writer = await connect('admin');
    let stop = false;
    let ops = 0;
    const statements = [
      () => `INSERT INTO ${table} VALUES (${key()}, 1, md5(random()::text))
               ON CONFLICT (id) DO UPDATE SET v = ${table}.v + 1, note = excluded.note`,
      () => `UPDATE ${table} SET v = v + 1, note = CASE WHEN random() < 0.2 THEN NULL ELSE md5(random()::text) END
               WHERE id = ${key()}`,
      () => `DELETE FROM ${table} WHERE id = ${key()}`,
      // several changes in one transaction, one key touched twice
      () => {
        const k = key();
        return `BEGIN; UPDATE ${table} SET v = v + 10 WHERE id = ${k}; DELETE FROM ${table} WHERE id = ${key()};
                  INSERT INTO ${table} VALUES (${key()}, 2, 'tx') ON CONFLICT (id) DO NOTHING;
                  UPDATE ${table} SET note = 'twice' WHERE id = ${k}; COMMIT`;
      },
    ];
    const writingSince = Date.now();
    const writing = (async () => {
      while (!stop) {
        await writer.query((statements[Math.floor(Math.random() * statements.length)] as () => string)());
        ops++;
      }
    })();
    let running: RunningSource | undefined;
    try {
      await until(() => ops >= 20, 10_000, 'the writer to start');
      running = fx.start({ snapshotChunkRows: 500 });
      await fx.waitStreaming(90_000);
      // keep writing while the stream runs, too: a few seconds in all
      const streamingFrom = ops;
      await until(
        () => ops >= streamingFrom + 300 && Date.now() - writingSince >= 4_000,
        30_000,
        'writes during streaming',
      );
      stop = true;
      await writing;
      await writer.query(`INSERT INTO ${table} VALUES (${marker}, -1, 'marker')`);

      const events = await readCaughtUp(fx, running, fx.topic(table));
      expect(events.some((e) => e.key?.id === marker)).toBe(true);
      const snapshot = events.filter((e) => e.value.op === 'r');
      expect(snapshot.length).toBeGreaterThan(15_000);
      // the writer really wrote while the snapshot was read: commits after the slot's consistent
      // point that are older than the last snapshot row
      const snapshotEnd = BigInt(Math.max(...snapshot.map((e) => Number(e.value.tsMs)))) * 1000n;
      const consistentPoint = snapshot[0]?.value.source.commitLsn ?? 0n;
      const during = events.filter(
        (e) =>
          !e.value.source.snapshot &&
          (e.value.source.commitTs ?? 0n) < snapshotEnd &&
          (e.value.source.commitLsn ?? 0n) > consistentPoint,
      );
      expect(during.length).toBeGreaterThan(0);

      const { rows } = await fx.admin.query<{ id: number; v: number; note: string | null }>(
        `SELECT id, v, note FROM ${table} ORDER BY id`,
      );
      const state = finalState(events, byId);
      const fromEvents = [...state.values()].sort((a, b) => (a.id as number) - (b.id as number));
      expect(fromEvents.length).toBe(rows.length);
      expect(fromEvents).toEqual(rows);
    } finally {
      stop = true;
      await writing.catch(() => undefined);
      await writer.end();
      await running?.stop();
    }
  });

  describe('refuses a setup it cannot capture, saying what to run', () => {
    it('a table without a primary key under REPLICA IDENTITY DEFAULT; FULL then works', async () => {
      const table = await fx.table('nokey', 'a int, b text');
      await fx.publish();
      const error = await fx.start().done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DsrCdcError);
      expect(error).toMatchObject({ code: 'PREREQUISITE_MISSING', retryable: false });
      const { message } = error as DsrCdcError;
      expect(message).toContain('add a primary key');
      expect(message).toContain(`ALTER TABLE "public"."${table}" REPLICA IDENTITY FULL`);
      // refused before anything was created
      const { rowCount } = await fx.admin.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        fx.slot,
      ]);
      expect(rowCount).toBe(0);

      // the advised fix is enough: events are keyed by every column
      await fx.admin.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
      const running = fx.start({ snapshot: 'never' });
      try {
        await fx.waitStreaming();
        await fx.admin.query(`INSERT INTO ${table} VALUES (1, 'x')`);
        await fx.admin.query(`UPDATE ${table} SET b = 'y' WHERE a = 1`);
        const events = await read(fx, running, [fx.topic(table)], (es) => es.length >= 3);
        // keys differ, so partitions differ: order by position
        const ordered = [...events].sort((x, y) =>
          x.value.source.commitLsn === y.value.source.commitLsn
            ? Number(x.value.source.seq - y.value.source.seq)
            : (x.value.source.commitLsn ?? 0n) < (y.value.source.commitLsn ?? 0n)
              ? -1
              : 1,
        );
        expect(ordered.map((e) => [e.value.op, { ...e.key }])).toEqual([
          ['c', { a: 1, b: 'x' }],
          ['d', { a: 1, b: 'x' }],
          ['c', { a: 1, b: 'y' }],
        ]);
      } finally {
        await running.stop();
      }
    });

    it('a keyless table under REPLICA IDENTITY FULL holding NULL, json and point values', async () => {
      const table = await fx.table('keyless', 'a int, doc json, p point, note text');
      await fx.admin.query(`ALTER TABLE ${table} REPLICA IDENTITY FULL`);
      await fx.admin.query(
        `INSERT INTO ${table} VALUES (1, '{"k": 1}', '(1,2)', NULL), (NULL, NULL, NULL, 'all null but me'),
                                      (3, '[]', '(0,0)', 'x')`,
      );
      await fx.publish();
      const running = fx.start({ snapshotChunkRows: 100 });
      try {
        await fx.waitStreaming();
        await fx.admin.query(`INSERT INTO ${table} VALUES (4, '{"k": 4}', '(4,4)', NULL)`);
        await fx.admin.query(`UPDATE ${table} SET note = 'changed' WHERE a = 1`);
        await fx.admin.query(`DELETE FROM ${table} WHERE a = 3`);
        // 3 snapshot reads, 1 insert, the update as delete + create (the key is every column), 1 delete
        const events = await read(fx, running, [fx.topic(table)], (es) => es.length >= 7);
        expect(events.map((e) => e.value.op).sort()).toEqual(['c', 'c', 'd', 'd', 'r', 'r', 'r']);
        const state = finalState(events, (key) => JSON.stringify(key));
        const { rows } = await fx.admin.query<{
          a: number | null;
          doc: string | null;
          p: string | null;
          note: string | null;
        }>(`SELECT a, doc::text, p::text, note FROM ${table}`);
        const asText = (row: Record<string, unknown>) => JSON.stringify([row.a, row.doc, row.p, row.note]);
        expect([...state.values()].map(asText).sort()).toEqual(rows.map(asText).sort());
      } finally {
        await running.stop();
      }
    });

    it('a publication that does not exist and that the pipeline role may not create', async () => {
      const table = await fx.table('nopub', 'id int PRIMARY KEY');
      const error = await fx.start().done.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DsrCdcError);
      expect(error).toMatchObject({ code: 'PREREQUISITE_MISSING', retryable: false });
      expect((error as DsrCdcError).message).toContain(
        `CREATE PUBLICATION "${fx.publication}" FOR TABLE "public"."${table}"`,
      );
      const { rowCount } = await fx.admin.query(
        `SELECT 1 FROM pg_publication WHERE pubname = $1
          UNION ALL SELECT 1 FROM pg_replication_slots WHERE slot_name = $2`,
        [fx.publication, fx.slot],
      );
      expect(rowCount).toBe(0);
    });
  });
});
