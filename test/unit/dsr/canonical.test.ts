import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalHash, canonicalJson } from '../../../src/dsr/canonical.js';
import { DsrCdcError } from '../../../src/errors.js';

describe('canonicalJson', () => {
  it('sorts keys at every depth and writes no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [true, null], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[true,null]},"b":1}',
    );
  });

  it('is independent of key insertion order', () => {
    const one = { source: 'app', table: 't', primaryKey: { id: 1, tenant: 'a' }, schema: 'public' };
    const two = { primaryKey: { tenant: 'a', id: 1 }, schema: 'public', table: 't', source: 'app' };
    expect(canonicalJson(one)).toBe(canonicalJson(two));
    expect(canonicalHash(one)).toBe(canonicalHash(two));
  });

  it('keeps array order, which is meaningful', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
  });

  it('sorts keys by UTF-16 code units and escapes strings as JSON does', () => {
    expect(canonicalJson({ b: 1, B: 2, é: 3, a: 4, '10': 5, '9': 6 })).toBe(
      '{"10":5,"9":6,"B":2,"a":4,"b":1,"é":3}',
    );
    expect(canonicalJson({ s: 'line\n"quoted"\u0001' })).toBe('{"s":"line\\n\\"quoted\\"\\u0001"}');
  });

  it('writes numbers in their shortest form', () => {
    expect(canonicalJson([1.0, -0, 1e21, 0.1, 1e-7])).toBe('[1,0,1e+21,0.1,1e-7]');
  });

  it('leaves out undefined properties, like absent ones', () => {
    expect(canonicalJson({ a: 1, b: undefined })).toBe(canonicalJson({ a: 1 }));
  });

  it('accepts objects without a prototype', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { b: 2, a: 1 });
    expect(canonicalJson(bare)).toBe('{"a":1,"b":2}');
  });

  it.each([
    ['a bigint', { n: 1n }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['a Date', { at: new Date(0) }],
    ['a Map', new Map()],
    ['undefined in an array', [undefined]],
  ])('refuses %s, which has no single JSON form', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(DsrCdcError);
  });

  it('canonicalHash is the SHA-256 hex of the canonical text', () => {
    const value = { b: [1, 'two'], a: null };
    const expected = createHash('sha256').update('{"a":null,"b":[1,"two"]}').digest('hex');
    expect(canonicalHash(value)).toBe(expected);
  });
});
