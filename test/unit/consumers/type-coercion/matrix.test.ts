/**
 * The coercion matrix, row by row (docs/coercion.md). Inputs are made the way the pipeline makes
 * them: pgoutput text → the real converter (toAvroValue) → an avsc encode/decode with our options,
 * so each value reaches planColumn in the form the coercion consumer decodes (Buffer decimals,
 * bigint longs, Interval records, nested arrays).
 */
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  type Coerced,
  type CoercionSettings,
  fitNumber,
  floatText,
  planColumn,
  type TimestampSource,
} from '../../../../src/consumers/type-coercion/matrix.js';
import { DsrCdcError } from '../../../../src/errors.js';
import {
  type AvroField,
  avroRecordSchema,
  avroTypeOptions,
  type PgColumn,
  type PgType,
  toAvroValue,
} from '../../../../src/events/pg-types.js';
import { arrayOf, base, numericMod } from '../../../support/pg-types.js';

const mood: PgType = { oid: 0, name: 'mood', kind: 'enum', enumLabels: ['sad', 'happy'] };

const pg = (type: PgType, extra: Partial<PgColumn> = {}): PgColumn => ({
  name: 'c',
  type,
  typeMod: -1,
  notNull: false,
  ...extra,
});

const COLUMNS = {
  int2: pg(base('int2')),
  int4: pg(base('int4')),
  int8: pg(base('int8')),
  numeric5_2: pg(base('numeric'), { typeMod: numericMod(5, 2) }),
  numeric38_10: pg(base('numeric'), { typeMod: numericMod(38, 10) }),
  numeric50_10: pg(base('numeric'), { typeMod: numericMod(50, 10) }),
  numeric3_5: pg(base('numeric'), { typeMod: numericMod(3, 5) }),
  numeric3_m2: pg(base('numeric'), { typeMod: numericMod(3, -2) }),
  numeric13_3: pg(base('numeric'), { typeMod: numericMod(13, 3) }),
  numeric: pg(base('numeric')),
  float4: pg(base('float4')),
  float8: pg(base('float8')),
  bool: pg(base('bool')),
  text: pg(base('text')),
  bpchar: pg(base('bpchar'), { typeMod: 9 }),
  uuid: pg(base('uuid')),
  mood: pg(mood),
  inet: pg(base('inet')),
  timetz: pg(base('timetz')),
  money: pg(base('money')),
  json: pg(base('json')),
  jsonb: pg(base('jsonb')),
  bytea: pg(base('bytea')),
  date: pg(base('date')),
  time: pg(base('time')),
  timestamp: pg(base('timestamp')),
  timestamptz: pg(base('timestamptz')),
  interval: pg(base('interval')),
  int4Array: pg(arrayOf(base('int4'))),
  int4Array2: pg(arrayOf(base('int4')), { dimensions: 2 }),
  numericArray: pg(arrayOf(base('numeric')), { typeMod: numericMod(5, 2) }),
  textArray: pg(arrayOf(base('text'))),
  boolArray: pg(arrayOf(base('bool'))),
  float8Array: pg(arrayOf(base('float8'))),
  jsonbArray: pg(arrayOf(base('jsonb'))),
  byteaArray: pg(arrayOf(base('bytea'))),
  dateArray: pg(arrayOf(base('date'))),
  timestamptzArray: pg(arrayOf(base('timestamptz'))),
  intervalArray: pg(arrayOf(base('interval'))),
} satisfies Record<string, PgColumn>;
type ColumnKey = keyof typeof COLUMNS;

const SETTINGS: CoercionSettings = { unconstrainedNumericScale: 9, columns: {} };

/** The field of a cdc row contract (all nullable, as row images are) holding `column`. */
function fieldOf(column: PgColumn): AvroField {
  const [field] = avroRecordSchema('Row', 'cdc.src.public.t', [column], { allNullable: true }).fields;
  return field as AvroField;
}

