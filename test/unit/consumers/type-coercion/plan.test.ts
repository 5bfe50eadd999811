/**
 * A table's coercion plan from a realistic `cdc.*` contract pair (built the way contracts.ts
 * builds and registers them, then read back as JSON), and the coercion of whole envelopes.
 */
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import {
  KEY_NULLABLE_PROPERTY,
  KEY_PROPERTY,
  META,
  tablePlan,
} from '../../../../src/consumers/type-coercion/plan.js';
import { DsrCdcError } from '../../../../src/errors.js';
import {
  avroNamespace,
  type ChangeEnvelope,
  envelopeSchema,
  type Op,
} from '../../../../src/events/envelope.js';
import {
  avroFieldNames,
  avroRecordSchema,
  avroTypeOptions,
  type PgColumn,
  toAvroValue,
} from '../../../../src/events/pg-types.js';
import { base, numericMod } from '../../../support/pg-types.js';

const col = (name: string, type: string, extra: Partial<PgColumn> = {}): PgColumn => ({
  name,
  type: base(type),
  typeMod: -1,
  notNull: false,
  ...extra,
});

const ACCOUNTS: PgColumn[] = [
  col('id', 'int8', { notNull: true }),
  col('email', 'text'),
  col('balance', 'numeric', { typeMod: numericMod(10, 2) }),
  col('created_at', 'timestamptz'),
  col('profile', 'jsonb'),
  col('Display Name', 'varchar'),
];
const SETTINGS = { unconstrainedNumericScale: 9, columns: {} };
const TOPIC = 'warehouse.shop.public.accounts';

/** The value and key contracts of a table as the registry returns them (plain JSON). */
function contracts(columns: PgColumn[], keyColumns: PgColumn[] | null) {
  const namespace = avroNamespace('cdc', 'shop', 'public', 'accounts');
  const row = avroRecordSchema('Row', namespace, columns, { allNullable: true });
  const json = (x: unknown) => JSON.parse(JSON.stringify(x)) as Record<string, unknown>;
  return {
    value: json(envelopeSchema(namespace, row)),
    key: keyColumns ? json(avroRecordSchema('Key', namespace, keyColumns)) : null,
  };
}

const { value: VALUE, key: KEY } = contracts(ACCOUNTS, [ACCOUNTS[0] as PgColumn]);
const plan = () => tablePlan(TOPIC, VALUE, KEY, SETTINGS);

/** A row image from pgoutput texts by column name (absent: NULL), through the real converter. */
function image(texts: Record<string, string | null>): Record<string, unknown> {
  const names = avroFieldNames(ACCOUNTS);
  return Object.fromEntries(ACCOUNTS.map((c, i) => [names[i], toAvroValue(c, texts[c.name] ?? null)]));
}

function envelope(
  op: Op,
  rows: { before?: Record<string, unknown>; after?: Record<string, unknown> },
  extra: { unchanged?: string[]; commitLsn?: bigint | null; seq?: bigint } = {},
): ChangeEnvelope {
  return {
    op,
    before: rows.before ?? null,
    after: rows.after ?? null,
    unchanged: extra.unchanged ?? [],
    source: {
      connector: 'postgres',
      name: 'shop',
      db: 'shop',
      schema: 'public',
      table: 'accounts',
      lsn: 100n,
      commitLsn: extra.commitLsn === undefined ? 0x16b3748n : extra.commitLsn,
      txId: 7n,
      // 2024-02-29 07:44:15.123456 UTC
      commitTs: 1_709_192_655_123_456n,
      snapshot: false,
      seq: extra.seq ?? 3n,
    },
    tsMs: 1_709_192_655_200n,
  };
}

const ADA = {
  id: '42',
  email: 'ada@example.test',
  balance: '1234.50',
  created_at: '2024-02-29 13:14:15.123456+05:30',
  profile: '{"tags": ["a", "b"]}',
  'Display Name': 'Ada L.',
};

