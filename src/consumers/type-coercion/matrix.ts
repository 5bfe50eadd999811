/**
 * The coercion matrix: how each column of a `cdc.*` contract becomes a Snowflake column, and how
 * each of its values becomes warehouse-ready text. Pure and deterministic; the table in
 * docs/coercion.md is this file in prose.
 *
 * Every warehouse value is the exact text literal that Snowflake's conversion of the column's type
 * accepts (TO_NUMBER, TO_TIMESTAMP_TZ, PARSE_JSON, TO_BINARY(…, 'HEX') …), so nothing travels
 * through a float and the loader binds text only. A value the target type cannot hold (numeric
 * NaN, ±infinity dates, more digits than NUMBER(38) …) is *out of range*: NULL plus a flag, or the
 * DLQ, as configured. A value that cannot be read at all is *invalid* and always goes to the DLQ.
 * Neither error carries the value.
 */
import { DateTime, IANAZone } from 'luxon';
import { DsrCdcError } from '../../errors.js';
import { decimalText } from '../../events/pg-types.js';

/** A column override from the config: the column holds timestamps in another form. */
export type TimestampSource =
  | { from: 'epoch-seconds' | 'epoch-millis' }
  | {
      from: 'text';
      /** Luxon format tokens, e.g. `dd/MM/yyyy HH:mm` (https://moment.github.io/luxon/#/parsing). */
      format: string;
      /** IANA zone the text is in; given: TIMESTAMP_TZ, absent: TIMESTAMP_NTZ (wall clock). */
      zone?: string;
    };

export interface CoercionSettings {
  /** Scale of NUMBER columns made from unconstrained `numeric` (whose scale varies per value). */
  unconstrainedNumericScale: number;
  /** Overrides by Postgres column name. */
  columns: Readonly<Record<string, TimestampSource>>;
}

/** One value, coerced: its Snowflake text (null for NULL), or why the target type cannot hold it. */
export type Coerced = { text: string | null } | { outOfRange: string };

export interface ColumnPlan {
  /** The field of the `cdc.*` row record. */
  field: string;
  /** The Postgres column name (field property `pg.column`). */
  column: string;
  /** The Snowflake column: the field name in upper case (always quoted in SQL). */
  target: string;
  /** Snowflake type, e.g. `NUMBER(12,2)`, `TIMESTAMP_TZ(6)`, `VARIANT`. */
  snowflakeType: string;
  coerce(value: unknown): Coerced;
}

/** Snowflake's limits that bound what a column can hold. */
export const SNOWFLAKE_MAX_PRECISION = 38;
const MAX_VARCHAR_BYTES = 16 * 1024 * 1024;
const MAX_BINARY_BYTES = 8 * 1024 * 1024;

type AvroType = string | AvroType[] | { [key: string]: unknown };

/** The plan of one field of a `cdc.*` row record (a field object of the raw contract). */
export function planColumn(
  field: { name: string; type: AvroType; 'pg.column'?: string },
  settings: CoercionSettings,
): ColumnPlan {
  const column = field['pg.column'] ?? field.name;
  const base = { field: field.name, column, target: field.name.toUpperCase() };
  const override = settings.columns[column];
  const branches = nonNullBranches(field.type);
  const converter = override
    ? timestampOverride(column, override, decimalBranch(branches))
    : typeConverter(branches, column, settings);
  const { snowflakeType, convert } = converter;
  return {
    ...base,
    snowflakeType,
    coerce: (value) => (value === null || value === undefined ? { text: null } : convert(value)),
  };
}

interface Converter {
  snowflakeType: string;
  convert(value: unknown): Coerced;
}

function nonNullBranches(type: AvroType): AvroType[] {
  const all = Array.isArray(type) ? type : [type];
  return all.filter((t) => t !== 'null');
}

const text = (t: string): Coerced => ({ text: t });
const outOfRange = (reason: string): Coerced => ({ outOfRange: reason });

function invalid(column: string, problem: string): DsrCdcError {
  return new DsrCdcError('EVENT_INVALID', `column "${column}": ${problem}`, { field: column });
}

/** The pg.type of an Avro type object (the cdc contracts tag every mapped type). */
function pgType(type: AvroType): string | undefined {
  if (typeof type === 'object' && !Array.isArray(type)) return type['pg.type'] as string | undefined;
  return undefined;
}

