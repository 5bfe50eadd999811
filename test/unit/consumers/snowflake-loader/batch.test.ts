/** Folding a partition's warehouse rows into staged rows: per key, the last change in source order. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Change, fold, type Segment } from '../../../../src/consumers/snowflake-loader/batch.js';
import type { LoadColumn } from '../../../../src/consumers/snowflake-loader/sql.js';
import type { WarehouseRow } from '../../../../src/consumers/type-coercion/plan.js';
import type { Op } from '../../../../src/events/envelope.js';

const COLUMNS: LoadColumn[] = [
  { target: 'ID', type: 'NUMBER(19,0)' },
  { target: 'EMAIL', type: 'VARCHAR' },
  { target: 'NOTE', type: 'VARCHAR' },
];
const FIELDS = new Map([
  ['ID', 'id'],
  ['EMAIL', 'email'],
  ['NOTE', 'note'],
]);

function change(
  op: Op,
  [lsn, seq]: [number, number],
  values: { id?: string | null; email?: string | null; note?: string | null } = {},
  extra: { unchanged?: string[]; flags?: string[]; fields?: ReadonlyMap<string, string> } = {},
): Change {
  const row: WarehouseRow = {
    _dsr_op: op,
    _dsr_commit_lsn: BigInt(lsn),
    _dsr_seq: BigInt(seq),
    _dsr_commit_ts: `2024-01-01 00:00:0${seq}.000000 +00:00`,
    _dsr_unchanged: extra.unchanged ?? [],
    _dsr_coercion_flags: extra.flags ?? [],
    id: values.id ?? null,
    email: values.email ?? null,
    note: values.note ?? null,
  };
  return { row, fields: extra.fields ?? FIELDS };
}

/** The staged rows of a one-segment fold, as [op, lsn, seq, id, email, note, unchanged]. */
function staged(segments: Segment[]): (string | null)[][] {
  expect(segments.map((s) => s.kind)).toEqual(['rows']);
  const [segment] = segments as [{ kind: 'rows'; rows: { unchanged: string; values: (string | null)[] }[] }];
  return segment.rows.map(({ values, unchanged }) => [
    values[0] ?? null,
    values[1] ?? null,
    values[2] ?? null,
    ...values.slice(5),
    unchanged,
  ]);
}

const KEY = ['ID'];

