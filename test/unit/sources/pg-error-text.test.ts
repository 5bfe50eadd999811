import { describe, expect, it } from 'vitest';
import { pgErrorText } from '../../../src/sources/pg-error-text.js';

describe('pgErrorText', () => {
  it('keeps only the code of a data exception (class 22), which quotes the value', () => {
    const text = pgErrorText(
      '22P02',
      'invalid input syntax for type timestamp with time zone: "ann@example.test"',
    );
    expect(text).not.toContain('ann@example.test');
    expect(text).toBe('a data exception (22P02); the value is not quoted here');
    expect(pgErrorText('22008', 'date/time field value out of range: "2026-13-01"')).not.toContain('2026');
  });

  it('keeps other messages, which name objects, not values', () => {
    expect(pgErrorText('42501', 'permission denied for table users')).toBe(
      'permission denied for table users',
    );
    expect(pgErrorText(undefined, 'Connection terminated unexpectedly')).toBe(
      'Connection terminated unexpectedly',
    );
  });
});