/** The Avro decimal of a numeric(p,s) column, whose union is [bytes decimal(p,s), string 'NaN']. */
function decimalBranch(branches: AvroType[]): { precision: number; scale: number } | undefined {
  const decimal = branches.find(
    (b) => typeof b === 'object' && !Array.isArray(b) && b.logicalType === 'decimal',
  );
  return decimal as { precision: number; scale: number } | undefined;
}

function typeConverter(branches: AvroType[], column: string, settings: CoercionSettings): Converter {
  const [first] = branches;
  if (first === undefined) throw invalid(column, 'the contract gives the column no type');
  const decimal = decimalBranch(branches);
  if (decimal) return decimalConverter(decimal, column);
  // the Interval record is defined once per contract and referenced by name after that
  if (first === 'dev.dsrcdc.pg.Interval' || pgType(first) === 'interval') return INTERVAL;
  if (typeof first === 'object' && !Array.isArray(first) && first.type === 'array') {
    return arrayConverter(first.items as AvroType, column, settings);
  }
  const type = typeof first === 'string' ? first : (first as { type?: unknown }).type;
  const logical = typeof first === 'object' && !Array.isArray(first) ? first.logicalType : undefined;
  const pg = pgType(first);
  if (pg === 'numeric') return unconstrainedNumeric(settings.unconstrainedNumericScale, column);
  if (pg === 'json' || pg === 'jsonb')
    return { snowflakeType: 'VARIANT', convert: (v) => bounded(String(v)) };
  if (pg === 'int2') return integerConverter('NUMBER(5,0)');
  switch (logical) {
    case 'date':
      return { snowflakeType: 'DATE', convert: (v) => dateText(v as number) };
    case 'time-micros':
      return { snowflakeType: 'TIME(6)', convert: (v) => timeText(BigInt(v as bigint)) };
    case 'local-timestamp-micros':
      return { snowflakeType: 'TIMESTAMP_NTZ(6)', convert: (v) => timestampText(BigInt(v as bigint), false) };
    case 'timestamp-micros':
      return { snowflakeType: 'TIMESTAMP_TZ(6)', convert: (v) => timestampText(BigInt(v as bigint), true) };
  }
  switch (type) {
    case 'int':
      return integerConverter('NUMBER(10,0)');
    case 'long':
      return integerConverter('NUMBER(19,0)');
    case 'float':
    case 'double':
      return { snowflakeType: 'FLOAT', convert: (v) => text(floatText(v as number)) };
    case 'boolean':
      return { snowflakeType: 'BOOLEAN', convert: (v) => text(v ? 'true' : 'false') };
    case 'bytes':
      return { snowflakeType: 'BINARY', convert: (v) => binaryText(v as Buffer) };
    case 'string':
      // text, uuid, enum, inet, timetz and every fallback type: the Postgres text form
      return { snowflakeType: 'VARCHAR', convert: (v) => bounded(String(v)) };
    default:
      throw invalid(column, `no warehouse type for Avro type ${JSON.stringify(type)}`);
  }
}

function integerConverter(snowflakeType: string): Converter {
  return { snowflakeType, convert: (v) => text(String(v)) };
}

function bounded(value: string): Coerced {
  return Buffer.byteLength(value, 'utf8') > MAX_VARCHAR_BYTES
    ? outOfRange('longer than 16 MB, the most a VARCHAR or VARIANT holds')
    : text(value);
}

function binaryText(value: Buffer): Coerced {
  if (value.length > MAX_BINARY_BYTES) return outOfRange('longer than 8 MB, the most a BINARY holds');
  return text(value.toString('hex').toUpperCase());
}

/** -0, NaN and ±Infinity are valid FLOAT values in Snowflake and are kept. */
export function floatText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'inf';
  if (value === Number.NEGATIVE_INFINITY) return '-inf';
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// Exact decimals

/** NUMBER(p,s) for a declared numeric(p,s); precision beyond 38 keeps the scale and loses range. */
function decimalConverter(
  { precision, scale }: { precision: number; scale: number },
  column: string,
): Converter {
  if (scale > SNOWFLAKE_MAX_PRECISION - 1)
    throw invalid(column, `a scale of ${scale} exceeds Snowflake's 37`);
  const p = Math.min(precision, SNOWFLAKE_MAX_PRECISION);
  return {
    snowflakeType: `NUMBER(${p},${scale})`,
    convert: (value) => {
      // the string branch carries only NaN; anything else is named by its kind, never echoed
      if (value === 'NaN') return outOfRange('numeric NaN has no NUMBER form');
      if (!Buffer.isBuffer(value)) throw invalid(column, 'not an Avro decimal');
      return fitNumber(decimalText(value, scale), p, scale);
    },
  };
}

