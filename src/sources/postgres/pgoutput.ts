/**
 * Decoder of the `pgoutput` logical replication protocol, version 1 (PostgreSQL 15 docs,
 * "Logical Replication Message Formats"). Pure: one message buffer in, one plain object out.
 *
 * Values stay exactly as Postgres sent them (text format, no type parsing), an unchanged TOAST
 * column is the UNCHANGED_TOAST marker, and tuples are positional arrays aligned with the
 * relation's columns, so decoding a row allocates only its strings and one array.
 *
 * Version 2 messages are the same shapes when streaming is off; the streaming messages (and the
 * xid prefix inside a stream) are not supported: we request proto_version 1 without streaming.
 * Any trailing or missing byte is an error, so a shape mismatch never decodes silently.
 */

/** A column whose TOASTed value did not change: Postgres sends no value for it ('u'). */
export const UNCHANGED_TOAST: unique symbol = Symbol('pgoutput.unchangedToast');

/** A column value: its text form exactly as sent, SQL NULL, or the unchanged-TOAST marker. */
export type RawValue = string | null | typeof UNCHANGED_TOAST;

export interface RelationColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** Part of the replica identity key. */
  isKey: boolean;
}

export interface Relation {
  oid: number;
  schema: string;
  name: string;
  replicaIdentity: 'default' | 'nothing' | 'full' | 'index';
  columns: RelationColumn[];
}

export interface PgoutputBegin {
  tag: 'begin';
  finalLsn: bigint;
  /** Microseconds since 2000-01-01 UTC, as sent. */
  commitTime: bigint;
  xid: number;
}

export interface PgoutputCommit {
  tag: 'commit';
  flags: number;
  commitLsn: bigint;
  endLsn: bigint;
  /** Microseconds since 2000-01-01 UTC, as sent. */
  commitTime: bigint;
}

export interface PgoutputRelation {
  tag: 'relation';
  relation: Relation;
}

export interface PgoutputType {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

export interface PgoutputOrigin {
  tag: 'origin';
  originLsn: bigint;
  name: string;
}

export interface PgoutputInsert {
  tag: 'insert';
  relationOid: number;
  new: RawValue[];
}

/**
 * At most one of `key` and `old` is set: `key` under default/index identity when a key column
 * changed (non-key columns null), `old` under REPLICA IDENTITY FULL (the whole old row).
 */
export interface PgoutputUpdate {
  tag: 'update';
  relationOid: number;
  key: RawValue[] | null;
  old: RawValue[] | null;
  new: RawValue[];
}

/** Exactly one of `key` (non-key columns null) and `old` (REPLICA IDENTITY FULL) is set. */
export interface PgoutputDelete {
  tag: 'delete';
  relationOid: number;
  key: RawValue[] | null;
  old: RawValue[] | null;
}

export interface PgoutputTruncate {
  tag: 'truncate';
  relationOids: number[];
  cascade: boolean;
  restartIdentity: boolean;
}

/** A pg_logical_emit_message() record; sent only when the `messages` option is on. */
export interface PgoutputLogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: bigint;
  prefix: string;
  content: Buffer;
}

export type PgoutputMessage =
  | PgoutputBegin
  | PgoutputCommit
  | PgoutputRelation
  | PgoutputType
  | PgoutputOrigin
  | PgoutputInsert
  | PgoutputUpdate
  | PgoutputDelete
  | PgoutputTruncate
  | PgoutputLogicalMessage;

const TAG_BEGIN = 0x42; // B
const TAG_COMMIT = 0x43; // C
const TAG_DELETE = 0x44; // D
const TAG_INSERT = 0x49; // I
const TAG_MESSAGE = 0x4d; // M
const TAG_ORIGIN = 0x4f; // O
const TAG_RELATION = 0x52; // R
const TAG_TRUNCATE = 0x54; // T
const TAG_UPDATE = 0x55; // U
const TAG_TYPE = 0x59; // Y

const TUPLE_KEY = 0x4b; // K
const TUPLE_NEW = 0x4e; // N
const TUPLE_OLD = 0x4f; // O

const VALUE_BINARY = 0x62; // b
const VALUE_NULL = 0x6e; // n
const VALUE_TEXT = 0x74; // t
const VALUE_UNCHANGED_TOAST = 0x75; // u

function describeByte(byte: number): string {
  return `'${String.fromCharCode(byte)}' (0x${byte.toString(16).padStart(2, '0')})`;
}

/** A single offset cursor over one message; Buffer's own reads bounds-check fixed-width fields. */
class Reader {
  pos = 0;

  constructor(readonly buf: Buffer) {}

