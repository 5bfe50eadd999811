import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../../src/errors.js';
import { PRIMARY_SAFETY_LAG_MS, safetyLagFor } from '../../../../src/sources/poller/postgres.js';

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
