/**
 * The type mapping against the real Postgres: a table with a column of every mapped type holds
 * edge values; each value is read as the text its output function prints (what pgoutput sends),
 * mapped with toAvroValue, encoded and decoded by avsc, and compared with what Postgres computes
 * from the stored value (epoch µs, day numbers, float bits, hex, …), under several time zones.
 */
import avsc from 'avsc';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadColumns, loadTypes } from '../../src/events/pg-catalog.js';
import {
  avroFieldNames,
  avroRecordSchema,
  avroTypeOptions,
  decimalText,
  type PgColumn,
  type PgInterval,
  toAvroValue,
} from '../../src/events/pg-types.js';
import { uniqueName } from '../support/names.js';
import { connect } from '../support/postgres.js';

const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';

interface Case {
  /** Column name, quoted in SQL: some are not Avro names on purpose. */
  column: string;
  sqlType: string;
  /** SQL expressions, one per row; rows beyond the list get NULL. */
  values: string[];
  /**
   * SQL computing the expected text from the stored value `c`; default format('%s', c), the output
   * function's text (`c::text` is a cast, which differs for bool, inet and bpchar).
   */
  expect?: (c: string) => string;
  /** The decoded Avro value, rendered to compare with the parsed expectation. */
  render?: (value: never) => unknown;
  /** Parses the expected text; default identity. */
  parse?: (text: string) => unknown;
}

/** The text of the type's output function (format's %s), NULL for NULL. */
const outputText = (c: string) => `CASE WHEN ${c} IS NOT NULL THEN format('%s', ${c}) END`;
const epochMicros = (c: string) =>
  `CASE WHEN ${c} IS NULL THEN NULL WHEN isfinite(${c}) THEN trunc(extract(epoch FROM ${c}) * 1000000)::text
        WHEN ${c} > 'epoch' THEN '${INT64_MAX}' ELSE '${INT64_MIN}' END`;
/** One-dimensional array mapped element-wise to JSON, NULL for NULL. */
const jsonArray = (c: string, element: (x: string) => string) =>
  `CASE WHEN ${c} IS NULL THEN NULL ELSE coalesce((SELECT json_agg(${element('x')} ORDER BY o)
     FROM unnest(${c}) WITH ORDINALITY AS u(x, o)), '[]')::text END`;
const bigintText = (v: bigint) => v.toString();
const decimal = (scale: number) => (v: Buffer | string) =>
  typeof v === 'string' ? v : decimalText(v, scale);
const float4Bits = (v: number) => {
  const buf = Buffer.alloc(4);
  buf.writeFloatBE(v);
  return buf.toString('hex');
};
const float8Bits = (v: number) => {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(v);
  return buf.toString('hex');
};