/** pgoutput text → toAvroValue → avsc encode + decode: the value the coercion consumer sees. */
function decoded(column: PgColumn, text: string | null): unknown {
  const schema = avroRecordSchema('Row', 'cdc.src.public.t', [column], { allNullable: true });
  const type = avsc.Type.forSchema(schema as never, avroTypeOptions());
  const name = schema.fields[0]?.name as string;
  const record = type.fromBuffer(type.toBuffer({ [name]: toAvroValue(column, text) }));
  return (record as Record<string, unknown>)[name];
}

function coerce(key: ColumnKey, text: string | null, settings = SETTINGS): Coerced {
  const column = COLUMNS[key];
  return planColumn(fieldOf(column) as never, settings).coerce(decoded(column, text));
}

const snowflakeType = (key: ColumnKey, settings = SETTINGS) =>
  planColumn(fieldOf(COLUMNS[key]) as never, settings).snowflakeType;

/** The error `fn` throws, which must be a DsrCdcError. */
function thrown(fn: () => unknown): DsrCdcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DsrCdcError);
    return error as DsrCdcError;
  }
  throw new Error('expected an error');
}

const OUT = (reason: RegExp) => ({ outOfRange: expect.stringMatching(reason) });

describe('Snowflake type of each Postgres type', () => {
  it.each<[ColumnKey, string]>([
    ['int2', 'NUMBER(5,0)'],
    ['int4', 'NUMBER(10,0)'],
    ['int8', 'NUMBER(19,0)'],
    ['numeric5_2', 'NUMBER(5,2)'],
    ['numeric38_10', 'NUMBER(38,10)'],
    // precision beyond Snowflake's 38 keeps the scale and gives up integer digits
    ['numeric50_10', 'NUMBER(38,10)'],
    // numeric(3,5) is decimal(5,5) in the contract; numeric(3,-2) is decimal(5,0)
    ['numeric3_5', 'NUMBER(5,5)'],
    ['numeric3_m2', 'NUMBER(5,0)'],
    ['numeric', 'NUMBER(38,9)'],
    ['float4', 'FLOAT'],
    ['float8', 'FLOAT'],
    ['bool', 'BOOLEAN'],
    ['text', 'VARCHAR'],
    ['bpchar', 'VARCHAR'],
    ['uuid', 'VARCHAR'],
    ['mood', 'VARCHAR'],
    ['inet', 'VARCHAR'],
    ['timetz', 'VARCHAR'],
    ['money', 'VARCHAR'],
    ['json', 'VARIANT'],
    ['jsonb', 'VARIANT'],
    ['bytea', 'BINARY'],
    ['date', 'DATE'],
    ['time', 'TIME(6)'],
    ['timestamp', 'TIMESTAMP_NTZ(6)'],
    ['timestamptz', 'TIMESTAMP_TZ(6)'],
    ['interval', 'VARIANT'],
    ['int4Array', 'ARRAY'],
    ['int4Array2', 'ARRAY'],
    ['textArray', 'ARRAY'],
    ['intervalArray', 'ARRAY'],
  ])('%s → %s', (key, type) => {
    expect(snowflakeType(key)).toBe(type);
  });

  it('takes the scale of unconstrained numeric from the settings', () => {
    expect(snowflakeType('numeric', { unconstrainedNumericScale: 0, columns: {} })).toBe('NUMBER(38,0)');
    expect(coerce('numeric', '1.5', { unconstrainedNumericScale: 0, columns: {} })).toEqual(
      OUT(/fractional/),
    );
  });

  it('names the Snowflake column after the field in upper case and keeps the Postgres name', () => {
    const plan = planColumn(fieldOf(pg(base('text'), { name: 'First Name' })) as never, SETTINGS);
    expect(plan).toMatchObject({ field: 'First_Name', column: 'First Name', target: 'FIRST_NAME' });
  });

  it('refuses a numeric scale beyond Snowflake’s 37, naming the column', () => {
    const column = pg(base('numeric'), { name: 'ratio', typeMod: numericMod(40, 38) });
    const error = thrown(() => planColumn(fieldOf(column) as never, SETTINGS));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.message).toMatch(/"ratio".*scale of 38/);
  });

  it('plans a second interval field, which the contract gives only as a reference by name', () => {
    const columns = [pg(base('interval'), { name: 'a' }), pg(base('interval'), { name: 'b' })];
    const [, second] = avroRecordSchema('Row', 'ns', columns, { allNullable: true }).fields;
    expect(second?.type).toEqual(['null', 'dev.dsrcdc.pg.Interval']);
    expect(planColumn(second as never, SETTINGS).snowflakeType).toBe('VARIANT');
  });
});

