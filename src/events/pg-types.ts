/**
 * Postgres column types → Avro schemas, and pgoutput's text values → the values avsc encodes.
 *
 * Pure: the caller hands in catalog facts (loaded by pg-catalog.ts). docs/type-mapping.md is the
 * table of every mapping, special value and fallback; this file is its implementation.
 *
 * Contracts:
 * - Input values are Postgres' text output with the server defaults DateStyle=ISO,
 *   IntervalStyle=postgres and bytea_output=hex; the replication connection must keep them.
 * - Every Avro `long` is a JS bigint. Encode and decode only with `avroTypeOptions()`: avsc's own
 *   long is a JS number and refuses values beyond 2^53.
 * - No avsc logical types are registered: logical-typed values travel in their underlying form
 *   (decimal → Buffer with the two's-complement unscaled integer, timestamp → bigint µs,
 *   date → int days). The logicalType attributes are there for other Avro readers.
 * - Errors are DsrCdcError EVENT_INVALID naming the column and the type, never the value: values
 *   may be personal data.
 * - Every Avro type a column maps to carries `pg.type` (the Postgres type name); every field
 *   carries `pg.column` (the exact Postgres column name).
 * - PgType and PgColumn objects are treated as immutable: mappings are cached per column object.
 */
import avsc from 'avsc';
import { DsrCdcError } from '../errors.js';

/** Catalog facts of one Postgres type (pg_type, pg_enum). */
export interface PgType {
  oid: number;
  /** pg_type.typname, e.g. 'int4', '_text', 'mood'. */
  name: string;
  kind: 'base' | 'enum' | 'array' | 'domain' | 'composite' | 'range' | 'other';
  /** Arrays: the element type. */
  element?: PgType;
  /** Domains: the base type; a domain maps as its base. */
  base?: PgType;
  /** Domains: the typmod the domain applies to its base (pg_type.typtypmod); -1 or absent for none. */
  baseTypeMod?: number;
  /** Enums: the labels in sort order. */
  enumLabels?: string[];
  /** pg_type.typdelim: separates this type's elements in array literals; ',' when absent (box uses ';'). */
  delimiter?: string;
}

/** Catalog facts of one column (pg_attribute). */
export interface PgColumn {
  name: string;
  type: PgType;
  /** pg_attribute.atttypmod: e.g. numeric(p,s); -1 for none. For arrays it applies to the elements. */
  typeMod: number;
  notNull: boolean;
  /**
   * pg_attribute.attndims: declared array dimensions; 0 or absent means 1. Postgres does not enforce
   * it, so a value with another dimensionality is refused rather than silently reshaped.
   */
  dimensions?: number;
}

/** An Avro schema in its JSON form: a type name, a union, or a type object. */
export type AvroType = string | AvroType[] | AvroTypeObject;
export interface AvroTypeObject {
  type: string;
  [property: string]: unknown;
}
export interface AvroField {
  name: string;
  type: AvroType;
  default?: null;
  [property: string]: unknown;
}
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace: string;
  fields: AvroField[];
  [property: string]: unknown;
}

/** Namespace of the named types this mapping defines (the interval record). */
export const PG_TYPES_NAMESPACE = 'dev.dsrcdc.pg';

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400_000_000n;

// ---------------------------------------------------------------------------------------------
// avsc options: Avro long ⇄ bigint

/**
 * Avro long as JS bigint over the whole int64 range. Writes accept bigints and safe-integer
 * numbers (so hand-written records with small longs still encode); reads always give bigint.
 * Avro JSON (type.toString) renders longs beyond 2^53 as decimal strings so no digit is lost.
 */
const BIGINT_LONG = avsc.types.LongType.__with({
  fromBuffer: (buf: Buffer) => buf.readBigInt64LE(0),
  toBuffer: (n: bigint | number) => {
    const buf = Buffer.alloc(8);
    buf.writeBigInt64LE(BigInt(n));
    return buf;
  },
  fromJSON: (json: bigint | number | string) => BigInt(json),
  toJSON: (n: bigint) =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString(),
  isValid: (n: unknown) =>
    (typeof n === 'bigint' && n >= INT64_MIN && n <= INT64_MAX) || Number.isSafeInteger(n),
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});