function unconstrainedNumeric(scale: number, column: string): Converter {
  return {
    snowflakeType: `NUMBER(${SNOWFLAKE_MAX_PRECISION},${scale})`,
    convert: (value) => {
      const t = String(value);
      if (!/^-?\d+(\.\d+)?$/.test(t)) {
        if (/^(NaN|-?Infinity)$/.test(t)) return outOfRange(`numeric ${t} has no NUMBER form`);
        throw invalid(column, 'not a decimal number');
      }
      return fitNumber(t, SNOWFLAKE_MAX_PRECISION, scale);
    },
  };
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * The decimal text if NUMBER(p,s) holds it exactly: trailing fractional zeros may go, any other
 * digit may not (no rounding, ever).
 */
export function fitNumber(decimal: string, precision: number, scale: number): Coerced {
  const match = DECIMAL.exec(decimal);
  if (!match) return outOfRange('not a decimal number');
  const [, sign = '', whole = '', fraction = ''] = match;
  const kept = fraction.replace(/0+$/, '');
  if (kept.length > scale) return outOfRange(`more than ${scale} fractional digits`);
  const integerDigits = whole.replace(/^0+/, '');
  if (integerDigits.length > precision - scale) {
    return outOfRange(`more than ${precision - scale} integer digits`);
  }
  const body = kept.length > 0 ? `${integerDigits || '0'}.${kept}` : integerDigits || '0';
  return text(body === '0' ? '0' : `${sign}${body}`);
}

// ---------------------------------------------------------------------------------------------
// Dates and times. Snowflake holds years 1 to 9999; Postgres' ±infinity and BC dates are out of range.

const MICROS_PER_DAY = 86_400_000_000n;
const MICROS_PER_MS = 1000n;
/** 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z in microseconds since the epoch. */
const MIN_MICROS = -62_135_596_800_000_000n;
const END_MICROS = 253_402_300_800_000_000n;

function dateText(days: number): Coerced {
  const micros = BigInt(days) * MICROS_PER_DAY;
  if (micros < MIN_MICROS || micros >= END_MICROS) return outOfRange('a date outside years 1 to 9999');
  return text(isoParts(micros).date);
}

function timeText(micros: bigint): Coerced {
  if (micros < 0n || micros >= MICROS_PER_DAY) return outOfRange('24:00:00 has no TIME form');
  return text(isoParts(micros).time);
}

export function timestampText(micros: bigint, utc: boolean): Coerced {
  if (micros < MIN_MICROS || micros >= END_MICROS) return outOfRange('a timestamp outside years 1 to 9999');
  const { date, time } = isoParts(micros);
  // ISO 8601 with the offset attached: what Snowflake's AUTO format (and the emulator) both read
  return text(utc ? `${date}T${time}+00:00` : `${date} ${time}`);
}

/** `YYYY-MM-DD` and `HH:MM:SS.ffffff` of microseconds since the epoch (UTC), years 1 to 9999. */
function isoParts(micros: bigint): { date: string; time: string } {
  let ms = micros / MICROS_PER_MS;
  let sub = micros % MICROS_PER_MS;
  if (sub < 0n) {
    sub += MICROS_PER_MS;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ for years 0 to 9999
  return {
    date: iso.slice(0, 10),
    time: `${iso.slice(11, 23)}${sub.toString().padStart(3, '0')}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Intervals and arrays → VARIANT / ARRAY (JSON text)

/** Postgres' three interval fields, never normalised into one another (1 month is not 30 days). */
const INTERVAL: Converter = {
  snowflakeType: 'VARIANT',
  convert: (value) => text(intervalJson(value)),
};

function intervalJson(value: unknown): string {
  const { months, days, micros } = value as { months: number; days: number; micros: bigint };
  return `{"months":${months},"days":${days},"micros":${micros}}`;
}

/**
 * A JSON array whose elements are coerced as a column of the element type would be, then written
 * in their exact JSON form: NUMBER and BOOLEAN elements as JSON literals (Snowflake parses numbers
 * exactly up to 38 digits), VARIANT and ARRAY elements embedded, FLOAT as a number or "NaN" /
 * "inf", everything else (text, dates, times, hex) as a JSON string. An element out of range puts
 * the whole array out of range.
 */
function arrayConverter(items: AvroType, column: string, settings: CoercionSettings): Converter {
  const element = typeConverter(nonNullBranches(items), column, settings);
  const literal = /^(NUMBER|BOOLEAN|VARIANT|ARRAY)/.test(element.snowflakeType);
  const isFloat = element.snowflakeType === 'FLOAT';
  const json = (value: unknown): string => {
    if (!Array.isArray(value)) throw invalid(column, 'not an array');
    const parts = value.map((item) => {
      if (item === null || item === undefined) return 'null';
      const coerced = element.convert(item);
      if ('outOfRange' in coerced) throw new OutOfRange(coerced.outOfRange);
      const t = coerced.text as string;
      if (literal || (isFloat && Number.isFinite(Number(t)))) return t;
      return JSON.stringify(t);
    });
    return `[${parts.join(',')}]`;
  };
  return {
    snowflakeType: 'ARRAY',
    convert: (value) => {
      try {
        return bounded(json(value));
      } catch (error) {
        if (error instanceof OutOfRange) return outOfRange(`an element: ${error.message}`);
        throw error;
      }
    },
  };
}

class OutOfRange extends Error {}

// ---------------------------------------------------------------------------------------------
// Timestamp overrides from the config

function timestampOverride(
  column: string,
  source: TimestampSource,
  decimal: { scale: number } | undefined,
): Converter {
  if (source.from !== 'text') {
    const unit = source.from === 'epoch-seconds' ? SECONDS : MILLIS;
    return {
      snowflakeType: 'TIMESTAMP_TZ(6)',
      convert: (value) => {
        // a numeric(p,s) column holds its epoch as an Avro decimal
        const number = decimal && Buffer.isBuffer(value) ? decimalText(value, decimal.scale) : value;
        const micros = epochMicros(number, unit, column);
        if (micros === undefined) return outOfRange('an epoch finer than a microsecond');
        return timestampText(micros, true);
      },
    };
  }
  const { format, zone } = source;
  // an unknown zone would make every value "not match the format": refuse it once, up front
  if (zone !== undefined && !IANAZone.isValidZone(zone)) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `warehouse.coercion.columns: the zone of column "${column}" is not an IANA time zone; use a name such as Europe/Berlin`,
      { field: 'warehouse.coercion.columns' },
    );
  }
  return {
    snowflakeType: zone ? 'TIMESTAMP_TZ(6)' : 'TIMESTAMP_NTZ(6)',
    convert: (value) => {
      if (typeof value !== 'string')
        throw invalid(column, 'a text timestamp format is set but it is not text');
      const parsed = DateTime.fromFormat(value, format, { zone: zone ?? 'UTC', setZone: false });
      if (!parsed.isValid) throw invalid(column, `does not match the configured format ${format}`);
      const micros = BigInt(parsed.toMillis()) * MICROS_PER_MS;
      return timestampText(micros, zone !== undefined);
    },
  };
}

/** Microseconds per epoch unit, and the fractional digits of the unit a microsecond resolves. */
const SECONDS = { micros: 1_000_000n, digits: 6 };
const MILLIS = { micros: 1000n, digits: 3 };

/**
 * Microseconds since the epoch of a whole or decimal epoch number (int, long, double, numeric),
 * exactly; undefined when it has nonzero digits finer than a microsecond (never rounded).
 */
function epochMicros(
  value: unknown,
  unit: { micros: bigint; digits: number },
  column: string,
): bigint | undefined {
  if (typeof value === 'bigint') return value * unit.micros;
  if (typeof value === 'number' && Number.isInteger(value)) return BigInt(value) * unit.micros;
  const match = typeof value === 'string' || typeof value === 'number' ? DECIMAL.exec(String(value)) : null;
  if (!match) {
    throw invalid(column, 'an epoch override is set but the value is not a whole or decimal number');
  }
  const [, sign, whole = '', fraction = ''] = match;
  const kept = fraction.replace(/0+$/, '');
  if (kept.length > unit.digits) return undefined;
  const micros = BigInt(whole) * unit.micros + BigInt(kept.padEnd(unit.digits, '0'));
  return sign === '-' ? -micros : micros;
}
