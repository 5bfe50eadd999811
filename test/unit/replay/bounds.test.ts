import { describe, expect, it } from 'vitest';
import {
  type Bound,
  checkOrder,
  checkRetention,
  matchTopics,
  parseBound,
  resolveTopic,
} from '../../../src/replay/bounds.js';

const facts = [
  { partition: 0, low: 0n, high: 10n, fromTimeOffset: 3n, toTimeOffset: 7n },
  { partition: 1, low: 4n, high: 6n, fromTimeOffset: 4n, toTimeOffset: 6n },
];

function error(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    return e as { code: string; field: string; message: string };
  }
  throw new Error('expected an error');
}

describe('parseBound', () => {
  it('reads times, offsets, per-partition offsets and the keywords', () => {
    expect(parseBound('2026-01-31T12:00:00+01:00', '--from')).toEqual({
      kind: 'time',
      ms: Date.parse('2026-01-31T11:00:00Z'),
      text: '2026-01-31T11:00:00.000Z',
    });
    expect(parseBound('42', '--to')).toEqual({ kind: 'offset', offset: 42n });
    expect(parseBound('0:5, 2:7', '--from')).toEqual({
      kind: 'offsets',
      offsets: new Map([
        [0, 5n],
        [2, 7n],
      ]),
    });
    expect(parseBound('earliest', '--from')).toEqual({ kind: 'earliest' });
    expect(parseBound('now', '--to')).toEqual({ kind: 'now' });
  });

  it.each([
    ['2026-01-31T12:00:00', '--from'], // no zone: ambiguous
    ['2026-02-30T12:00:00Z', '--from'],
    ['-1', '--from'],
    ['now', '--from'],
    ['earliest', '--to'],
    ['0:1,0:2', '--to'],
    ['yesterday', '--to'],
  ] as const)('refuses %s for %s, naming the option', (text, option) => {
    const e = error(() => parseBound(text, option));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: option });
    expect(e.message.startsWith(`${option}: `)).toBe(true);
  });
});

describe('checkOrder', () => {
  const t = (iso: string) => parseBound(iso, '--from');
  it('refuses an end before the start', () => {
    expect(error(() => checkOrder(t('2026-01-02T00:00:00Z'), t('2026-01-01T00:00:00Z')))).toMatchObject({
      code: 'CONFIG_INVALID',
      field: '--to',
    });
    expect(error(() => checkOrder(parseBound('9', '--from'), parseBound('8', '--to'))).message).toContain(
      'offset 8 is before --from offset 9',
    );
    expect(() => checkOrder(parseBound('0:5', '--from'), parseBound('0:4', '--to'))).toThrow(/before/);
  });
  it('accepts an equal start and end (one event)', () => {
    expect(() => checkOrder(parseBound('8', '--from'), parseBound('8', '--to'))).not.toThrow();
  });
});