  u8(): number {
    const value = this.buf.readUInt8(this.pos);
    this.pos += 1;
    return value;
  }

  u16(): number {
    const value = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  i32(): number {
    const value = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  u32(): number {
    const value = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return value;
  }

  u64(): bigint {
    const value = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return value;
  }

  i64(): bigint {
    const value = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return value;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new Error(`pgoutput: unterminated string at offset ${this.pos}`);
    const value = this.buf.toString('utf8', this.pos, end);
    this.pos = end + 1;
    return value;
  }

  /** The end offset of the next `length` bytes, checked against the buffer. */
  span(length: number): number {
    const end = this.pos + length;
    if (length < 0 || end > this.buf.length) {
      throw new Error(`pgoutput: field of ${length} bytes at offset ${this.pos} overruns the message`);
    }
    return end;
  }

  tuple(): RawValue[] {
    const count = this.u16();
    const values: RawValue[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const kind = this.u8();
      if (kind === VALUE_TEXT) {
        const end = this.span(this.i32());
        values[i] = this.buf.toString('utf8', this.pos, end);
        this.pos = end;
      } else if (kind === VALUE_NULL) {
        values[i] = null;
      } else if (kind === VALUE_UNCHANGED_TOAST) {
        values[i] = UNCHANGED_TOAST;
      } else if (kind === VALUE_BINARY) {
        throw new Error(`pgoutput: column ${i} is in binary format; only text format is supported`);
      } else {
        throw new Error(`pgoutput: unknown tuple value kind ${describeByte(kind)} in column ${i}`);
      }
    }
    return values;
  }

  /** The marker byte of the next tuple must be `expected`. */
  expectTuple(expected: number): RawValue[] {
    const marker = this.u8();
    if (marker !== expected) {
      throw new Error(`pgoutput: expected tuple ${describeByte(expected)}, got ${describeByte(marker)}`);
    }
    return this.tuple();
  }
}

function replicaIdentity(byte: number): Relation['replicaIdentity'] {
  switch (byte) {
    case 0x64:
      return 'default';
    case 0x6e:
      return 'nothing';
    case 0x66:
      return 'full';
    case 0x69:
      return 'index';
    default:
      throw new Error(`pgoutput: unknown replica identity ${describeByte(byte)}`);
  }
}

function decodeRelation(r: Reader): PgoutputRelation {
  const oid = r.u32();
  const schema = r.cstring();
  const name = r.cstring();
  const identity = replicaIdentity(r.u8());
  const count = r.u16();
  const columns: RelationColumn[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const flags = r.u8();
    columns[i] = { name: r.cstring(), typeOid: r.u32(), typeMod: r.i32(), isKey: (flags & 1) === 1 };
  }
  return { tag: 'relation', relation: { oid, schema, name, replicaIdentity: identity, columns } };
}

function decodeUpdate(r: Reader): PgoutputUpdate {
  const relationOid = r.u32();
  const marker = r.u8();
  switch (marker) {
    case TUPLE_NEW:
      return { tag: 'update', relationOid, key: null, old: null, new: r.tuple() };
    case TUPLE_KEY: {
      const key = r.tuple();
      return { tag: 'update', relationOid, key, old: null, new: r.expectTuple(TUPLE_NEW) };
    }
    case TUPLE_OLD: {
      const old = r.tuple();
      return { tag: 'update', relationOid, key: null, old, new: r.expectTuple(TUPLE_NEW) };
    }
    default:
      throw new Error(`pgoutput: unknown update tuple marker ${describeByte(marker)}`);
  }
}

function decodeDelete(r: Reader): PgoutputDelete {
  const relationOid = r.u32();
  const marker = r.u8();
  switch (marker) {
    case TUPLE_KEY:
      return { tag: 'delete', relationOid, key: r.tuple(), old: null };
    case TUPLE_OLD:
      return { tag: 'delete', relationOid, key: null, old: r.tuple() };
    default:
      throw new Error(`pgoutput: unknown delete tuple marker ${describeByte(marker)}`);
  }
}

function decodeTruncate(r: Reader): PgoutputTruncate {
  const count = r.u32();
  const options = r.u8();
  // bound the allocation by what the buffer can hold before trusting the count
  r.span(count * 4);
  const relationOids: number[] = new Array(count);
  for (let i = 0; i < count; i++) relationOids[i] = r.u32();
  return {
    tag: 'truncate',
    relationOids,
    cascade: (options & 1) !== 0,
    restartIdentity: (options & 2) !== 0,
  };
}

function decodeLogicalMessage(r: Reader): PgoutputLogicalMessage {
  const flags = r.u8();
  const lsn = r.u64();
  const prefix = r.cstring();
  const end = r.span(r.i32());
  // a copy: the incoming buffer may be a view into pg's reused socket buffer
  const content = Buffer.from(r.buf.subarray(r.pos, end));
  r.pos = end;
  return { tag: 'message', transactional: (flags & 1) !== 0, lsn, prefix, content };
}

function decodeBody(r: Reader, tag: number): PgoutputMessage {
  switch (tag) {
    case TAG_INSERT:
      return { tag: 'insert', relationOid: r.u32(), new: r.expectTuple(TUPLE_NEW) };
    case TAG_UPDATE:
      return decodeUpdate(r);
    case TAG_DELETE:
      return decodeDelete(r);
    case TAG_BEGIN:
      return { tag: 'begin', finalLsn: r.u64(), commitTime: r.i64(), xid: r.u32() };
    case TAG_COMMIT:
      return { tag: 'commit', flags: r.u8(), commitLsn: r.u64(), endLsn: r.u64(), commitTime: r.i64() };
    case TAG_RELATION:
      return decodeRelation(r);
    case TAG_TYPE:
      return { tag: 'type', typeOid: r.u32(), schema: r.cstring(), name: r.cstring() };
    case TAG_ORIGIN:
      return { tag: 'origin', originLsn: r.u64(), name: r.cstring() };
    case TAG_TRUNCATE:
      return decodeTruncate(r);
    case TAG_MESSAGE:
      return decodeLogicalMessage(r);
    default:
      throw new Error(`pgoutput: unknown message type ${describeByte(tag)}`);
  }
}

/** Decodes one pgoutput message (the XLogData payload). Throws on any malformed or unknown input. */
export function decodePgoutput(buffer: Buffer): PgoutputMessage {
  if (buffer.length === 0) throw new Error('pgoutput: empty message');
  const r = new Reader(buffer);
  const tag = r.u8();
  let message: PgoutputMessage;
  try {
    message = decodeBody(r, tag);
  } catch (error) {
    // Buffer's bounds checks throw RangeError: name the message instead
    if (error instanceof RangeError) {
      throw new Error(`pgoutput: ${describeByte(tag)} message truncated (${buffer.length} bytes)`, {
        cause: error,
      });
    }
    throw error;
  }
  if (r.pos !== buffer.length) {
    throw new Error(
      `pgoutput: ${describeByte(tag)} message has ${buffer.length - r.pos} unexpected trailing bytes`,
    );
  }
  return message;
}

const U32_MASK = 0xffff_ffffn;
const MAX_LSN = 0xffff_ffff_ffff_ffffn;

/** An LSN as Postgres prints it: upper-case hex halves without padding, e.g. '16/B374D848'. */
export function formatLsn(lsn: bigint): string {
  if (lsn < 0n || lsn > MAX_LSN) throw new RangeError(`LSN out of range: ${lsn}`);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & U32_MASK).toString(16).toUpperCase()}`;
}

// what pg_lsn_in accepts: 1 to 8 hex digits on each side of the slash
const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses 'X/X' as Postgres does; throws on anything else. */
export function parseLsn(text: string): bigint {
  const match = LSN_TEXT.exec(text);
  if (match === null) throw new Error(`malformed LSN ${JSON.stringify(text)}: expected 'X/X' in hex`);
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

// 1970-01-01 to 2000-01-01, in microseconds
const PG_EPOCH_UNIX_MICROS = 946_684_800_000_000n;

export function pgEpochMicrosToUnixMicros(micros: bigint): bigint {
  return micros + PG_EPOCH_UNIX_MICROS;
}

/**
 * ISO-8601 UTC with six fractional digits, e.g. '2024-02-29T23:59:59.123456Z'. Years outside
 * 0000-9999 use the expanded '+YYYYYY' form; instants beyond JS Date's range (including
 * Postgres's ±infinity) throw RangeError.
 */
export function pgEpochMicrosToIso(micros: bigint): string {
  const unixMicros = pgEpochMicrosToUnixMicros(micros);
  let millis = unixMicros / 1000n;
  let subMillis = unixMicros % 1000n;
  // bigint division truncates toward zero; the sub-millisecond part must count forward
  if (subMillis < 0n) {
    subMillis += 1000n;
    millis -= 1n;
  }
  const date = new Date(Number(millis));
  if (Number.isNaN(date.getTime())) throw new RangeError(`timestamp out of range: ${micros} µs since 2000`);
  const iso = date.toISOString();
  return `${iso.slice(0, -1)}${subMillis.toString().padStart(3, '0')}Z`;
}
