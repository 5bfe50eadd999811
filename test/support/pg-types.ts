/** Postgres catalog facts built by hand, for unit tests of the type mapping and the coercion. */
import type { PgType } from '../../src/events/pg-types.js';

export const base = (name: string, extra: Partial<PgType> = {}): PgType => ({
  oid: 0,
  name,
  kind: 'base',
  ...extra,
});

export const arrayOf = (element: PgType): PgType => ({
  oid: 0,
  name: `_${element.name}`,
  kind: 'array',
  element,
});

/** atttypmod of numeric(p,s), as Postgres packs it (scale is 11-bit signed). */
export const numericMod = (precision: number, scale: number) => ((precision << 16) | (scale & 0x7ff)) + 4;
