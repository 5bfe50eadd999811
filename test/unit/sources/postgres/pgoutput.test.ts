import { Buffer } from 'node:buffer';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  decodePgoutput,
  formatLsn,
  type PgoutputMessage,
  parseLsn,
  pgEpochMicrosToIso,
  pgEpochMicrosToUnixMicros,
  type RawValue,
  UNCHANGED_TOAST,
} from '../../../../src/sources/postgres/pgoutput.js';
import { RawPgoutputPlugin } from '../../../../src/sources/postgres/plugin.js';

/** Test-only encoder of pgoutput messages, field by field as the protocol docs list them. */
class Enc {
  private readonly parts: Buffer[] = [];

  byte(char: string): this {
    return this.u8(char.charCodeAt(0));
  }

  u8(n: number): this {
    this.parts.push(Buffer.from([n]));
    return this;
  }

  u16(n: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(n);
    this.parts.push(b);
    return this;
  }

  i32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    this.parts.push(b);
    return this;
  }

  u32(n: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.parts.push(b);
    return this;
  }

  u64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.parts.push(b);
    return this;
  }

  i64(n: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(n);
    this.parts.push(b);
    return this;
  }

  cstring(s: string): this {
    this.parts.push(Buffer.from(s, 'utf8'), Buffer.from([0]));
    return this;
  }

  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }

  /** TupleData; a Buffer value is sent in binary format. */
  tuple(values: (RawValue | Buffer)[]): this {
    this.u16(values.length);
    for (const v of values) {
      if (v === null) this.byte('n');
      else if (v === UNCHANGED_TOAST) this.byte('u');
      else if (typeof v === 'string') {
        const text = Buffer.from(v, 'utf8');
        this.byte('t').i32(text.length).raw(text);
      } else this.byte('b').i32(v.length).raw(v);
    }
    return this;
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const enc = () => new Enc();
const BIG_LSN = 0x16_b374d848n;
const UTF8_TEXT = 'Zoë Ørsted — 北京 🎉';

const cases: { name: string; buffer: Buffer; expected: PgoutputMessage }[] = [
  {
    name: 'begin',
    buffer: enc().byte('B').u64(BIG_LSN).i64(767_000_000_123_456n).u32(0xfffffff0).build(),
    expected: { tag: 'begin', finalLsn: BIG_LSN, commitTime: 767_000_000_123_456n, xid: 0xfffffff0 },
  },
  {
    name: 'begin with a commit time before 2000 (negative)',
    buffer: enc().byte('B').u64(1n).i64(-1n).u32(7).build(),
    expected: { tag: 'begin', finalLsn: 1n, commitTime: -1n, xid: 7 },
  },
  {
    name: 'commit',
    buffer: enc()
      .byte('C')
      .u8(0)
      .u64(BIG_LSN)
      .u64(BIG_LSN + 48n)
      .i64(5n)
      .build(),
    expected: { tag: 'commit', flags: 0, commitLsn: BIG_LSN, endLsn: BIG_LSN + 48n, commitTime: 5n },
  },
  {
    name: 'origin',
    buffer: enc().byte('O').u64(0xffff_ffff_ffff_ffffn).cstring('upstream').build(),
    expected: { tag: 'origin', originLsn: 0xffff_ffff_ffff_ffffn, name: 'upstream' },
  },
  {
    name: 'type',
    buffer: enc().byte('Y').u32(0xfffffffe).cstring('public').cstring('mood').build(),
    expected: { tag: 'type', typeOid: 0xfffffffe, schema: 'public', name: 'mood' },
  },
  {
    name: 'relation with key flags, typmods and each replica identity byte',
    buffer: enc()
      .byte('R')
      .u32(16384)
      .cstring('')
      .cstring('Ünïcode "table"')
      .byte('f')
      .u16(3)
      .u8(1)
      .cstring('id')
      .u32(20)
      .i32(-1)
      .u8(0)
      .cstring('amount')
      .u32(1700)
      .i32((38 << 16) + 2 + 4)
      .u8(0)
      .cstring('名前')
      .u32(25)
      .i32(-1)
      .build(),
    expected: {
      tag: 'relation',
      relation: {
        oid: 16384,
        schema: '',
        name: 'Ünïcode "table"',
        replicaIdentity: 'full',
        columns: [
          { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
          { name: 'amount', typeOid: 1700, typeMod: (38 << 16) + 6, isKey: false },
          { name: '名前', typeOid: 25, typeMod: -1, isKey: false },
        ],
      },
    },
  },
  ...(['default', 'nothing', 'index'] as const).map((identity) => ({
    name: `relation with replica identity ${identity}`,
    buffer: enc()
      .byte('R')
      .u32(1)
      .cstring('s')
      .cstring('t')
      .byte(identity[0] ?? '')
      .u16(0)
      .build(),
    expected: {
      tag: 'relation' as const,
      relation: { oid: 1, schema: 's', name: 't', replicaIdentity: identity, columns: [] },
    },
  })),
  {
    name: 'insert: text, null, empty string and multi-byte UTF-8 stay distinct and exact',
    buffer: enc()
      .byte('I')
      .u32(16384)
      .byte('N')
      .tuple(['9007199254740993', null, '', UTF8_TEXT, '2024-02-29 23:59:59.123456+00'])
      .build(),
    expected: {
      tag: 'insert',
      relationOid: 16384,
      new: ['9007199254740993', null, '', UTF8_TEXT, '2024-02-29 23:59:59.123456+00'],
    },
  },
  {
    name: 'insert with zero columns',
    buffer: enc().byte('I').u32(5).byte('N').tuple([]).build(),
    expected: { tag: 'insert', relationOid: 5, new: [] },
  },
  {
    name: 'update with only the new tuple, unchanged TOAST marked',
    buffer: enc().byte('U').u32(7).byte('N').tuple(['1', UNCHANGED_TOAST, 'x']).build(),
    expected: { tag: 'update', relationOid: 7, key: null, old: null, new: ['1', UNCHANGED_TOAST, 'x'] },
  },
  {
    name: 'update with a key tuple (non-key columns null)',
    buffer: enc()
      .byte('U')
      .u32(7)
      .byte('K')
      .tuple(['1', null, null])
      .byte('N')
      .tuple(['2', 'a', UNCHANGED_TOAST])
      .build(),
    expected: {
      tag: 'update',
      relationOid: 7,
      key: ['1', null, null],
      old: null,
      new: ['2', 'a', UNCHANGED_TOAST],
    },
  },
  {
    name: 'update with an old tuple (REPLICA IDENTITY FULL)',
    buffer: enc()
      .byte('U')
      .u32(7)
      .byte('O')
      .tuple(['1', 'before', null])
      .byte('N')
      .tuple(['1', 'after', ''])
      .build(),
    expected: {
      tag: 'update',
      relationOid: 7,
      key: null,
      old: ['1', 'before', null],
      new: ['1', 'after', ''],
    },
  },
  {
    name: 'delete with a key tuple',
    buffer: enc().byte('D').u32(8).byte('K').tuple(['42', null]).build(),
    expected: { tag: 'delete', relationOid: 8, key: ['42', null], old: null },
  },
  {
    name: 'delete with an old tuple',
    buffer: enc().byte('D').u32(8).byte('O').tuple(['42', UTF8_TEXT]).build(),
    expected: { tag: 'delete', relationOid: 8, key: null, old: ['42', UTF8_TEXT] },
  },
  ...[
    { options: 0, cascade: false, restartIdentity: false },
    { options: 1, cascade: true, restartIdentity: false },
    { options: 2, cascade: false, restartIdentity: true },
    { options: 3, cascade: true, restartIdentity: true },
  ].map(({ options, cascade, restartIdentity }) => ({
    name: `truncate with options ${options}`,
    buffer: enc().byte('T').u32(2).u8(options).u32(16384).u32(0xffffffff).build(),
    expected: {
      tag: 'truncate' as const,
      relationOids: [16384, 0xffffffff],
      cascade,
      restartIdentity,
    },
  })),
  {
    name: 'transactional logical message with binary content',
    buffer: enc()
      .byte('M')
      .u8(1)
      .u64(BIG_LSN)
      .cstring('dsr')
      .i32(4)
      .raw(Buffer.from([0, 0xff, 0x10, 0]))
      .build(),
    expected: {
      tag: 'message',
      transactional: true,
      lsn: BIG_LSN,
      prefix: 'dsr',
      content: Buffer.from([0, 0xff, 0x10, 0]),
    },
  },
  {
    name: 'non-transactional logical message with empty content',
    buffer: enc().byte('M').u8(0).u64(0n).cstring('').i32(0).build(),
    expected: { tag: 'message', transactional: false, lsn: 0n, prefix: '', content: Buffer.alloc(0) },
  },
];

describe('decodePgoutput', () => {
  it.each(cases)('$name', ({ buffer, expected }) => {
    expect(decodePgoutput(buffer)).toEqual(expected);
  });

  it('keeps UNCHANGED_TOAST distinct from null, empty string and any text', () => {
    const message = decodePgoutput(
      enc().byte('U').u32(1).byte('N').tuple([UNCHANGED_TOAST, null, '']).build(),
    );
    expect(message.tag).toBe('update');
    if (message.tag !== 'update') return;
    const [toast, nul, empty] = message.new;
    expect(toast).toBe(UNCHANGED_TOAST);
    expect(typeof toast).toBe('symbol');
    expect(nul).toBeNull();
    expect(empty).toBe('');
  });

  it('copies message content out of the incoming buffer', () => {
    const buffer = enc().byte('M').u8(0).u64(1n).cstring('p').i32(2).raw(Buffer.from('hi')).build();
    const message = decodePgoutput(buffer);
    buffer.fill(0);
    expect(message.tag === 'message' && message.content.toString()).toBe('hi');
  });

  it.each([
    { name: 'unknown tag', buffer: Buffer.from('Z'), error: /unknown message type 'Z' \(0x5a\)/ },
    { name: 'stream start (v2 streaming)', buffer: enc().byte('S').u32(1).u8(1).build(), error: /0x53/ },
    { name: 'empty buffer', buffer: Buffer.alloc(0), error: /empty message/ },
    {
      name: 'binary tuple value',
      buffer: enc()
        .byte('I')
        .u32(1)
        .byte('N')
        .tuple(['1', Buffer.from([1])])
        .build(),
      error: /column 1 is in binary format/,
    },
    {
      name: 'unknown tuple value kind',
      buffer: enc().byte('I').u32(1).byte('N').u16(1).byte('x').build(),
      error: /unknown tuple value kind 'x' \(0x78\) in column 0/,
    },
    {
      name: 'insert without the N marker',
      buffer: enc().byte('I').u32(1).byte('K').tuple([]).build(),
      error: /expected tuple 'N' \(0x4e\), got 'K' \(0x4b\)/,
    },
    {
      name: 'update with an unknown tuple marker',
      buffer: enc().byte('U').u32(1).byte('X').tuple([]).build(),
      error: /unknown update tuple marker 'X'/,
    },
    {
      name: 'delete with a new tuple',
      buffer: enc().byte('D').u32(1).byte('N').tuple([]).build(),
      error: /unknown delete tuple marker 'N'/,
    },
    {
      name: 'unknown replica identity',
      buffer: enc().byte('R').u32(1).cstring('s').cstring('t').byte('q').u16(0).build(),
      error: /unknown replica identity 'q'/,
    },
    {
      name: 'truncated begin',
      buffer: enc().byte('B').u64(1n).build(),
      error: /'B' \(0x42\) message truncated/,
    },
    {
      name: 'text value longer than the message',
      buffer: enc().byte('I').u32(1).byte('N').u16(1).byte('t').i32(10).raw(Buffer.from('abc')).build(),
      error: /overruns the message/,
    },
    {
      name: 'negative text length',
      buffer: enc().byte('I').u32(1).byte('N').u16(1).byte('t').i32(-1).build(),
      error: /overruns the message/,
    },
    {
      name: 'unterminated string',
      buffer: enc().byte('O').u64(1n).raw(Buffer.from('name')).build(),
      error: /unterminated string/,
    },
    {
      name: 'truncate count beyond the message',
      buffer: enc().byte('T').u32(1_000_000).u8(0).u32(1).build(),
      error: /overruns the message/,
    },
    {
      name: 'trailing bytes (e.g. a streamed-transaction xid prefix)',
      buffer: enc().byte('Y').u32(1).cstring('s').cstring('t').u8(0).build(),
      error: /'Y' \(0x59\) message has 1 unexpected trailing bytes/,
    },
  ])('rejects $name', ({ buffer, error }) => {
    expect(() => decodePgoutput(buffer)).toThrow(error);
  });
});

describe('LSN text', () => {
  it.each([
    { lsn: 0n, text: '0/0' },
    { lsn: 0xb374d848n, text: '0/B374D848' },
    { lsn: BIG_LSN, text: '16/B374D848' },
    { lsn: 1n << 32n, text: '1/0' },
    { lsn: (1n << 32n) - 1n, text: '0/FFFFFFFF' },
    { lsn: 0xffff_ffff_ffff_ffffn, text: 'FFFFFFFF/FFFFFFFF' },
  ])('$text', ({ lsn, text }) => {
    expect(formatLsn(lsn)).toBe(text);
    expect(parseLsn(text)).toBe(lsn);
    expect(parseLsn(text.toLowerCase())).toBe(lsn);
  });

  it('parses zero-padded forms as Postgres and the replication library print them', () => {
    expect(parseLsn('00000016/0B374D84')).toBe(0x16_0b374d84n);
    expect(formatLsn(parseLsn('0/00000000'))).toBe('0/0');
  });

  it.each([
    '',
    '0',
    '/0',
    '0/',
    '0/0/0',
    'G/0',
    '123456789/0',
    '0/123456789',
    ' 0/0',
    '0/0 ',
    '-1/0',
    '0x1/0',
  ])('rejects %j', (text) => {
    expect(() => parseLsn(text)).toThrow(/malformed LSN/);
  });

  it.each([-1n, 1n << 64n])('refuses to format %s', (lsn) => {
    expect(() => formatLsn(lsn)).toThrow(RangeError);
  });
});

describe('commit time conversion', () => {
  it.each([
    { micros: 0n, iso: '2000-01-01T00:00:00.000000Z' },
    { micros: 1n, iso: '2000-01-01T00:00:00.000001Z' },
    { micros: -1n, iso: '1999-12-31T23:59:59.999999Z' },
    { micros: -946_684_800_000_000n, iso: '1970-01-01T00:00:00.000000Z' },
    { micros: -946_684_800_000_001n, iso: '1969-12-31T23:59:59.999999Z' },
    { micros: -960_867_739_999_999n, iso: '1969-07-20T20:17:40.000001Z' },
    { micros: -960_867_740_000_001n, iso: '1969-07-20T20:17:39.999999Z' },
    { micros: 762_566_399_123_456n, iso: '2024-02-29T23:59:59.123456Z' },
    { micros: 252_455_615_999_999_999n, iso: '9999-12-31T23:59:59.999999Z' },
    { micros: 252_455_616_000_000_000n, iso: '+010000-01-01T00:00:00.000000Z' },
  ])('$iso', ({ micros, iso }) => {
    expect(pgEpochMicrosToIso(micros)).toBe(iso);
    expect(pgEpochMicrosToUnixMicros(micros)).toBe(micros + 946_684_800_000_000n);
    // the ISO text and the unix micros agree, to the millisecond Date can represent
    expect(
      BigInt(Date.parse(iso)) * 1000n + (((pgEpochMicrosToUnixMicros(micros) % 1000n) + 1000n) % 1000n),
    ).toBe(pgEpochMicrosToUnixMicros(micros));
  });

  it('rejects instants beyond the JS Date range, such as Postgres infinity', () => {
    expect(() => pgEpochMicrosToIso(0x7fff_ffff_ffff_ffffn)).toThrow(RangeError);
    expect(() => pgEpochMicrosToIso(-0x8000_0000_0000_0000n)).toThrow(RangeError);
  });
});

describe('RawPgoutputPlugin', () => {
  const startSql = async (
    plugin: RawPgoutputPlugin,
    slot = 'slot_1',
    lsn = '0/00000000',
  ): Promise<string> => {
    let sql = '';
    const client = {
      query: async (text: string) => {
        sql = text;
        return { rows: [] };
      },
    } as unknown as pg.Client;
    await plugin.start(client, slot, lsn);
    return sql;
  };

  it('starts proto_version 1 with each publication quoted as an identifier inside one literal', async () => {
    const plugin = new RawPgoutputPlugin({ publicationNames: ['pub_a', 'Pub B'] });
    expect(plugin.name).toBe('pgoutput');
    expect(await startSql(plugin, 'slot_1', '16/00B374D8')).toBe(
      `START_REPLICATION SLOT "slot_1" LOGICAL 16/B374D8 (proto_version '1', publication_names '"pub_a","Pub B"')`,
    );
  });

  it('asks for logical messages only when configured', async () => {
    const plugin = new RawPgoutputPlugin({ publicationNames: ['p'], messages: true });
    expect(await startSql(plugin)).toBe(
      `START_REPLICATION SLOT "slot_1" LOGICAL 0/0 (proto_version '1', publication_names '"p"', messages 'true')`,
    );
  });

  it('parses with the raw decoder', () => {
    const plugin = new RawPgoutputPlugin({ publicationNames: ['p'] });
    const buffer = enc()
      .byte('I')
      .u32(3)
      .byte('N')
      .tuple(['2024-02-29 23:59:59.123456+00', UNCHANGED_TOAST])
      .build();
    expect(plugin.parse(buffer)).toEqual({
      tag: 'insert',
      relationOid: 3,
      new: ['2024-02-29 23:59:59.123456+00', UNCHANGED_TOAST],
    });
  });

  it.each([[[]], [['']], [["it's"]], [['a,b']], [['say "hi"']], [['nul\0']]])(
    'rejects publication names %j',
    (publicationNames) => {
      expect(() => new RawPgoutputPlugin({ publicationNames })).toThrow(/publication name/);
    },
  );

  it.each(['Slot', 'slot"; DROP', ''])('rejects slot name %j', async (slot) => {
    await expect(startSql(new RawPgoutputPlugin({ publicationNames: ['p'] }), slot)).rejects.toThrow(
      /invalid replication slot name/,
    );
  });

  it('rejects a malformed start LSN', async () => {
    await expect(
      startSql(new RawPgoutputPlugin({ publicationNames: ['p'] }), 'slot_1', '0/0; x'),
    ).rejects.toThrow(/malformed LSN/);
  });
});