const CASES: Case[] = [
  { column: 'int2', sqlType: 'int2', values: ['-32768', '32767', '0'], render: String },
  { column: 'int4', sqlType: 'int4', values: ['-2147483648', '2147483647'], render: String },
  {
    column: 'int8',
    sqlType: 'int8',
    values: [INT64_MIN, INT64_MAX, '9007199254740993', '-9007199254740993'],
    render: bigintText,
  },
  {
    column: 'numeric_38_10',
    sqlType: 'numeric(38,10)',
    values: ["'1234567890123456789012345678.1234567890'", "'-0.0000000001'", "'NaN'", '0'],
    render: decimal(10),
  },
  {
    column: 'numeric_38_0',
    sqlType: 'numeric(38,0)',
    values: [`'${'9'.repeat(38)}'`, `'-${'9'.repeat(38)}'`],
    render: decimal(0),
  },
  { column: 'numeric_3_m2', sqlType: 'numeric(3,-2)', values: ['12345', '-99949'], render: decimal(0) },
  {
    column: 'numeric',
    sqlType: 'numeric',
    values: ["'12345678901234567890.12'", "'1e-20'", "'Infinity'", "'-Infinity'", "'NaN'"],
  },
  { column: 'money2', sqlType: 'money2 NOT NULL', values: ["'12345678.90'", "'-0.01'"], render: decimal(2) },
  {
    column: 'float4',
    sqlType: 'float4',
    values: ["'1.5e30'", "'NaN'", "'-Infinity'", "'-0'", "'0.1'", "'3.4028235e38'", "'1e-45'"],
    expect: (c) => `encode(float4send(${c}), 'hex')`,
    render: float4Bits,
  },
  {
    column: 'float8',
    sqlType: 'float8',
    values: ["'5e-324'", "'Infinity'", "'-0'", "'0.1'", "'1.7976931348623157e308'", "'NaN'"],
    expect: (c) => `encode(float8send(${c}), 'hex')`,
    render: float8Bits,
  },
  { column: 'bool', sqlType: 'bool', values: ['true', 'false'], render: (v: boolean) => (v ? 't' : 'f') },
  { column: 'First Name', sqlType: 'text', values: [`E'ünïcødé 中文 😀 "q" \\\\ back'`, "''"] },
  { column: 'a-b', sqlType: 'varchar(20)', values: ["'ada@example.test'"] },
  { column: 'a_b', sqlType: 'bpchar(5)', values: ["'a'", "'abcde'"] },
  { column: '1st', sqlType: 'name', values: ["'pg_class'"] },
  { column: 'uuid', sqlType: 'uuid', values: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"] },
  {
    column: 'date',
    sqlType: 'date',
    values: [
      "'1970-01-01'",
      "'0044-03-15 BC'",
      "'5874897-12-31'",
      "'infinity'",
      "'-infinity'",
      "'4713-01-01 BC'",
      "'2024-02-29'",
    ],
    expect: (c) => `CASE WHEN ${c} IS NULL THEN NULL WHEN isfinite(${c}) THEN (${c} - date '1970-01-01')::text
                         WHEN ${c} > 'epoch' THEN '2147483647' ELSE '-2147483648' END`,
    render: String,
  },
  {
    column: 'time',
    sqlType: 'time',
    values: ["'00:00:00'", "'24:00:00'", "'23:59:59.999999'", "'12:34:56.5'"],
    expect: (c) => `trunc(extract(epoch FROM ${c}) * 1000000)::text`,
    render: bigintText,
  },
  {
    column: 'timetz',
    sqlType: 'timetz',
    values: ["'04:05:06.789+05:30'", "'04:05:06-08'", "'00:00:00+00:19:32'", "'24:00:00+00'"],
    // ISO form computed on the Postgres side: a bare '±HH' offset gets its minutes
    expect: (c) => `regexp_replace(${c}::text, '([+-]\\d\\d)$', '\\1:00')`,
  },
  {
    column: 'timestamp',
    sqlType: 'timestamp',
    values: [
      "'1969-12-31 23:59:59.999999'",
      "'0044-03-15 12:00:00 BC'",
      "'200000-01-01 00:00:00'",
      "'infinity'",
      "'-infinity'",
      "'4714-11-24 00:00:00 BC'",
      "'2038-01-19 03:14:08'",
    ],
    expect: epochMicros,
    render: bigintText,
  },
  {
    column: 'timestamptz',
    sqlType: 'timestamptz',
    values: [
      "'2024-01-02 03:04:05.123456+00'",
      "'1900-01-01 00:00:00+00'",
      "'0001-01-01 00:00:00+00 BC'",
      "'infinity'",
      "'-infinity'",
      "'2100-06-01 12:00:00.000001+02'",
      "'4714-11-24 00:00:00+00 BC'",
    ],
    expect: epochMicros,
    render: bigintText,
  },
  {
    column: 'interval',
    sqlType: 'interval',
    values: [
      "'1 year 2 mons -3 days -04:05:06.789'",
      "'-00:00:01'",
      "'-1 days +00:00:01'",
      "'0'",
      "'-178000000 years'",
      "'2562047788:00:54.775807'",
    ],
    expect: (c) => `((extract(year FROM ${c}) * 12 + extract(month FROM ${c}))::int
                     || ' ' || extract(day FROM ${c})::int
                     || ' ' || ((extract(hour FROM ${c}) * 3600 + extract(minute FROM ${c}) * 60) * 1000000
                                + extract(microseconds FROM ${c}))::int8)`,
    render: (v: PgInterval) => `${v.months} ${v.days} ${v.micros}`,
  },
  { column: 'json', sqlType: 'json', values: [`'{"a": [1, 2.50, "ü"]}'`] },
  { column: 'jsonb', sqlType: 'jsonb', values: [`'{"a": [1, 2.50, "ü"]}'`] },
  {
    column: 'bytea',
    sqlType: 'bytea',
    values: ["'\\x'", "'\\x0102ff'", "decode(repeat('00ff7f80', 50000), 'hex')"],
    expect: (c) => `encode(${c}, 'hex')`,
    render: (v: Buffer) => v.toString('hex'),
  },
  { column: 'inet', sqlType: 'inet', values: ["'192.168.0.1/24'", "'::1'"] },
  { column: 'cidr', sqlType: 'cidr', values: ["'2001:db8::/32'"] },
  { column: 'macaddr', sqlType: 'macaddr', values: ["'08:00:2b:01:02:03'"] },
  { column: 'macaddr8', sqlType: 'macaddr8', values: ["'08:00:2b:01:02:03:04:05'"] },
  { column: 'mood', sqlType: 'mood', values: ["'happy'", "'sad'"] },
  { column: 'email', sqlType: 'email', values: ["'ada@example.test'"] },
  { column: 'money', sqlType: 'money', values: ['1000.5'] },
  { column: 'point', sqlType: 'point', values: ["'(1,2)'"] },
  { column: 'int4range', sqlType: 'int4range', values: ["'[1,5)'", "'empty'"] },
  { column: 'int4multirange', sqlType: 'int4multirange', values: ["'{[1,3),[5,7)}'"] },
  { column: 'pair', sqlType: 'pair', values: [`ROW(1, 'a b')`] },
  { column: 'bit', sqlType: 'bit(4)', values: ["B'1010'"] },
  { column: 'tsvector', sqlType: 'tsvector', values: ["'fat cat'"] },
  { column: 'xml', sqlType: 'xml', values: ["'<a>ü</a>'"] },
  {
    column: 'int4_array',
    sqlType: 'int4[]',
    values: ["'{}'", "'{1,2,NULL}'"],
    expect: (c) => `array_to_json(${c})::text`,
    parse: JSON.parse,
  },
  {
    column: 'int4_matrix',
    sqlType: 'int4[][]',
    values: ["'{{1,2},{3,NULL}}'", "'{}'"],
    expect: (c) => `array_to_json(${c})::text`,
    parse: JSON.parse,
  },
  {
    column: 'int8_array',
    sqlType: 'int8[]',
    values: [`ARRAY[${INT64_MAX}, ${INT64_MIN}, NULL]`],
    expect: (c) => `array_to_json(${c}::text[])::text`,
    render: (v: Array<bigint | null>) => v.map((x) => (x === null ? null : x.toString())),
    parse: JSON.parse,
  },
  {
    column: 'text_array',
    sqlType: 'text[]',
    values: [`ARRAY['a b', 'q"x', '', NULL, 'NULL', E'back\\\\slash', '{1,2}', '😀', 'ünï']`],
    expect: (c) => `array_to_json(${c})::text`,
    parse: JSON.parse,
  },
  {
    column: 'numeric_array',
    sqlType: 'numeric(5,2)[]',
    values: ["'{1.50,NaN,NULL,-999.99}'"],
    expect: (c) => `array_to_json(${c}::text[])::text`,
    render: (v: Array<Buffer | string | null>) => v.map((x) => (x === null ? null : decimal(2)(x))),
    parse: JSON.parse,
  },
  {
    column: 'bytea_array',
    sqlType: 'bytea[]',
    values: ["ARRAY['\\x01'::bytea, NULL, '\\x'::bytea]"],
    expect: (c) => jsonArray(c, (x) => `encode(${x}, 'hex')`),
    render: (v: Array<Buffer | null>) => v.map((x) => (x === null ? null : x.toString('hex'))),
    parse: JSON.parse,
  },
  {
    column: 'timestamptz_array',
    sqlType: 'timestamptz[]',
    values: ["ARRAY['2024-01-01 00:00:00+00'::timestamptz, NULL, '1900-01-01 00:00:00+00', 'infinity']"],
    expect: (c) => jsonArray(c, epochMicros),
    render: (v: Array<bigint | null>) => v.map((x) => (x === null ? null : x.toString())),
    parse: JSON.parse,
  },
  {
    column: 'box_array',
    sqlType: 'box[]',
    values: ["ARRAY[box '((1,1),(0,0))', box '((3,3),(2,2))']"],
    expect: (c) => `array_to_json(${c}::text[])::text`,
    parse: JSON.parse,
  },
  {
    column: 'mood_array',
    sqlType: 'mood[]',
    values: ["ARRAY['sad', 'happy']::mood[]"],
    expect: (c) => `array_to_json(${c})::text`,
    parse: JSON.parse,
  },
];

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
/** Every case's values plus one more row, all NULL but for the NOT NULL columns (0 there). */
const ROWS = Math.max(...CASES.map((c) => c.values.length)) + 1;

describe('pg-types against the real Postgres', () => {
  const schema = uniqueName('pgtypes');
  const table = `${ident(schema)}.t`;
  let admin: pg.Client;
  let columns: PgColumn[];

  beforeAll(async () => {
    admin = await connect('admin');
    await admin.query(`CREATE SCHEMA ${ident(schema)}`);
    await admin.query(`SET search_path = ${ident(schema)}, public`);
    await admin.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
    await admin.query('CREATE DOMAIN money2 AS numeric(10,2)');
    await admin.query('CREATE DOMAIN email AS text');
    await admin.query('CREATE TYPE pair AS (a int, b text)');
    const definitions = CASES.map((c) => `${ident(c.column)} ${c.sqlType}`);
    await admin.query(`CREATE TABLE ${table} (id int8 PRIMARY KEY, gone int4, ${definitions.join(', ')})`);
    // a dropped column (mid-table) must not appear
    await admin.query(`ALTER TABLE ${table} DROP COLUMN gone`);
    for (let row = 0; row < ROWS; row++) {
      const values = CASES.map((c) => c.values[row] ?? (c.sqlType.endsWith('NOT NULL') ? '0' : 'NULL'));
      await admin.query(
        `INSERT INTO ${table} (id, ${CASES.map((c) => ident(c.column)).join(', ')}) VALUES (${row}, ${values.join(', ')})`,
      );
    }
    columns = await loadColumns(admin, schema, 't');
  });

  afterAll(async () => {
    await admin?.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
    await admin?.end();
  });

  it('loads the catalog facts of every column', async () => {
    expect(columns.map((c) => c.name)).toEqual(['id', ...CASES.map((c) => c.column)]);
    const byName = new Map(columns.map((c) => [c.name, c]));
    expect(byName.get('id')).toMatchObject({ notNull: true, type: { name: 'int8', kind: 'base' } });
    expect(byName.get('int4')).toMatchObject({
      notNull: false,
      typeMod: -1,
      type: { name: 'int4', kind: 'base' },
    });
    expect(byName.get('numeric_38_10')?.typeMod).toBe(((38 << 16) | 10) + 4);
    expect(byName.get('money2')).toMatchObject({
      notNull: true,
      typeMod: -1,
      type: { kind: 'domain', name: 'money2', baseTypeMod: ((10 << 16) | 2) + 4, base: { name: 'numeric' } },
    });
    expect(byName.get('mood')?.type).toMatchObject({ kind: 'enum', enumLabels: ['sad', 'ok', 'happy'] });
    expect(byName.get('pair')?.type.kind).toBe('composite');
    expect(byName.get('int4range')?.type.kind).toBe('range');
    expect(byName.get('int4multirange')?.type.kind).toBe('other');
    expect(byName.get('int4_array')).toMatchObject({
      dimensions: 1,
      type: { kind: 'array', element: { name: 'int4' } },
    });
    expect(byName.get('int4_matrix')?.dimensions).toBe(2);
    expect(byName.get('box_array')?.type.element).toMatchObject({ name: 'box', delimiter: ';' });
    expect(byName.get('mood_array')?.type.element).toMatchObject({
      kind: 'enum',
      enumLabels: ['sad', 'ok', 'happy'],
    });
    expect(byName.get('numeric_array')?.typeMod).toBe(((5 << 16) | 2) + 4);
  });

  it('refuses an unknown relation', async () => {
    await expect(loadColumns(admin, schema, 'missing')).rejects.toMatchObject({ code: 'REQUEST_REJECTED' });
  });

  it('loads types by OID (as a pgoutput relation names them), with what they reach', async () => {
    const { rows } = await admin.query<{ arr: number; dom: number }>(
      `SELECT 'mood[]'::regtype::oid::int8 AS arr, 'money2'::regtype::oid::int8 AS dom`,
    );
    const { arr, dom } = rows[0] ?? { arr: 0, dom: 0 };
    const types = await loadTypes(admin, [Number(arr), Number(dom)]);
    expect(types.get(Number(arr))).toMatchObject({
      kind: 'array',
      element: { kind: 'enum', enumLabels: ['sad', 'ok', 'happy'] },
    });
    expect(types.get(Number(dom))).toMatchObject({ kind: 'domain', base: { name: 'numeric', kind: 'base' } });
    await expect(loadTypes(admin, [Number(arr), 4_000_000_000])).rejects.toMatchObject({
      code: 'REQUEST_REJECTED',
    });
  });

  // what pgoutput would print for the first two timestamptz values: offsets with minutes and seconds
  it.each([
    ['UTC', ['2024-01-02 03:04:05.123456+00', '1900-01-01 00:00:00+00']],
    ['Asia/Kolkata', ['2024-01-02 08:34:05.123456+05:30', '1900-01-01 05:21:10+05:21:10']],
    ['Europe/Amsterdam', ['2024-01-02 04:04:05.123456+01', '1900-01-01 00:19:32+00:19:32']],
  ])('maps every value exactly through Avro (session time zone %s)', async (timeZone, timestamptzTexts) => {
    // the settings the replication connection keeps; the time zone must not matter
    await admin.query(`SET TimeZone = '${timeZone}'`);
    await admin.query(`SET DateStyle = ISO, MDY`);
    await admin.query(`SET IntervalStyle = postgres`);
    const expectations = CASES.map((c) => (c.expect ?? outputText)(`t.${ident(c.column)}`));
    // raw text of every column, exactly as the type output functions print it (as pgoutput does)
    const { rows } = await admin.query<unknown[]>({
      text: `SELECT t.*, ${expectations.join(', ')} FROM ${table} t ORDER BY id`,
      rowMode: 'array',
      types: { getTypeParser: () => (text: string) => text },
    });
    expect(rows).toHaveLength(ROWS);
    const timestamptz = columns.findIndex((c) => c.name === 'timestamptz');
    expect(rows.slice(0, 2).map((row) => row[timestamptz])).toEqual(timestamptzTexts);

    const type = avsc.Type.forSchema(
      avroRecordSchema('t', `dev.dsrcdc.test.${schema}`, columns) as never,
      avroTypeOptions(),
    );
    const names = avroFieldNames(columns);
    for (const raw of rows) {
      const record: Record<string, unknown> = {};
      columns.forEach((col, i) => {
        record[names[i] ?? ''] = toAvroValue(col, raw[i] as string | null);
      });
      const decoded = type.fromBuffer(type.toBuffer(record)) as Record<string, unknown>;
      expect(decoded).toEqual(record);

      CASES.forEach((c, i) => {
        const value = decoded[names[i + 1] ?? ''];
        const expected = raw[columns.length + i] as string | null;
        const actual = value === null ? null : (c.render ?? ((v: unknown) => v))(value as never);
        expect({ column: c.column, row: raw[0], value: actual }).toEqual({
          column: c.column,
          row: raw[0],
          value: expected === null ? null : (c.parse ?? ((t: string) => t))(expected),
        });
      });
    }
  });
});