/**
 * Fast paths for longs within ±(2^52 - 1) (positions, ids, times, counts: nearly all of them):
 * avsc's own number varint, instead of an 8-byte buffer per value (a tenth of the source's CPU).
 * Other values take the hooks above. The bytes are the same Avro zigzag varint either way.
 */
interface AvscTap {
  pos: number;
  writeLong(n: number): void;
  readLong(): number;
}
interface AvscLongInternals {
  _write(tap: AvscTap, value: unknown): void;
  _read(tap: AvscTap): bigint;
}
// avsc's varint arithmetic on doubles is exact while the zigzag value (2|n| or 2|n|-1) stays below 2^53
const FAST_LIMIT = 2 ** 52 - 1;
const FAST_MIN = BigInt(-FAST_LIMIT);
const FAST_MAX = BigInt(FAST_LIMIT);
const fast = (n: number) => n >= -FAST_LIMIT && n <= FAST_LIMIT && Number.isInteger(n);
const SLOW_LONG = BIGINT_LONG as unknown as AvscLongInternals;
// avsc freezes its types, so the fast paths live on an object that inherits the type
const FAST_LONG: typeof BIGINT_LONG = Object.create(BIGINT_LONG, {
  _write: {
    value(this: AvscLongInternals, tap: AvscTap, value: unknown) {
      if (typeof value === 'bigint' ? value >= FAST_MIN && value <= FAST_MAX : fast(value as number)) {
        tap.writeLong(Number(value));
      } else {
        SLOW_LONG._write.call(this, tap, value);
      }
    },
  },
  _read: {
    value(this: AvscLongInternals, tap: AvscTap): bigint {
      const start = tap.pos;
      const n = tap.readLong();
      // a zigzag value beyond 2^53 is rounded, but only ever to a result outside the fast range
      if (fast(n)) return BigInt(n);
      tap.pos = start;
      return SLOW_LONG._read.call(this, tap);
    },
  },
});

/**
 * The options every avsc `Type.forSchema` of a dsr-cdc schema needs; for the registry client pass
 * them as `new SchemaRegistry(args, { [SchemaType.AVRO]: avroTypeOptions() })`. A fresh object per
 * call, because avsc stores its registry of named types in the options it is given. The hook
 * turns every `long` (with or without a logicalType) into the bigint long; it takes precedence
 * over any `logicalTypes` for longs.
 */
export function avroTypeOptions(): Partial<avsc.ForSchemaOptions> {
  return {
    typeHook: (schema) => {
      const name = typeof schema === 'string' ? schema : isTypeObject(schema) ? schema.type : undefined;
      return name === 'long' ? FAST_LONG : undefined;
    },
  };
}

function isTypeObject(schema: unknown): schema is { type: unknown } {
  return typeof schema === 'object' && schema !== null && !Array.isArray(schema) && 'type' in schema;
}

// ---------------------------------------------------------------------------------------------
// Names

const AVRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * An Avro name for any string: every character outside [A-Za-z0-9_] becomes '_', and a '_' is
 * prefixed when the result does not start with a letter or '_' (or is empty). Same rule as
 * envelope.ts avroNamespace. Valid names come back unchanged.
 */
export function avroName(raw: string): string {
  const clean = raw.replace(/[^A-Za-z0-9_]/g, '_');
  return AVRO_NAME.test(clean) ? clean : `_${clean}`;
}

/**
 * The Avro field name of each column, in column order. Names that already are Avro names are
 * kept; every other name is sanitised with avroName and, if that collides with a kept name or an
 * earlier sanitised one, gets the first free suffix `_2`, `_3`, … . Columns are taken in attnum
 * order, so adding a column never renames an existing field.
 */
export function avroFieldNames(columns: readonly PgColumn[]): string[] {
  const taken = new Set(columns.map((c) => c.name).filter((n) => AVRO_NAME.test(n)));
  return columns.map(({ name }) => {
    if (AVRO_NAME.test(name)) return name;
    const base = avroName(name);
    let candidate = base;
    for (let i = 2; taken.has(candidate); i++) candidate = `${base}_${i}`;
    taken.add(candidate);
    return candidate;
  });
}

// ---------------------------------------------------------------------------------------------
// The mapping

/** Text → Avro value for one non-null value; `column` only names the column in errors. */
type Convert = (text: string, column: string) => unknown;