describe('tablePlan', () => {
  it('plans every column of the row contract, in order, with its Snowflake type', () => {
    expect(plan().columns.map((c) => [c.field, c.column, c.target, c.snowflakeType])).toEqual([
      ['id', 'id', 'ID', 'NUMBER(19,0)'],
      ['email', 'email', 'EMAIL', 'VARCHAR'],
      ['balance', 'balance', 'BALANCE', 'NUMBER(10,2)'],
      ['created_at', 'created_at', 'CREATED_AT', 'TIMESTAMP_TZ(6)'],
      ['profile', 'profile', 'PROFILE', 'VARIANT'],
      ['Display_Name', 'Display Name', 'DISPLAY_NAME', 'VARCHAR'],
    ]);
    expect(plan().keyFields).toEqual(['id']);
  });

  it('describes the warehouse row in a contract the loader can build a table from', () => {
    const { valueSchema, keySchema } = plan();
    const value = valueSchema as Record<string, unknown>;
    expect(value.namespace).toBe('warehouse.shop.public.accounts');
    expect(value[KEY_PROPERTY]).toEqual(['ID']);
    expect(value[KEY_NULLABLE_PROPERTY]).toBe(false);
    const fields = value.fields as Record<string, unknown>[];
    expect(fields.slice(0, 6).map((f) => f.name)).toEqual(Object.values(META));
    expect(fields[8]).toMatchObject({
      name: 'balance',
      type: ['null', 'string'],
      'pg.column': 'balance',
      'snowflake.column': 'BALANCE',
      'snowflake.type': 'NUMBER(10,2)',
    });
    expect((keySchema as { fields: { name: string }[] }).fields.map((f) => f.name)).toEqual(['id']);
    // both are valid Avro, and a coerced row encodes and decodes unchanged
    const type = avsc.Type.forSchema(valueSchema as never, avroTypeOptions());
    avsc.Type.forSchema(keySchema as never, avroTypeOptions());
    const { row } = plan().coerce(envelope('c', { after: image(ADA) }), 'null');
    expect(type.fromBuffer(type.toBuffer(row))).toEqual(row);
  });

  it('keys a table without a primary key by all its columns, which may be NULL', () => {
    const { value } = contracts(ACCOUNTS, null);
    const keyless = tablePlan(TOPIC, value, null, SETTINGS);
    expect(keyless.keyFields).toEqual(ACCOUNTS.map((_, i) => avroFieldNames(ACCOUNTS)[i]));
    expect((keyless.valueSchema as Record<string, unknown>)[KEY_NULLABLE_PROPERTY]).toBe(true);
  });

  it('refuses a column that clashes with a metadata column, in any case', () => {
    for (const name of ['_dsr_op', '_DSR_SEQ', '_dsr_Coercion_Flags']) {
      const { value, key } = contracts([...ACCOUNTS, col(name, 'text')], [ACCOUNTS[0] as PgColumn]);
      const error = catchError(() => tablePlan(TOPIC, value, key, SETTINGS));
      expect(error.code).toBe('CONTRACT_REJECTED');
      expect(error.message).toContain(`"${name}"`);
      expect(error.message).toMatch(/metadata column/);
    }
  });

  it('refuses two columns that are one Snowflake column once upper-cased', () => {
    const { value, key } = contracts([...ACCOUNTS, col('Email', 'text')], [ACCOUNTS[0] as PgColumn]);
    const error = catchError(() => tablePlan(TOPIC, value, key, SETTINGS));
    expect(error.code).toBe('CONTRACT_REJECTED');
    expect(error.message).toMatch(/"email" and "Email" are both EMAIL.*rename one/);
  });

  it('refuses a contract that is not a change envelope, or a key that is not a column', () => {
    expect(catchError(() => tablePlan(TOPIC, { type: 'record', fields: [] }, KEY, SETTINGS)).code).toBe(
      'EVENT_INVALID',
    );
    const key = contracts(
      [col('nope', 'int8', { notNull: true })],
      [col('nope', 'int8', { notNull: true })],
    ).key;
    const error = catchError(() => tablePlan(TOPIC, VALUE, key, SETTINGS));
    expect(error.message).toMatch(/key field "nope"/);
  });
});