describe('fold', () => {
  it('stages metadata then every column as text, in the table’s column order', () => {
    const [segment] = fold(
      [change('c', [5, 1], { id: '1', email: 'a@x', note: 'n' }, { flags: ['NOTE'] })],
      COLUMNS,
      KEY,
    );
    expect(segment).toEqual({
      kind: 'rows',
      rows: [
        {
          unchanged: '',
          values: ['c', '5', '1', '2024-01-01 00:00:01.000000 +00:00', '["NOTE"]', '1', 'a@x', 'n'],
        },
      ],
    });
  });

  it('keeps the last change per key in source order (commit LSN, then seq)', () => {
    const segments = fold(
      [
        change('c', [10, 0], { id: '1', email: 'first' }),
        change('c', [10, 1], { id: '2', email: 'other' }),
        change('u', [10, 2], { id: '1', email: 'second' }),
        change('u', [11, 0], { id: '1', email: 'third' }),
      ],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([
      ['u', '11', '0', '1', 'third', null, ''],
      ['c', '10', '1', '2', 'other', null, ''],
    ]);
  });

  it('ignores a re-delivered older change after a newer one', () => {
    const segments = fold(
      [
        change('u', [20, 0], { id: '1', email: 'new' }),
        change('u', [19, 5], { id: '1', email: 'old' }),
        change('u', [20, 0], { id: '1', email: 'new' }), // the same change again is harmless
      ],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['u', '20', '0', '1', 'new', null, '']]);
  });

  it('orders by the commit LSN before the seq (a higher seq in an older transaction is older)', () => {
    const segments = fold(
      [change('u', [30, 0], { id: '1', email: 'newer' }), change('u', [29, 99], { id: '1', email: 'older' })],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['u', '30', '0', '1', 'newer', null, '']]);
  });

  it('fills unchanged (TOAST) columns from an earlier change of the batch that had them', () => {
    const segments = fold(
      [
        change('c', [1, 0], { id: '1', email: 'a', note: 'big text' }),
        change('u', [2, 0], { id: '1', email: 'b' }, { unchanged: ['NOTE'] }),
        change('u', [3, 0], { id: '1', email: 'c' }, { unchanged: ['NOTE'] }),
      ],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['u', '3', '0', '1', 'c', 'big text', '']]);
  });

  it('keeps a column unchanged when no earlier change of the batch had it, so the target keeps its value', () => {
    const segments = fold(
      [
        change('u', [2, 0], { id: '1', email: 'b' }, { unchanged: ['NOTE', 'EMAIL'] }),
        change('u', [3, 0], { id: '1', email: 'c' }, { unchanged: ['NOTE'] }),
        change('u', [3, 1], { id: '2', email: 'x' }, { unchanged: ['NOTE', 'EMAIL'] }),
      ],
      COLUMNS,
      KEY,
    );
    // the set is sorted, so equal sets share one UPDATE statement
    expect(staged(segments)).toEqual([
      ['u', '3', '0', '1', 'c', null, 'NOTE'],
      ['u', '3', '1', '2', 'x', null, 'EMAIL,NOTE'],
    ]);
  });

  it('applies a delete then an insert of the same key as the insert', () => {
    const segments = fold(
      [
        change('c', [1, 0], { id: '1', email: 'old', note: 'old note' }),
        change('d', [2, 0], { id: '1' }),
        change('c', [3, 0], { id: '1', email: 'new' }),
      ],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['c', '3', '0', '1', 'new', null, '']]);
  });

  it('applies an insert then a delete of the same key as the delete', () => {
    const segments = fold(
      [change('c', [1, 0], { id: '1', email: 'a' }), change('d', [2, 0], { id: '1' })],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['d', '2', '0', '1', null, null, '']]);
  });

  it('splits the batch at a truncate: changes before it, the truncate, changes after it', () => {
    const segments = fold(
      [
        change('c', [1, 0], { id: '1', email: 'a' }),
        change('u', [1, 1], { id: '1', email: 'b' }),
        change('t', [2, 0]),
        change('c', [3, 0], { id: '1', email: 'c' }),
        change('u', [3, 1], { id: '2', email: 'd' }, { unchanged: ['NOTE'] }),
      ],
      COLUMNS,
      KEY,
    );
    expect(segments.map((s) => s.kind)).toEqual(['rows', 'truncate', 'rows']);
    expect(segments[1]).toEqual({ kind: 'truncate', lsn: 2n, seq: 0n });
    expect(staged([segments[0] as Segment])).toEqual([['u', '1', '1', '1', 'b', null, '']]);
    // a change before the truncate does not fill a column after it
    expect(staged([segments[2] as Segment])).toEqual([
      ['c', '3', '0', '1', 'c', null, ''],
      ['u', '3', '1', '2', 'd', null, 'NOTE'],
    ]);
  });

  it('makes no empty row segments around truncates', () => {
    const segments = fold([change('t', [1, 0]), change('t', [2, 0])], COLUMNS, KEY);
    expect(segments).toEqual([
      { kind: 'truncate', lsn: 1n, seq: 0n },
      { kind: 'truncate', lsn: 2n, seq: 0n },
    ]);
    expect(fold([], COLUMNS, KEY)).toEqual([]);
  });

  it('keys by every key column, NULLs included (tables without a primary key)', () => {
    const segments = fold(
      [
        change('c', [1, 0], { id: '1', email: null, note: 'a' }),
        change('c', [1, 1], { id: '1', email: 'x', note: 'b' }),
        change('u', [1, 2], { id: '1', email: null, note: 'c' }),
      ],
      COLUMNS,
      ['ID', 'EMAIL'],
    );
    expect(staged(segments)).toEqual([
      ['u', '1', '2', '1', null, 'c', ''],
      ['c', '1', '1', '1', 'x', 'b', ''],
    ]);
  });

  it('leaves a column NULL for a change whose older contract lacks it', () => {
    const older = new Map([
      ['ID', 'id'],
      ['EMAIL', 'email'],
    ]);
    const segments = fold(
      [change('c', [1, 0], { id: '1', email: 'a', note: 'ignored' }, { fields: older })],
      COLUMNS,
      KEY,
    );
    expect(staged(segments)).toEqual([['c', '1', '0', '1', 'a', null, '']]);
  });
});

/**
 * The apply step of sql.ts (UPDATE newer rows keeping unchanged columns, INSERT absent keys,
 * DELETE on a newer delete, truncate of older rows) over an in-memory table: a model to check
 * that folding loses nothing the staged MERGE needs.
 */
