import { describe, expect, it } from 'vitest';
import { tableMatcher } from '../../../../src/sources/postgres/settings.js';

describe('tableMatcher', () => {
  it.each([
    [['public.*'], [], 'public.customers', true],
    [['public.*'], [], 'sales.orders', false],
    [['public.*'], ['public.audit_*'], 'public.audit_log', false],
    [['public.*'], ['public.audit_*'], 'public.customers', true],
    // '*' stays within one name part: it never crosses the dot
    [['*'], [], 'public.customers', false],
    [['*.*'], [], 'public.customers', true],
    [['public.order?'], [], 'public.orders', true],
    [['public.order?'], [], 'public.order', false],
    // other regex characters in names are literal
    [['public.a+b'], [], 'public.a+b', true],
    [['public.a+b'], [], 'public.aab', false],
  ])('include %j exclude %j: %s → %s', (include, exclude, name, expected) => {
    expect(tableMatcher(include, exclude)(name)).toBe(expected);
  });
});