// [column, pgoutput text, Snowflake text literal]
const VALUES: Array<[ColumnKey, string, string]> = [
  ['int2', '-32768', '-32768'],
  ['int2', '32767', '32767'],
  ['int4', '-2147483648', '-2147483648'],
  ['int4', '2147483647', '2147483647'],
  ['int4', '0', '0'],
  ['int8', '-9223372036854775808', '-9223372036854775808'],
  ['int8', '9223372036854775807', '9223372036854775807'],
  ['int8', '9007199254740993', '9007199254740993'], // beyond 2^53: no float on the way
  ['numeric5_2', '123.45', '123.45'],
  ['numeric5_2', '-999.99', '-999.99'],
  ['numeric5_2', '1.50', '1.5'],
  ['numeric5_2', '0.00', '0'],
  ['numeric5_2', '-0.01', '-0.01'],
  ['numeric38_10', '1234567890123456789012345678.0123456789', '1234567890123456789012345678.0123456789'],
  ['numeric38_10', '-9999999999999999999999999999.9999999999', '-9999999999999999999999999999.9999999999'],
  ['numeric50_10', '9999999999999999999999999999.0000000001', '9999999999999999999999999999.0000000001'],
  ['numeric3_5', '0.00123', '0.00123'],
  ['numeric3_m2', '-12300', '-12300'],
  ['numeric', '12345678901234567890.12', '12345678901234567890.12'],
  ['numeric', '1.500000000000000', '1.5'], // trailing zeros beyond the scale are not digits lost
  ['numeric', '0.000000001', '0.000000001'],
  ['numeric', '-0.000', '0'],
  ['numeric', '00012', '12'],
  ['numeric', '99999999999999999999999999999.999999999', '99999999999999999999999999999.999999999'],
  ['float8', '1.5', '1.5'],
  ['float8', 'NaN', 'NaN'],
  ['float8', 'Infinity', 'inf'],
  ['float8', '-Infinity', '-inf'],
  ['float8', '-0', '-0'],
  ['float8', '1.7976931348623157e+308', '1.7976931348623157e+308'],
  ['float8', '5e-324', '5e-324'],
  ['float4', 'NaN', 'NaN'],
  ['float4', '-0', '-0'],
  ['float4', '-Infinity', '-inf'],
  ['bool', 't', 'true'],
  ['bool', 'f', 'false'],
  ['text', '', ''],
  ['text', 'ünïcødé, "quoted" \\ back\nnew line', 'ünïcødé, "quoted" \\ back\nnew line'],
  ['bpchar', 'ab       ', 'ab       '],
  ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['mood', 'happy', 'happy'],
  ['inet', '2001:db8::1/64', '2001:db8::1/64'],
  ['timetz', '04:05:06.789+05:30', '04:05:06.789+05:30'],
  ['money', '$1,234.50', '$1,234.50'],
  ['json', '{"b": [1, 2.50, {"c": null}], "a": "x"}', '{"b": [1, 2.50, {"c": null}], "a": "x"}'],
  ['jsonb', '{"a": "x", "b": [1, 2.50, {"c": null}]}', '{"a": "x", "b": [1, 2.50, {"c": null}]}'],
  ['jsonb', '12345678901234567890123', '12345678901234567890123'],
  ['bytea', '\\xdeadbeef00', 'DEADBEEF00'],
  ['bytea', '\\x', ''],
  ['date', '1970-01-01', '1970-01-01'],
  ['date', '1969-12-31', '1969-12-31'],
  ['date', '2024-02-29', '2024-02-29'],
  ['date', '0001-01-01', '0001-01-01'],
  ['date', '9999-12-31', '9999-12-31'],
  ['time', '00:00:00', '00:00:00.000000'],
  ['time', '23:59:59.999999', '23:59:59.999999'],
  ['time', '04:05:06.7', '04:05:06.700000'],
  ['timestamp', '1970-01-01 00:00:00', '1970-01-01 00:00:00.000000'],
  ['timestamp', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456'],
  ['timestamp', '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999'],
  ['timestamp', '0001-01-01 00:00:00', '0001-01-01 00:00:00.000000'],
  ['timestamp', '9999-12-31 23:59:59.999999', '9999-12-31 23:59:59.999999'],
  // timestamptz: the same instant in UTC, ISO 8601 with its +00:00 offset attached
  ['timestamptz', '2024-02-29 13:14:15.123456+05:30', '2024-02-29T07:44:15.123456+00:00'],
  ['timestamptz', '2024-01-01 00:30:00-01', '2024-01-01T01:30:00.000000+00:00'],
  ['timestamptz', '1969-12-31 23:59:59.000001+00', '1969-12-31T23:59:59.000001+00:00'],
  ['timestamptz', '1900-01-01 00:00:00+00:19:32', '1899-12-31T23:40:28.000000+00:00'],
  ['timestamptz', '0001-01-01 00:00:00+00', '0001-01-01T00:00:00.000000+00:00'],
  // interval: Postgres' three fields, never normalised into one another
  ['interval', '1 year 2 mons -3 days -04:05:06.789', '{"months":14,"days":-3,"micros":-14706789000}'],
  ['interval', '00:00:00', '{"months":0,"days":0,"micros":0}'],
  ['interval', '-1 days +00:00:00.000001', '{"months":0,"days":-1,"micros":1}'],
  // arrays: JSON, elements coerced as their column type would be
  ['int4Array', '{1,2,NULL,-3}', '[1,2,null,-3]'],
  ['int4Array', '{}', '[]'],
  ['int4Array2', '{{1,2},{3,NULL}}', '[[1,2],[3,null]]'],
  ['numericArray', '{1.50,NULL,-2.25,0.00}', '[1.5,null,-2.25,0]'],
  ['textArray', '{"a,b","say \\"hi\\"",NULL,"NULL",plain}', '["a,b","say \\"hi\\"",null,"NULL","plain"]'],
  ['boolArray', '{t,f,NULL}', '[true,false,null]'],
  ['float8Array', '{NaN,1.5,-Infinity,-0}', '["NaN",1.5,"-inf",-0]'],
  ['jsonbArray', '{"{\\"a\\": [1, 2]}",NULL}', '[{"a": [1, 2]},null]'],
  ['byteaArray', '{"\\\\xdead",NULL}', '["DEAD",null]'],
  ['dateArray', '{1970-01-01,0001-01-01}', '["1970-01-01","0001-01-01"]'],
  [
    'timestamptzArray',
    '{"2024-01-01 00:00:00+02","1970-01-01 00:00:00.000001+00"}',
    '["2023-12-31T22:00:00.000000+00:00","1970-01-01T00:00:00.000001+00:00"]',
  ],
  ['intervalArray', '{"1 mon",NULL}', '[{"months":1,"days":0,"micros":0},null]'],
];

describe('warehouse text of each value', () => {
  it.each(VALUES)('%s %j → %j', (key, input, expected) => {
    expect(coerce(key, input)).toEqual({ text: expected });
  });

  it('keeps SQL NULL as NULL for every type', () => {
    for (const key of Object.keys(COLUMNS) as ColumnKey[]) {
      expect(coerce(key, null)).toEqual({ text: null });
    }
  });

  it('writes float4 values as the exact double they are (no re-rounding to 7 digits)', () => {
    const coerced = coerce('float4', '0.1') as { text: string };
    expect(coerced.text).toBe('0.10000000149011612');
    expect(Number(coerced.text)).toBe(Math.fround(0.1));
  });

  it('writes arrays and intervals as JSON Snowflake can parse', () => {
    for (const [key, input] of VALUES) {
      if (snowflakeType(key) === 'ARRAY' || key === 'interval' || key === 'jsonb') {
        expect(() => JSON.parse((coerce(key, input) as { text: string }).text)).not.toThrow();
      }
    }
  });

  it('floatText keeps the special values Snowflake’s FLOAT holds', () => {
    expect([Number.NaN, Infinity, -Infinity, -0, 0, 2.5].map(floatText)).toEqual([
      'NaN',
      'inf',
      '-inf',
      '-0',
      '0',
      '2.5',
    ]);
  });
});

// [column, pgoutput text, reason]: values the target type cannot hold
const OUT_OF_RANGE: Array<[ColumnKey, string, RegExp]> = [
  ['numeric5_2', 'NaN', /NaN has no NUMBER form/],
  ['numeric38_10', 'NaN', /NaN/],
  ['numeric50_10', '10000000000000000000000000000', /more than 28 integer digits/],
  ['numeric50_10', '-12345678901234567890123456789.5', /more than 28 integer digits/],
  ['numeric', 'NaN', /NaN has no NUMBER form/],
  ['numeric', 'Infinity', /has no NUMBER form/],
  ['numeric', '-Infinity', /has no NUMBER form/],
  ['numeric', '0.0000000001', /more than 9 fractional digits/],
  ['numeric', '1.1234567891', /more than 9 fractional digits/],
  ['numeric', '100000000000000000000000000000', /more than 29 integer digits/],
  ['date', 'infinity', /outside years 1 to 9999/],
  ['date', '-infinity', /outside years 1 to 9999/],
  ['date', '0001-12-31 BC', /outside years 1 to 9999/],
  ['date', '10000-01-01', /outside years 1 to 9999/],
  ['time', '24:00:00', /24:00:00 has no TIME form/],
  ['timestamp', 'infinity', /outside years 1 to 9999/],
  ['timestamp', '-infinity', /outside years 1 to 9999/],
  ['timestamp', '0001-12-31 23:59:59.999999 BC', /outside years 1 to 9999/],
  ['timestamp', '10000-01-01 00:00:00', /outside years 1 to 9999/],
  ['timestamptz', 'infinity', /outside years 1 to 9999/],
  ['timestamptz', '-infinity', /outside years 1 to 9999/],
  // 0001-01-01 00:30 at +01:00 is 0000-12-31 23:30 UTC
  ['timestamptz', '0001-01-01 00:30:00+01', /outside years 1 to 9999/],
  ['numericArray', '{1.00,NaN}', /an element: numeric NaN/],
  ['timestamptzArray', '{infinity}', /an element: .*outside years 1 to 9999/],
  ['dateArray', '{NULL,-infinity}', /an element/],
];

describe('values out of range', () => {
  it.each(OUT_OF_RANGE)('%s %j is out of range', (key, input, reason) => {
    expect(coerce(key, input)).toEqual(OUT(reason));
  });

  it('never puts the value into the reason', () => {
    for (const [key, input] of OUT_OF_RANGE) {
      const { outOfRange } = coerce(key, input) as { outOfRange: string };
      const digits = input.replace(/[^0-9]/g, '');
      if (digits.length > 2) expect(outOfRange).not.toContain(digits);
    }
    // the date sentinels are not echoed either
    expect((coerce('date', 'infinity') as { outOfRange: string }).outOfRange).not.toMatch(/2147483647/);
  });

  it('puts an over-long text out of range instead of failing the load', () => {
    const plan = planColumn(fieldOf(COLUMNS.text) as never, SETTINGS);
    expect(plan.coerce('x'.repeat(16 * 1024 * 1024))).toEqual({ text: 'x'.repeat(16 * 1024 * 1024) });
    expect(plan.coerce(`${'x'.repeat(16 * 1024 * 1024 - 1)}é`)).toEqual(OUT(/longer than 16 MB/));
    const bytea = planColumn(fieldOf(COLUMNS.bytea) as never, SETTINGS);
    expect(bytea.coerce(Buffer.alloc(8 * 1024 * 1024 + 1))).toEqual(OUT(/longer than 8 MB/));
  });
});

describe('values that cannot be read', () => {
  const field = (key: ColumnKey, name: string) => fieldOf({ ...COLUMNS[key], name });

  it.each<[string, ColumnKey, unknown]>([
    ['unconstrained numeric that is no number', 'numeric', '12ab-secret-34'],
    ['decimal union holding a string other than NaN', 'numeric5_2', 'secret-9876'],
    ['array column holding no array', 'int4Array', 'secret-4321'],
  ])('%s → EVENT_INVALID naming the column, not the value', (_, key, value) => {
    const plan = planColumn(field(key, 'salary') as never, SETTINGS);
    const error = thrown(() => plan.coerce(value));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.field).toBe('salary');
    expect(error.message).toContain('"salary"');
    expect(error.message).not.toContain(String(value));
  });
});