type TargetRow = { values: (string | null)[]; lsn: bigint; seq: bigint };

function applyBatch(target: Map<string, TargetRow>, changes: readonly Change[]): void {
  const keyIndex = COLUMNS.findIndex((c) => c.target === 'ID');
  const before = (a: { lsn: bigint; seq: bigint }, b: { lsn: bigint; seq: bigint }) =>
    a.lsn < b.lsn || (a.lsn === b.lsn && a.seq < b.seq);
  for (const segment of fold(changes, COLUMNS, KEY)) {
    if (segment.kind === 'truncate') {
      for (const [id, row] of target) if (before(row, segment)) target.delete(id);
      continue;
    }
    const staged = segment.rows.map(({ values, unchanged }) => ({
      op: values[0],
      lsn: BigInt(values[1] as string),
      seq: BigInt(values[2] as string),
      columns: values.slice(5),
      unchanged: new Set(unchanged ? unchanged.split(',') : []),
    }));
    for (const s of staged) {
      const id = s.columns[keyIndex] as string;
      const row = target.get(id);
      if (s.op !== 'd' && row && before(row, s)) {
        row.values = row.values.map((v, i) =>
          s.unchanged.has(COLUMNS[i]?.target ?? '') ? v : (s.columns[i] ?? null),
        );
        Object.assign(row, { lsn: s.lsn, seq: s.seq });
      }
    }
    for (const s of staged) {
      const id = s.columns[keyIndex] as string;
      if (s.op !== 'd' && !target.has(id)) target.set(id, { values: s.columns, lsn: s.lsn, seq: s.seq });
    }
    for (const s of staged) {
      const id = s.columns[keyIndex] as string;
      const row = target.get(id);
      if (s.op === 'd' && row && before(row, s)) target.delete(id);
    }
  }
}

describe('fold, then the staged apply, equals the source table', () => {
  const step = fc.record({
    key: fc.constantFrom('1', '2', '3'),
    kind: fc.integer({ min: 0, max: 19 }), // 0–13 write, 14–18 delete, 19 truncate
    email: fc.string({ maxLength: 3 }),
    note: fc.option(fc.string({ maxLength: 3 })),
    keepNote: fc.boolean(), // an update that leaves the TOAST column unchanged
  });
  type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

  /** A valid change history of the steps (positions strictly increasing) and the table it leaves. */
  function history(steps: Step[]) {
    const source = new Map<string, { email: string; note: string | null }>();
    const changes: Change[] = [];
    for (const s of steps) {
      const position: [number, number] = [Math.floor(changes.length / 3) + 1, changes.length % 3];
      const current = source.get(s.key);
      if (s.kind === 19) {
        changes.push(change('t', position));
        source.clear();
      } else if (s.kind >= 14) {
        if (!current) continue;
        changes.push(change('d', position, { id: s.key }));
        source.delete(s.key);
      } else if (current && s.keepNote) {
        changes.push(change('u', position, { id: s.key, email: s.email }, { unchanged: ['NOTE'] }));
        source.set(s.key, { email: s.email, note: current.note });
      } else {
        changes.push(change(current ? 'u' : 'c', position, { id: s.key, email: s.email, note: s.note }));
        source.set(s.key, { email: s.email, note: s.note });
      }
    }
    return { changes, source };
  }

  it('in batches of any size, after a crash that replays changes already applied', () => {
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 40 }),
        fc.nat(),
        fc.nat(),
        fc.array(fc.nat(), { maxLength: 5 }),
        (steps, appliedSeed, replaySeed, cutSeeds) => {
          const { changes, source } = history(steps);
          const n = changes.length;
          const applied = appliedSeed % (n + 1); // the target holds changes [0, applied)
          const replay = replaySeed % (applied + 1); // redelivery restarts at replay ≤ applied
          const target = new Map<string, TargetRow>();
          applyBatch(target, changes.slice(0, applied));
          const cuts = [...new Set(cutSeeds.map((c) => replay + (c % (n - replay + 1))))].sort(
            (a, b) => a - b,
          );
          let start = replay;
          for (const cut of [...cuts, n]) {
            applyBatch(target, changes.slice(start, cut));
            start = cut;
          }
          const rows = Object.fromEntries([...target].map(([id, row]) => [id, row.values.slice(1)]));
          const expected = Object.fromEntries([...source].map(([id, r]) => [id, [r.email, r.note]]));
          expect(rows).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