describe('resolveTopic', () => {
  const bound = (text: string, option: '--from' | '--to'): Bound => parseBound(text, option);

  it('turns time bounds into the offsets Kafka named, end exclusive', () => {
    const from = bound('2026-01-01T00:00:00Z', '--from');
    const to = bound('2026-01-02T00:00:00Z', '--to');
    expect(resolveTopic('t', facts, from, to)).toEqual({
      partitions: [
        { partition: 0, start: 3n, end: 7n },
        { partition: 1, start: 4n, end: 6n },
      ],
      // partition 1 starts at its earliest offset while 0..3 were deleted: checked on read
      checkFirst: [
        { topic: 't', partition: 1, fromMs: Date.parse('2026-01-01T00:00:00Z'), low: 4n, high: 6n },
      ],
    });
  });

  it('checks retention for a time range before it, although the range left is empty', () => {
    // --from and --to both before the earliest retained event of partition 1 (offset 4)
    const early = { partition: 1, low: 4n, high: 6n, fromTimeOffset: 4n, toTimeOffset: 4n };
    const emptied = { partition: 2, low: 9n, high: 9n };
    const resolved = resolveTopic(
      't',
      [early, emptied],
      bound('2026-01-01T00:00:00Z', '--from'),
      bound('2026-01-01T01:00:00Z', '--to'),
    );
    expect(resolved.partitions).toEqual([
      { partition: 1, start: 4n, end: 4n },
      { partition: 2, start: 9n, end: 9n },
    ]);
    expect(resolved.checkFirst.map((c) => c.partition)).toEqual([1, 2]);
  });

  it('reads offsets inclusively and clamps them to the end', () => {
    const { partitions } = resolveTopic('t', facts, bound('4', '--from'), bound('5', '--to'));
    expect(partitions).toEqual([
      { partition: 0, start: 4n, end: 6n },
      { partition: 1, start: 4n, end: 6n },
    ]);
    expect(resolveTopic('t', facts, bound('earliest', '--from'), bound('100', '--to')).partitions).toEqual([
      { partition: 0, start: 0n, end: 10n },
      { partition: 1, start: 4n, end: 6n },
    ]);
  });

  it('replays only the partitions per-partition offsets list', () => {
    expect(resolveTopic('t', facts, bound('0:2', '--from'), bound('now', '--to')).partitions).toEqual([
      { partition: 0, start: 2n, end: 10n },
    ]);
  });

  it('refuses an offset deleted by retention, naming the earliest available one', () => {
    const e = error(() => resolveTopic('t', facts, bound('2', '--from'), bound('now', '--to')));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: '--from' });
    expect(e.message).toContain(
      'offset 2 of t partition 1 was deleted by retention; its earliest available offset is 4',
    );
  });

  it('refuses a range whose end resolves before its start', () => {
    const e = error(() =>
      resolveTopic('t', facts, bound('2026-01-01T00:00:00Z', '--from'), bound('0:1', '--to')),
    );
    expect(e).toMatchObject({ field: '--to' });
    expect(e.message).toContain('t partition 0');
  });

  it('refuses a partition the topic does not have', () => {
    expect(error(() => resolveTopic('t', facts, bound('7:0', '--from'), bound('now', '--to'))).message).toBe(
      '--from: t has no partition 7 (it has 2)',
    );
  });
});

describe('checkRetention', () => {
  const fromMs = Date.parse('2026-01-01T00:00:00Z');
  const check = { topic: 't', partition: 1, fromMs, low: 4n, high: 6n };

  it('passes when the earliest retained event is at or before the time', () => {
    expect(() => checkRetention(check, { offset: 4n, ms: fromMs })).not.toThrow();
    expect(() => checkRetention(check, { offset: 4n, ms: fromMs - 1 })).not.toThrow();
  });

  it('refuses a time before the earliest retained event, naming it', () => {
    const e = error(() => checkRetention(check, { offset: 4n, ms: fromMs + 1_000 }));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: '--from' });
    expect(e.message).toBe(
      '--from: 2026-01-01T00:00:00.000Z is before the retention of t partition 1: its earliest available ' +
        'event (offset 4) is from 2026-01-01T00:00:01.000Z, earlier ones were deleted; use a later ' +
        '--from, or --from earliest for what is left',
    );
  });

  it('refuses a time for a partition retention emptied: nothing shows the deleted events were earlier', () => {
    const e = error(() => checkRetention({ ...check, low: 9n, high: 9n }, undefined));
    expect(e).toMatchObject({ code: 'CONFIG_INVALID', field: '--from' });
    expect(e.message).toContain('retention deleted its events before offset 9, and none is left');
    expect(e.message).toContain('use --from earliest');
  });
});

describe('matchTopics', () => {
  const topics = ['cdc.app.public.a', 'cdc.app.public.b', 'cdc.crm.public.a', '__consumer_offsets'];
  it('matches an exact name or a * pattern, never internal topics', () => {
    expect(matchTopics('cdc.app.public.b', topics)).toEqual(['cdc.app.public.b']);
    expect(matchTopics('cdc.*.public.a', topics)).toEqual(['cdc.app.public.a', 'cdc.crm.public.a']);
    expect(matchTopics('*', topics)).not.toContain('__consumer_offsets');
  });
  it('refuses an unknown topic and a pattern that matches nothing', () => {
    expect(error(() => matchTopics('cdc.nope', topics))).toMatchObject({ field: '--topic' });
    expect(error(() => matchTopics('cdc.nope.*', topics)).message).toBe(
      '--topic: no topic matches the pattern cdc.nope.*',
    );
    // '.' is literal in a pattern
    expect(() => matchTopics('cdcXapp.*', ['cdc.app.x'])).toThrow(/no topic matches/);
  });
});