describe('per-column timestamp overrides', () => {
  const settings = (column: string, source: TimestampSource): CoercionSettings => ({
    unconstrainedNumericScale: 9,
    columns: { [column]: source },
  });
  const overridden = (key: ColumnKey, source: TimestampSource, name = 'seen at') => {
    const column = { ...COLUMNS[key], name };
    const plan = planColumn(fieldOf(column) as never, settings(name, source));
    return { plan, coerce: (text: string | null) => plan.coerce(decoded(column, text)) };
  };
  const SECONDS: TimestampSource = { from: 'epoch-seconds' };
  const MILLIS: TimestampSource = { from: 'epoch-millis' };

  it('applies by Postgres column name and makes a TIMESTAMP_TZ', () => {
    expect(overridden('int8', SECONDS).plan).toMatchObject({
      column: 'seen at',
      target: 'SEEN_AT',
      snowflakeType: 'TIMESTAMP_TZ(6)',
    });
    // another column of the table is not affected
    const other = planColumn(
      fieldOf({ ...COLUMNS.int8, name: 'count' }) as never,
      settings('seen at', SECONDS),
    );
    expect(other.snowflakeType).toBe('NUMBER(19,0)');
  });

  it.each<[ColumnKey, TimestampSource, string, string]>([
    ['int8', SECONDS, '1700000000', '2023-11-14T22:13:20.000000+00:00'],
    ['int8', SECONDS, '0', '1970-01-01T00:00:00.000000+00:00'],
    ['int8', SECONDS, '-1', '1969-12-31T23:59:59.000000+00:00'],
    ['int4', SECONDS, '2147483647', '2038-01-19T03:14:07.000000+00:00'],
    ['int8', MILLIS, '1700000000123', '2023-11-14T22:13:20.123000+00:00'],
    ['int8', MILLIS, '-1', '1969-12-31T23:59:59.999000+00:00'],
    ['numeric13_3', SECONDS, '1700000000.123', '2023-11-14T22:13:20.123000+00:00'],
    ['numeric13_3', MILLIS, '-1.001', '1969-12-31T23:59:59.998999+00:00'],
    ['numeric', SECONDS, '1700000000.123456000', '2023-11-14T22:13:20.123456+00:00'],
    ['numeric', SECONDS, '-0.5', '1969-12-31T23:59:59.500000+00:00'],
    ['numeric', MILLIS, '1700000000123.456', '2023-11-14T22:13:20.123456+00:00'],
    ['text', SECONDS, '1700000000.5', '2023-11-14T22:13:20.500000+00:00'],
    ['float8', SECONDS, '1700000000.25', '2023-11-14T22:13:20.250000+00:00'],
  ])('%s %j: %j → %j', (key, source, input, expected) => {
    expect(overridden(key, source).coerce(input)).toEqual({ text: expected });
  });

  it('never rounds an epoch finer than a microsecond, and bounds it to years 1 to 9999', () => {
    expect(overridden('numeric', SECONDS).coerce('1700000000.1234567')).toEqual(
      OUT(/finer than a microsecond/),
    );
    expect(overridden('numeric', MILLIS).coerce('1.0005')).toEqual(OUT(/finer than a microsecond/));
    expect(overridden('int8', SECONDS).coerce('253402300800')).toEqual(OUT(/outside years 1 to 9999/));
    expect(overridden('int8', SECONDS).coerce('253402300799')).toEqual({
      text: '9999-12-31T23:59:59.000000+00:00',
    });
    expect(overridden('int8', MILLIS).coerce('-62135596800001')).toEqual(OUT(/outside years 1 to 9999/));
    expect(overridden('int8', SECONDS).coerce(null)).toEqual({ text: null });
  });

  it('refuses an epoch that is no number without echoing it', () => {
    const error = thrown(() => overridden('text', SECONDS).coerce('ssn 078-05-1120'));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.field).toBe('seen at');
    expect(error.message).not.toMatch(/078|1120/);
  });

  const DAY_FIRST: TimestampSource = { from: 'text', format: 'dd/MM/yyyy HH:mm' };
  const BERLIN: TimestampSource = { from: 'text', format: 'dd/MM/yyyy HH:mm:ss.SSS', zone: 'Europe/Berlin' };

  it('reads text without a zone as a wall clock (TIMESTAMP_NTZ)', () => {
    const { plan, coerce: c } = overridden('text', DAY_FIRST);
    expect(plan.snowflakeType).toBe('TIMESTAMP_NTZ(6)');
    expect(c('25/11/2026 14:30')).toEqual({ text: '2026-11-25 14:30:00.000000' });
    expect(c('01/01/0001 00:00')).toEqual({ text: '0001-01-01 00:00:00.000000' });
  });

  it('reads text in a zone as an instant in UTC (TIMESTAMP_TZ), across DST', () => {
    const { plan, coerce: c } = overridden('text', BERLIN);
    expect(plan.snowflakeType).toBe('TIMESTAMP_TZ(6)');
    expect(c('25/11/2026 14:30:00.250')).toEqual({ text: '2026-11-25T13:30:00.250000+00:00' });
    expect(c('25/07/2026 14:30:00.250')).toEqual({ text: '2026-07-25T12:30:00.250000+00:00' });
  });

  it('sends a text that does not match the format to the DLQ without the value', () => {
    for (const value of ['2026-11-25 14:30', 'alice@example.test', '31/02/2026 10:00']) {
      const error = thrown(() => overridden('text', DAY_FIRST).coerce(value));
      expect(error.code).toBe('EVENT_INVALID');
      expect(error.field).toBe('seen at');
      expect(error.message).toContain('dd/MM/yyyy HH:mm');
      expect(error.message).not.toContain(value);
    }
  });

  it('refuses an unknown zone when the column is planned, as a config error', () => {
    const error = thrown(() => overridden('text', { ...DAY_FIRST, zone: 'Europe/Berln' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/"seen at" is not an IANA time zone/);
  });

  it('refuses a text format on a column that does not hold text', () => {
    const error = thrown(() => overridden('int8', DAY_FIRST).coerce('1700000000'));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.message).not.toContain('1700000000');
  });
});

describe('fitNumber', () => {
  it.each<[string, number, number, Coerced]>([
    ['123.4500', 5, 2, { text: '123.45' }],
    ['123.456', 5, 2, OUT(/more than 2 fractional digits/)],
    ['1234.5', 5, 2, OUT(/more than 3 integer digits/)],
    ['-0.00', 5, 2, { text: '0' }],
    ['0.5', 1, 1, { text: '0.5' }],
    ['1', 1, 1, OUT(/integer digits/)],
    ['00000123', 3, 0, { text: '123' }],
    ['1e5', 10, 0, OUT(/not a decimal number/)],
    ['', 10, 0, OUT(/not a decimal number/)],
  ])('%j in NUMBER(%i,%i)', (input, p, s, expected) => {
    expect(fitNumber(input, p, s)).toEqual(expected);
  });
});
