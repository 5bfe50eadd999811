import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../../src/errors.js';
import { PRIMARY_SAFETY_LAG_MS, pgErrorText, safetyLagFor } from '../../../../src/sources/poller/postgres.js';

/** What `fn` throws (undefined when it does not, which then fails the assertion on it). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('safetyLagFor (the read-replica rule)', () => {
  it('on a primary: the configured lag, else the default, without a warning', () => {
    expect(safetyLagFor('crm', false, undefined)).toEqual({ lagMs: PRIMARY_SAFETY_LAG_MS });
    expect(safetyLagFor('crm', false, 0)).toEqual({ lagMs: 0 });
  });

  it('on a hot standby: refuses the default, naming the field and what the lag must cover', () => {
    const refuse = () => safetyLagFor('crm', true, undefined);
    expect(refuse).toThrow(DsrCdcError);
    expect(refuse).toThrow('hot standby');
    expect(refuse).toThrow(
      "set sources.crm.safetyLagMs to more than the longest write transaction on the primary plus the standby's replay lag",
    );
    expect(thrown(refuse)).toMatchObject({ code: 'CONFIG_INVALID', field: 'sources.crm.safetyLagMs' });
  });

  it('on a hot standby: an explicit lag is used, with a warning that only it protects late commits', () => {
    const { lagMs, warning } = safetyLagFor('crm', true, 30_000);
    expect(lagMs).toBe(30_000);
    expect(warning).toContain('only safetyLagMs (30000 ms) protects rows of late commits');
    expect(warning).toContain('longest write transaction on the primary plus the replay lag');
  });
});

describe('pgErrorText', () => {
  it('keeps only the code of a data exception (class 22), which quotes the value', () => {
    const text = pgErrorText(
      '22P02',
      'invalid input syntax for type timestamp with time zone: "ann@example.test"',
    );
    expect(text).not.toContain('ann@example.test');
    expect(text).toBe('a data exception; the value is not quoted here');
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
