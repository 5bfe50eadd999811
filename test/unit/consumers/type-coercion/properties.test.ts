/**
 * Invariants of the coercion matrix, checked with fast-check over generated values: numbers are
 * exact (never rounded, never through a float) and instants and days survive the text form.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitNumber, planColumn } from '../../../../src/consumers/type-coercion/matrix.js';
import {
  type AvroField,
  avroRecordSchema,
  type PgColumn,
  toAvroValue,
} from '../../../../src/events/pg-types.js';
import { numericMod } from '../../../support/pg-types.js';

const SETTINGS = { unconstrainedNumericScale: 9, columns: {} };
const column = (name: string, typeMod = -1): PgColumn => ({
  name: 'c',
  type: { oid: 0, name, kind: 'base' },
  typeMod,
  notNull: false,
});
const fieldOf = (c: PgColumn) =>
  avroRecordSchema('Row', 'ns', [c], { allNullable: true }).fields[0] as AvroField as never;

/** The exact value of a decimal text as an unscaled integer at `scale` (≥ its fractional digits). */
function unscaled(text: string, scale: number): bigint {
  const [, sign, whole = '', fraction = ''] = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text) ?? [];
  if (fraction.length > scale) throw new Error(`${text} has more than ${scale} fractional digits`);
  const n = BigInt(`${whole}${fraction.padEnd(scale, '0')}`);
  return sign === '-' ? -n : n;
}
const sameDecimal = (a: string, b: string) => unscaled(a, 200) === unscaled(b, 200);

const digits = (min: number, max: number) =>
  fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(''));

/** NUMBER(p,s) within Snowflake's limits. */
const precisionScale = fc
  .integer({ min: 1, max: 38 })
  .chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: Math.min(p, 37) })));

/** A decimal text NUMBER(p,s) holds: ≤ p−s integer digits, ≤ s fractional digits. */
const fitting = precisionScale.chain(([p, s]) =>
  fc
    .tuple(fc.boolean(), digits(1, Math.max(1, p - s)), digits(0, s))
    .filter(([, whole]) => p - s > 0 || /^0+$/.test(whole))
    .map(([negative, whole, fraction]) => ({
      p,
      s,
      text: `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`,
    })),
);

describe('numbers are exact', () => {
  it('a numeric string that fits NUMBER(p,s) round-trips exactly through fitNumber', () => {
    fc.assert(
      fc.property(fitting, ({ p, s, text }) => {
        const result = fitNumber(text, p, s);
        expect(result).toHaveProperty('text');
        expect(sameDecimal((result as { text: string }).text, text)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('… and through the real pipeline: pgoutput text → Avro decimal → NUMBER(p,s) text', () => {
    fc.assert(
      fc.property(fitting, ({ p, s, text }) => {
        const c = column('numeric', numericMod(p, s));
        const plan = planColumn(fieldOf(c), SETTINGS);
        expect(plan.snowflakeType).toBe(`NUMBER(${p},${s})`);
        const result = plan.coerce(toAvroValue(c, text)) as { text: string };
        expect(sameDecimal(result.text, text)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('fitNumber never rounds: text equals the input, and too many digits are out of range', () => {
    const decimal = fc
      .tuple(fc.boolean(), digits(1, 45), digits(0, 45))
      .map(
        ([negative, whole, fraction]) => `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`,
      );
    fc.assert(
      fc.property(decimal, precisionScale, (text, [p, s]) => {
        const [whole = '', fraction = ''] = text.replace('-', '').split('.');
        const significantFraction = fraction.replace(/0+$/, '').length;
        const integerDigits = whole.replace(/^0+/, '').length;
        const result = fitNumber(text, p, s);
        if ('text' in result) {
          expect(sameDecimal(result.text as string, text)).toBe(true);
          expect(result.text).not.toMatch(/^-0$|^-?0\d|\.$|\.\d*0$/); // canonical: no -0, padding or trailing zeros
        }
        if (significantFraction > s || integerDigits > p - s) {
          expect(result).toHaveProperty('outOfRange');
        } else {
          expect(result).toHaveProperty('text');
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z in µs since the epoch. */
const MIN_MICROS = -62_135_596_800_000_000n;
const MAX_MICROS = 253_402_300_799_999_999n;

describe('instants and days survive the text form', () => {
  it('timestamptz: micros → text → the same instant, to the microsecond', () => {
    const plan = planColumn(fieldOf(column('timestamptz')), SETTINGS);
    fc.assert(
      fc.property(fc.bigInt({ min: MIN_MICROS, max: MAX_MICROS }), (micros) => {
        const { text } = plan.coerce(micros) as { text: string };
        const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2}\.\d{3})(\d{3})\+00:00$/.exec(text);
        expect(match).not.toBeNull();
        const [, date, millisTime, microDigits] = match as unknown as string[];
        const floorMs = micros >= 0n || micros % 1000n === 0n ? micros / 1000n : micros / 1000n - 1n;
        expect(Date.parse(`${date}T${millisTime}+00:00`)).toBe(Number(floorMs));
        expect(microDigits).toBe((((micros % 1000n) + 1000n) % 1000n).toString().padStart(3, '0'));
      }),
      { numRuns: 3000 },
    );
  });

  it('timestamp: micros → text → pgoutput parser gives the same micros back', () => {
    const c = column('timestamp');
    const plan = planColumn(fieldOf(c), SETTINGS);
    fc.assert(
      fc.property(fc.bigInt({ min: MIN_MICROS, max: MAX_MICROS }), (micros) => {
        const { text } = plan.coerce(micros) as { text: string };
        expect(toAvroValue(c, text)).toBe(micros);
      }),
      { numRuns: 2000 },
    );
  });

  it('date: days → text → days', () => {
    const c = column('date');
    const plan = planColumn(fieldOf(c), SETTINGS);
    // 0001-01-01 … 9999-12-31
    fc.assert(
      fc.property(fc.integer({ min: -719_162, max: 2_932_896 }), (days) => {
        const { text } = plan.coerce(days) as { text: string };
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(Date.parse(`${text}T00:00:00Z`) / 86_400_000).toBe(days);
        expect(toAvroValue(c, text)).toBe(days);
      }),
      { numRuns: 3000 },
    );
    for (const days of [-719_163, 2_932_897]) expect(plan.coerce(days)).toHaveProperty('outOfRange');
  });
});