describe('coerce', () => {
  it('turns a create into a warehouse row and its key', () => {
    const { key, row } = plan().coerce(envelope('c', { after: image(ADA) }), 'null');
    expect(key).toEqual({ id: '42' });
    expect(row).toEqual({
      _dsr_op: 'c',
      _dsr_commit_lsn: 0x16b3748n,
      _dsr_seq: 3n,
      // the commit instant in UTC, to the microsecond
      _dsr_commit_ts: '2024-02-29T07:44:15.123456+00:00',
      _dsr_unchanged: [],
      _dsr_coercion_flags: [],
      id: '42',
      email: 'ada@example.test',
      balance: '1234.5',
      created_at: '2024-02-29T07:44:15.123456+00:00',
      profile: '{"tags": ["a", "b"]}',
      Display_Name: 'Ada L.',
    });
  });

  it('leaves unchanged (TOAST) columns NULL and lists them, so the loader keeps its value', () => {
    const after = image({ ...ADA, profile: null });
    const { row } = plan().coerce(envelope('u', { after }, { unchanged: ['profile'] }), 'null');
    expect(row._dsr_op).toBe('u');
    expect(row.profile).toBeNull();
    expect(row._dsr_unchanged).toEqual(['PROFILE']);
    expect(row._dsr_coercion_flags).toEqual([]);
  });

  it('lists an unchanged column by its Snowflake name even when the field name differs', () => {
    const { row } = plan().coerce(
      envelope('u', { after: image({ ...ADA, 'Display Name': null }) }, { unchanged: ['Display Name'] }),
      'null',
    );
    expect(row._dsr_unchanged).toEqual(['DISPLAY_NAME']);
  });

  it('keys a delete by its old image (only the key columns under REPLICA IDENTITY DEFAULT)', () => {
    const { key, row } = plan().coerce(envelope('d', { before: image({ id: '42' }) }), 'null');
    expect(key).toEqual({ id: '42' });
    expect(row).toMatchObject({ _dsr_op: 'd', id: '42', email: null, balance: null });
  });

  it('gives a truncate no key and no column values', () => {
    const { key, row } = plan().coerce(envelope('t', {}), 'null');
    expect(key).toBeNull();
    expect(row._dsr_op).toBe('t');
    for (const c of plan().columns) expect(row[c.field]).toBeNull();
  });

  it('places a snapshot read (no commit LSN) before every streamed change', () => {
    const { row } = plan().coerce(envelope('r', { after: image(ADA) }, { commitLsn: null, seq: 9n }), 'null');
    expect(row._dsr_commit_lsn).toBe(0n);
    expect(row._dsr_seq).toBe(9n);
  });

  it("onOutOfRange 'null': the column becomes NULL and is flagged", () => {
    const nan = image({ ...ADA, balance: 'NaN' });
    const { row } = plan().coerce(envelope('u', { after: nan }), 'null');
    expect(row.balance).toBeNull();
    expect(row._dsr_coercion_flags).toEqual(['BALANCE']);
    expect(row.email).toBe('ada@example.test');
    const infinite = image({ ...ADA, balance: 'NaN', created_at: 'infinity' });
    expect(plan().coerce(envelope('u', { after: infinite }), 'null').row._dsr_coercion_flags).toEqual([
      'BALANCE',
      'CREATED_AT',
    ]);
  });

  it("onOutOfRange 'dlq': EVENT_INVALID naming the column and the reason, not the value", () => {
    const after = image({ ...ADA, created_at: '-infinity' });
    const error = catchError(() => plan().coerce(envelope('c', { after }), 'dlq'));
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.field).toBe('created_at');
    expect(error.message).toMatch(/"created_at" \(TIMESTAMP_TZ\(6\)\): a timestamp outside years 1 to 9999/);
    expect(error.message).not.toMatch(/infinity|ada@/);
  });

  it('propagates a value that cannot be read as EVENT_INVALID whatever onOutOfRange says', () => {
    const after = { ...image(ADA), balance: 'secret-text' };
    for (const mode of ['null', 'dlq'] as const) {
      const error = catchError(() => plan().coerce(envelope('c', { after }), mode));
      expect(error.code).toBe('EVENT_INVALID');
      expect(error.message).not.toContain('secret-text');
    }
  });
});

function catchError(fn: () => unknown): DsrCdcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DsrCdcError);
    return error as DsrCdcError;
  }
  throw new Error('expected an error');
}