/** The non-null Avro type of a Postgres type and the conversion of its text form. */
interface Mapping {
  schema: AvroType;
  convert: Convert;
}

const cache = new WeakMap<PgColumn, Mapping>();

function columnMapping(column: PgColumn): Mapping {
  let mapping = cache.get(column);
  if (mapping === undefined) {
    mapping = typeMapping(column.type, column.typeMod, Math.max(1, column.dimensions ?? 0));
    cache.set(column, mapping);
  }
  return mapping;
}

function typeMapping(type: PgType, typeMod: number, dimensions: number): Mapping {
  switch (type.kind) {
    case 'domain': {
      if (type.base === undefined) throw internal(`domain type ${type.name} has no base type`);
      const baseMod = type.baseTypeMod !== undefined && type.baseTypeMod >= 0 ? type.baseTypeMod : typeMod;
      return typeMapping(type.base, baseMod, dimensions);
    }
    case 'array': {
      if (type.element === undefined) throw internal(`array type ${type.name} has no element type`);
      return arrayMapping(type, type.element, typeMod, dimensions);
    }
    case 'enum':
      // Not an Avro enum: a label added with ALTER TYPE … ADD VALUE would break readers.
      return {
        schema: { type: 'string', 'pg.type': type.name, 'pg.labels': type.enumLabels ?? [] },
        convert: same,
      };
    case 'base':
      return baseMapping(type.name, typeMod) ?? textFallback(type.name);
    default:
      return textFallback(type.name);
  }
}

/** Everything without a dedicated mapping: the exact Postgres text form as a string. */
function textFallback(pgType: string): Mapping {
  return { schema: { type: 'string', 'pg.type': pgType }, convert: same };
}

const same: Convert = (text) => text;

function baseMapping(name: string, typeMod: number): Mapping | undefined {
  const tag = { 'pg.type': name };
  switch (name) {
    case 'int2':
      return { schema: { type: 'int', ...tag }, convert: integer(name, -32768, 32767) };
    case 'int4':
      return { schema: { type: 'int', ...tag }, convert: integer(name, INT32_MIN, INT32_MAX) };
    case 'int8':
      return { schema: { type: 'long', ...tag }, convert: int8 };
    case 'numeric':
      return numericMapping(typeMod);
    case 'float4':
      return { schema: { type: 'float', ...tag }, convert: (t, c) => Math.fround(float(t, c, name)) };
    case 'float8':
      return { schema: { type: 'double', ...tag }, convert: (t, c) => float(t, c, name) };
    case 'bool':
      return { schema: { type: 'boolean', ...tag }, convert: bool };
    case 'text':
    case 'varchar':
    case 'bpchar':
    case 'name':
    case 'citext':
    case 'inet':
    case 'cidr':
    case 'macaddr':
    case 'macaddr8':
      return { schema: { type: 'string', ...tag }, convert: same };
    case 'json':
    case 'jsonb':
      // `pg.type` json/jsonb is the marker that the string is JSON text (not a logicalType: Avro
      // defines none for JSON, and an unknown logicalType is silently dropped by some readers).
      return { schema: { type: 'string', ...tag }, convert: same };
    case 'uuid':
      return { schema: { type: 'string', logicalType: 'uuid', ...tag }, convert: uuid };
    case 'bytea':
      return { schema: { type: 'bytes', ...tag }, convert: bytea };
    case 'date':
      return { schema: { type: 'int', logicalType: 'date', ...tag }, convert: date };
    case 'time':
      return { schema: { type: 'long', logicalType: 'time-micros', ...tag }, convert: time };
    case 'timetz':
      return { schema: { type: 'string', ...tag }, convert: timetz };
    case 'timestamp':
      return {
        schema: { type: 'long', logicalType: 'local-timestamp-micros', ...tag },
        convert: (t, c) => timestamp(t, c, false),
      };
    case 'timestamptz':
      return {
        schema: { type: 'long', logicalType: 'timestamp-micros', ...tag },
        convert: (t, c) => timestamp(t, c, true),
      };
    case 'interval':
      return { schema: intervalSchema(), convert: interval };
    default:
      return undefined;
  }
}

/** An error about one value: names the column and the type, never the value. */
function invalid(column: string, pgType: string, problem: string): DsrCdcError {
  return new DsrCdcError('EVENT_INVALID', `column "${column}" (${pgType}): ${problem}`, { field: column });
}

