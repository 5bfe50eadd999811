/**
 * Canonical JSON: one byte-exact text per value, whatever order its object keys were built in,
 * so that hashes over it (the audit chain, location ids) are stable across processes and
 * versions. Object keys are sorted by UTF-16 code units, there is no whitespace, and strings and
 * numbers are written as JSON.stringify writes them; for the values allowed here this matches
 * RFC 8785 (JCS).
 *
 * Allowed: null, booleans, finite numbers, strings, arrays and plain objects of these. An object
 * property whose value is undefined is left out (as if absent, so an unset optional field hashes
 * like a missing one). Anything else (bigint, NaN, Infinity, Date, Map, undefined in an array …)
 * has no single JSON form and throws: it is a bug in the caller, not bad input.
 */
import { createHash } from 'node:crypto';
import { DsrCdcError } from '../errors.js';

export function canonicalJson(value: unknown): string {
  return write(value, '$');
}

/** SHA-256 hex of the canonical JSON of `value`. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest('hex');
}

function write(value: unknown, path: string): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return JSON.stringify(value);
  } else if (Array.isArray(value)) {
    return `[${value.map((item, index) => write(item, `${path}[${index}]`)).join(',')}]`;
  } else if (isPlainObject(value)) {
    const members = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${write(value[key], `${path}.${key}`)}`);
    return `{${members.join(',')}}`;
  }
  throw new DsrCdcError('INTERNAL', `canonical JSON: ${path} is ${describe(value)}, which has no JSON form`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/** The kind of an unsupported value, never the value itself. */
function describe(value: unknown): string {
  if (typeof value === 'number') return String(value); // NaN / Infinity: no data in them
  if (typeof value === 'object') return `a ${value?.constructor?.name ?? 'object'}`;
  return `a ${typeof value}`;
}