function internal(message: string): DsrCdcError {
  return new DsrCdcError('INTERNAL', message);
}

const MALFORMED = 'malformed value';
const OUT_OF_RANGE = 'value out of range';

// ---------------------------------------------------------------------------------------------
// Integers, floats, booleans, uuid, bytea

const INTEGER = /^-?\d+$/;

function integer(pgType: string, min: number, max: number): Convert {
  return (text, column) => {
    if (!INTEGER.test(text)) throw invalid(column, pgType, MALFORMED);
    const n = Number(text);
    if (n < min || n > max) throw invalid(column, pgType, OUT_OF_RANGE);
    return n;
  };
}

const int8: Convert = (text, column) => {
  if (!INTEGER.test(text)) throw invalid(column, 'int8', MALFORMED);
  const n = BigInt(text);
  if (n < INT64_MIN || n > INT64_MAX) throw invalid(column, 'int8', OUT_OF_RANGE);
  return n;
};

const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$|^NaN$|^[+-]?Infinity$/;

/** NaN and ±Infinity are valid Avro float/double values and pass through. */
function float(text: string, column: string, pgType: string): number {
  if (!FLOAT.test(text)) throw invalid(column, pgType, MALFORMED);
  return Number(text);
}

const bool: Convert = (text, column) => {
  if (text === 't') return true;
  if (text === 'f') return false;
  throw invalid(column, 'bool', MALFORMED);
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const uuid: Convert = (text, column) => {
  if (!UUID.test(text)) throw invalid(column, 'uuid', MALFORMED);
  return text;
};

const BYTEA_HEX = /^\\x(?:[0-9a-fA-F]{2})*$/;

/** Only the hex output format (bytea_output=hex, the default since Postgres 9.0). */
const bytea: Convert = (text, column) => {
  if (!BYTEA_HEX.test(text))
    throw invalid(column, 'bytea', 'malformed value (expected hex format, bytea_output=hex)');
  return Buffer.from(text.slice(2), 'hex');
};

// ---------------------------------------------------------------------------------------------
// numeric

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;
const NUMERIC_TEXT = /^-?\d+(?:\.\d+)?$|^NaN$|^-?Infinity$/;

/**
 * numeric(p,s) → Avro decimal (bytes) of the declared precision and scale, in a union with a
 * string that carries only 'NaN' (the one special value a constrained numeric can hold).
 * numeric(p,s) with s < 0 (Postgres 15+) → decimal(p−s, 0); with s > p → decimal(s, s): both hold
 * every value of the column exactly and satisfy Avro's 0 ≤ scale ≤ precision.
 * Unconstrained numeric → string with the exact decimal text (also 'NaN', 'Infinity',
 * '-Infinity'): its scale varies per value, which Avro's decimal cannot express.
 */
function numericMapping(typeMod: number): Mapping {
  const tag = { 'pg.type': 'numeric' };
  if (typeMod < 4) {
    return {
      schema: { type: 'string', ...tag },
      convert: (text, column) => {
        if (!NUMERIC_TEXT.test(text)) throw invalid(column, 'numeric', MALFORMED);
        return text;
      },
    };
  }
  // Postgres packs ((precision << 16) | (scale & 0x7ff)) + VARHDRSZ; scale is 11-bit signed.
  const precision = ((typeMod - 4) >> 16) & 0xffff;
  const scale = (((typeMod - 4) & 0x7ff) ^ 1024) - 1024;
  const avroScale = Math.max(scale, 0);
  const avroPrecision = scale < 0 ? precision - scale : Math.max(precision, scale);
  return {
    schema: [
      { type: 'bytes', logicalType: 'decimal', precision: avroPrecision, scale: avroScale, ...tag },
      { type: 'string', ...tag },
    ],
    convert: (text, column) => {
      if (text === 'NaN') return text;
      const match = DECIMAL.exec(text);
      if (match === null) throw invalid(column, 'numeric', MALFORMED);
      const [, sign, whole = '', fraction = ''] = match;
      if (fraction.length > avroScale)
        throw invalid(column, 'numeric', 'more fractional digits than the scale');
      const unscaled = BigInt(`${sign}${whole}${fraction.padEnd(avroScale, '0')}`);
      const digits = (unscaled < 0n ? -unscaled : unscaled).toString().length;
      if (unscaled !== 0n && digits > avroPrecision) throw invalid(column, 'numeric', OUT_OF_RANGE);
      return twosComplement(unscaled);
    },
  };
}

/** Big-endian two's complement in the fewest bytes (Avro decimal, like Java's BigInteger). */
function twosComplement(n: bigint): Buffer {
  let bytes = 1;
  while (n < -(1n << BigInt(8 * bytes - 1)) || n >= 1n << BigInt(8 * bytes - 1)) bytes++;
  const unsigned = n < 0n ? (1n << BigInt(8 * bytes)) + n : n;
  return Buffer.from(unsigned.toString(16).padStart(bytes * 2, '0'), 'hex');
}

/**
 * The decimal text of an Avro decimal (the inverse of the numeric(p,s) conversion): for consumers
 * that need the number, e.g. to load it into a warehouse column without going through a float.
 */
export function decimalText(bytes: Buffer, scale: number): string {
  let n = bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
  if (bytes.length > 0 && ((bytes[0] ?? 0) & 0x80) !== 0) n -= 1n << BigInt(bytes.length * 8);
  const digits = (n < 0n ? -n : n).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return n < 0n ? `-${text}` : text;
}

// ---------------------------------------------------------------------------------------------
// Dates and times (proleptic Gregorian, astronomical years: 1 BC = year 0, as Postgres computes)

/** Sentinels for Postgres ±infinity: the int/long extremes, which no finite value maps to. */
const DATE_INFINITY = INT32_MAX;
const DATE_MINUS_INFINITY = INT32_MIN;
const TIMESTAMP_INFINITY = INT64_MAX;
const TIMESTAMP_MINUS_INFINITY = INT64_MIN;

/** Days from 1970-01-01 to a civil date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * ((month + 9) % 12) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970 of 'YYYY-MM-DD' (+ ' BC'), or undefined when not a valid date. */
function civilDays(yearText: string, monthText: string, dayText: string, bc: boolean): number | undefined {
  const year = bc ? 1 - Number(yearText) : Number(yearText);
  const month = Number(monthText);
  const day = Number(dayText);
  if (month < 1 || month > 12 || day < 1) return undefined;
  const monthDays = month === 2 && isLeap(year) ? 29 : (MONTH_DAYS[month - 1] ?? 0);
  return day > monthDays ? undefined : daysFromCivil(year, month, day);
}

const DATE = /^(\d{4,})-(\d{2})-(\d{2})( BC)?$/;

/** Avro date (int days since 1970); 'infinity' / '-infinity' → INT32_MAX / INT32_MIN. */
const date: Convert = (text, column) => {
  if (text === 'infinity') return DATE_INFINITY;
  if (text === '-infinity') return DATE_MINUS_INFINITY;
  const m = DATE.exec(text);
  const days = m === null ? undefined : civilDays(m[1] ?? '', m[2] ?? '', m[3] ?? '', m[4] !== undefined);
  if (days === undefined) throw invalid(column, 'date', MALFORMED);
  if (days <= DATE_MINUS_INFINITY || days >= DATE_INFINITY) throw invalid(column, 'date', OUT_OF_RANGE);
  return days;
};

/** Microseconds of 'HH:MM:SS[.ffffff]' fields, or undefined when a field is out of range. */
function clockMicros(h: string, m: string, s: string, fraction: string | undefined, maxHour: number) {
  const hours = Number(h);
  const minutes = Number(m);
  const seconds = Number(s);
  const micros = BigInt((fraction ?? '').padEnd(6, '0'));
  if (hours > maxHour || minutes > 59 || seconds > 59) return undefined;
  if (hours === 24 && (minutes !== 0 || seconds !== 0 || micros !== 0n)) return undefined;
  return BigInt((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + micros;
}

const TIME = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/** Avro time-micros (bigint µs after midnight); Postgres' '24:00:00' is 86 400 000 000. */
const time: Convert = (text, column) => {
  const m = TIME.exec(text);
  const micros = m === null ? undefined : clockMicros(m[1] ?? '', m[2] ?? '', m[3] ?? '', m[4], 24);
  if (micros === undefined) throw invalid(column, 'time', MALFORMED);
  return micros;
};

const OFFSET = '([+-])(\\d{2})(?::(\\d{2}))?(?::(\\d{2}))?';
const TIMETZ = new RegExp(`^(\\d{2}):(\\d{2}):(\\d{2})(\\.\\d{1,6})?${OFFSET}$`);

/**
 * ISO 8601 time with offset 'HH:MM:SS[.fraction]±HH:MM', the fraction as Postgres printed it. An
 * offset with seconds (historic local mean time) keeps them: '±HH:MM:SS', beyond ISO but exact.
 */
const timetz: Convert = (text, column) => {
  const m = TIMETZ.exec(text);
  const [, h = '', min = '', s = '', fraction = '', sign, oh, om = '00', os] = m ?? [];
  if (
    m === null ||
    clockMicros(h, min, s, fraction.slice(1), 24) === undefined ||
    Number(om) > 59 ||
    Number(os ?? 0) > 59
  ) {
    throw invalid(column, 'timetz', MALFORMED);
  }
  return `${h}:${min}:${s}${fraction}${sign}${oh}:${om}${os === undefined || os === '00' ? '' : `:${os}`}`;
};

const TIMESTAMP = new RegExp(
  `^(\\d{4,})-(\\d{2})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2})(?:\\.(\\d{1,6}))?(?:${OFFSET})?( BC)?$`,
);

/**
 * Avro timestamp-micros (timestamptz: the UTC instant) or local-timestamp-micros (timestamp: the
 * wall-clock reading as if UTC), as bigint µs since 1970, negative before 1970. 'infinity' /
 * '-infinity' → INT64_MAX / INT64_MIN; the few finite Postgres timestamps beyond them (after
 * 294247 AD) are out of range.
 */
function timestamp(text: string, column: string, withZone: boolean): bigint {
  const pgType = withZone ? 'timestamptz' : 'timestamp';
  if (text === 'infinity') return TIMESTAMP_INFINITY;
  if (text === '-infinity') return TIMESTAMP_MINUS_INFINITY;
  const m = TIMESTAMP.exec(text);
  if (m === null || (m[8] !== undefined) !== withZone) throw invalid(column, pgType, MALFORMED);
  const [, y = '', mo = '', d = '', h = '', mi = '', s = '', fraction, sign, oh, om, os, bc] = m;
  const days = civilDays(y, mo, d, bc !== undefined);
  const clock = clockMicros(h, mi, s, fraction, 23);
  const offsetSeconds = (Number(oh ?? 0) * 60 + Number(om ?? 0)) * 60 + Number(os ?? 0);
  if (days === undefined || clock === undefined || Number(om ?? 0) > 59 || Number(os ?? 0) > 59) {
    throw invalid(column, pgType, MALFORMED);
  }
  const offset = BigInt(sign === '-' ? -offsetSeconds : offsetSeconds) * MICROS_PER_SECOND;
  const micros = BigInt(days) * MICROS_PER_DAY + clock - offset;
  if (micros <= TIMESTAMP_MINUS_INFINITY || micros >= TIMESTAMP_INFINITY) {
    throw invalid(column, pgType, OUT_OF_RANGE);
  }
  return micros;
}

// ---------------------------------------------------------------------------------------------
// interval

/**
 * Interval as a record of Postgres' own three fields. Not Avro's `duration` (fixed(12) of three
 * unsigned ints): it has milliseconds, not microseconds, and no negative values.
 */
function intervalSchema(): AvroTypeObject {
  return {
    type: 'record',
    name: 'Interval',
    namespace: PG_TYPES_NAMESPACE,
    doc: 'Postgres interval: months, days and microseconds, each signed, never normalised into one another',
    fields: [
      { name: 'months', type: 'int' },
      { name: 'days', type: 'int' },
      { name: 'micros', type: 'long' },
    ],
    'pg.type': 'interval',
  };
}

export interface PgInterval {
  months: number;
  days: number;
  micros: bigint;
}

const INTERVAL_UNITS: Record<string, number> = { year: 0, years: 0, mon: 1, mons: 1, day: 2, days: 2 };
const INTERVAL_TIME = /^([+-])?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * IntervalStyle=postgres output: '[N year[s]] [N mon[s]] [N day[s]] [±HH:MM:SS[.f]]', each part
 * signed on its own ('-1 days +02:03:00'); '00:00:00' for zero. 'infinity' / '-infinity'
 * (Postgres 17+) → every field at its maximum / minimum, Postgres' own representation.
 */
const interval: Convert = (text, column): PgInterval => {
  if (text === 'infinity') return { months: INT32_MAX, days: INT32_MAX, micros: INT64_MAX };
  if (text === '-infinity') return { months: INT32_MIN, days: INT32_MIN, micros: INT64_MIN };
  const fail = () => invalid(column, 'interval', MALFORMED);
  const tokens = text.split(' ');
  const fields = [0, 0, 0];
  let micros = 0n;
  let next = 0; // parts come in order: years, months, days, time
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? '';
    const unit = INTERVAL_UNITS[tokens[i + 1] ?? ''];
    if (unit !== undefined && /^[+-]?\d+$/.test(token)) {
      if (unit < next) throw fail();
      fields[unit] = Number(token);
      next = unit + 1;
      i++;
      continue;
    }
    const t = INTERVAL_TIME.exec(token);
    if (t === null || next > 3 || i !== tokens.length - 1) throw fail();
    const [, sign, h = '', m = '', s = '', fraction] = t;
    if (Number(m) > 59 || Number(s) > 59) throw fail();
    const magnitude =
      (BigInt(h) * 3600n + BigInt(Number(m) * 60 + Number(s))) * MICROS_PER_SECOND +
      BigInt((fraction ?? '').padEnd(6, '0'));
    micros = sign === '-' ? -magnitude : magnitude;
    next = 4;
  }
  const [years = 0, mons = 0, days = 0] = fields;
  const months = years * 12 + mons;
  if (next === 0) throw fail();
  if (months < INT32_MIN || months > INT32_MAX || days < INT32_MIN || days > INT32_MAX) {
    throw invalid(column, 'interval', OUT_OF_RANGE);
  }
  if (micros < INT64_MIN || micros > INT64_MAX) throw invalid(column, 'interval', OUT_OF_RANGE);
  return { months, days, micros };
};

// ---------------------------------------------------------------------------------------------
// Arrays

type ArrayText = Array<string | null | ArrayText>;

/**
 * T[] → Avro array of the element's nullable type, nested once per declared dimension. Only
 * arrays with the default lower bound 1 are accepted: '[0:2]={…}' would lose its bounds.
 */
function arrayMapping(type: PgType, element: PgType, typeMod: number, dimensions: number): Mapping {
  const item = typeMapping(element, typeMod, 1);
  let schema: AvroType = ['null', ...branches(item.schema)];
  for (let d = 1; d < dimensions; d++) schema = { type: 'array', items: schema };
  schema = { type: 'array', items: schema, 'pg.type': type.name };
  const delimiter = element.delimiter ?? ',';
  const convertLevel = (items: ArrayText, depth: number, column: string): unknown[] =>
    items.map((value) => {
      if (value === null || typeof value === 'string') {
        if (depth !== dimensions)
          throw invalid(column, type.name, `fewer dimensions than the ${dimensions} declared`);
        return value === null ? null : item.convert(value, column);
      }
      if (depth === dimensions)
        throw invalid(column, type.name, `more dimensions than the ${dimensions} declared`);
      return convertLevel(value, depth + 1, column);
    });
  return {
    schema,
    convert: (text, column) => {
      const fail = (problem: string) => invalid(column, type.name, problem);
      return convertLevel(parseArrayLiteral(text, delimiter, fail), 1, column);
    },
  };
}

function branches(schema: AvroType): AvroType[] {
  return Array.isArray(schema) ? schema : [schema];
}

/**
 * Parses array_out's literal: '{a,"b \"c\"",NULL,{…}}'. Quoted elements unescape '\x' to 'x';
 * an unquoted NULL is SQL null, a quoted "NULL" is the string.
 */
function parseArrayLiteral(text: string, delimiter: string, fail: (problem: string) => Error): ArrayText {
  if (text.startsWith('[')) throw fail('array lower bounds other than 1 are not supported');
  let pos = 0;
  const malformed = () => fail('malformed array literal');

  const quoted = (): string => {
    let out = '';
    pos++; // opening quote
    for (;;) {
      const ch = text[pos++];
      if (ch === undefined) throw malformed();
      if (ch === '"') return out;
      if (ch === '\\') {
        const escaped = text[pos++];
        if (escaped === undefined) throw malformed();
        out += escaped;
      } else {
        out += ch;
      }
    }
  };

  const unquoted = (): string | null => {
    let out = '';
    let escapes = false;
    for (;;) {
      const ch = text[pos];
      if (ch === undefined || ch === '{' || ch === '"') throw malformed();
      if (ch === delimiter || ch === '}') break;
      pos++;
      if (ch === '\\') {
        const escaped = text[pos++];
        if (escaped === undefined) throw malformed();
        out += escaped;
        escapes = true;
      } else {
        out += ch;
      }
    }
    if (out === '') throw malformed();
    return !escapes && out.toUpperCase() === 'NULL' ? null : out;
  };

  const level = (): ArrayText => {
    if (text[pos] !== '{') throw malformed();
    pos++;
    const items: ArrayText = [];
    if (text[pos] === '}') {
      pos++;
      return items;
    }
    for (;;) {
      const ch = text[pos];
      items.push(ch === '{' ? level() : ch === '"' ? quoted() : unquoted());
      const separator = text[pos++];
      if (separator === '}') return items;
      if (separator !== delimiter) throw malformed();
    }
  };

  const result = level();
  if (pos !== text.length) throw malformed();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Public API

function nullable(schema: AvroType): AvroType[] {
  return ['null', ...branches(schema)];
}

/**
 * The Avro type of a column: its mapped type, or for a nullable column the union ['null', …]
 * (flattened when the mapped type is itself a union, as Avro forbids nested unions). The field
 * default (null) belongs to the field: see avroRecordSchema.
 */
export function avroFieldType(column: PgColumn): AvroType {
  const { schema } = columnMapping(column);
  return structuredClone(column.notNull ? schema : nullable(schema));
}

/**
 * The value avsc expects for a column's pgoutput text (null for SQL NULL), per the contracts at
 * the top of this file. Throws DsrCdcError EVENT_INVALID naming the column for malformed or
 * out-of-range text.
 */
export function toAvroValue(column: PgColumn, text: string | null): unknown {
  return text === null ? null : columnMapping(column).convert(text, column.name);
}

export interface RecordSchemaOptions {
  /**
   * Make every field nullable regardless of NOT NULL. Row images of a change stream need it:
   * pgoutput omits unchanged TOAST values and sends only key columns in old tuples under
   * REPLICA IDENTITY DEFAULT. Keys leave it off.
   */
  allNullable?: boolean;
}

/**
 * A record schema of the columns, in column order. Name and namespace parts are sanitised with
 * avroName; field names follow avroFieldNames; each field carries `pg.column`, the exact Postgres
 * name. A named type used by several fields (Interval) is defined once and referenced after.
 */
export function avroRecordSchema(
  name: string,
  namespace: string,
  columns: readonly PgColumn[],
  options: RecordSchemaOptions = {},
): AvroRecordSchema {
  const names = avroFieldNames(columns);
  const defined = new Set<string>();
  const fields = columns.map((column, i): AvroField => {
    const optional = options.allNullable === true || !column.notNull;
    const { schema } = columnMapping(column);
    return {
      name: names[i] ?? avroName(column.name),
      type: referenceDefined(optional ? nullable(schema) : schema, defined),
      ...(optional ? { default: null } : {}),
      'pg.column': column.name,
    };
  });
  return {
    type: 'record',
    name: avroName(name),
    namespace: namespace.split('.').map(avroName).join('.'),
    fields,
  };
}

/**
 * A copy of the schema where a named type already in `defined` becomes a reference by full name
 * (Avro allows one definition per name within a schema); new definitions are added to `defined`.
 */
function referenceDefined(schema: AvroType, defined: Set<string>): AvroType {
  if (typeof schema === 'string') return schema;
  if (Array.isArray(schema)) return schema.map((s) => referenceDefined(s, defined));
  if (typeof schema.name === 'string' && typeof schema.namespace === 'string') {
    const fullName = `${schema.namespace}.${schema.name}`;
    if (defined.has(fullName)) return fullName;
    defined.add(fullName);
  }
  const copy: AvroTypeObject = structuredClone(schema);
  if (copy.items !== undefined) copy.items = referenceDefined(copy.items as AvroType, defined);
  if (Array.isArray(copy.fields)) {
    copy.fields = (copy.fields as AvroField[]).map((f) => ({
      ...f,
      type: referenceDefined(f.type, defined),
    }));
  }
  return copy;
}
