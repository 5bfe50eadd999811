import { describe, expect, it } from 'vitest';
import {
  type PgoutputMessage,
  type Relation,
  UNCHANGED_TOAST,
} from '../../../../src/sources/postgres/pgoutput.js';
import { type RowChange, TransactionAssembler } from '../../../../src/sources/postgres/transactions.js';

const relation = (oid: number, identity: Relation['replicaIdentity'] = 'default'): Relation => ({
  oid,
  schema: 'public',
  name: `t${oid}`,
  replicaIdentity: identity,
  columns: [
    { name: 'id', typeOid: 20, typeMod: -1, isKey: true },
    { name: 'doc', typeOid: 25, typeMod: -1, isKey: false },
    { name: 'n', typeOid: 23, typeMod: -1, isKey: false },
  ],
});

// 2000-01-01T00:00:01Z in pgoutput's epoch, i.e. 946684801 s after 1970
const begin = (xid: number, finalLsn: bigint): PgoutputMessage => ({
  tag: 'begin',
  finalLsn,
  commitTime: 1_000_000n,
  xid,
});
const commit = (commitLsn: bigint, endLsn: bigint): PgoutputMessage => ({
  tag: 'commit',
  flags: 0,
  commitLsn,
  endLsn,
  commitTime: 1_000_000n,
});

function run(messages: PgoutputMessage[]) {
  const assembler = new TransactionAssembler();
  return messages.flatMap((m, i) => assembler.accept(BigInt(100 + i), m));
}

describe('TransactionAssembler', () => {
  it('numbers changes within a transaction and stamps them with the commit position', () => {
    const out = run([
      { tag: 'relation', relation: relation(1) },
      begin(7, 500n),
      { tag: 'insert', relationOid: 1, new: ['1', 'a', '10'] },
      { tag: 'update', relationOid: 1, key: null, old: null, new: ['1', 'b', '11'] },
      { tag: 'delete', relationOid: 1, key: ['1', null, null], old: null },
      commit(500n, 520n),
      begin(8, 600n),
      { tag: 'insert', relationOid: 1, new: ['2', 'c', null] },
      commit(600n, 620n),
    ]);
    expect(out.map((o) => o.kind)).toEqual([
      'relation',
      'change',
      'change',
      'change',
      'commit',
      'change',
      'commit',
    ]);
    const changes = out.filter((o): o is RowChange => o.kind === 'change');
    expect(changes.map((c) => [c.op, c.tx.commitLsn, c.tx.txId, c.seq])).toEqual([
      ['c', 500n, 7n, 0n],
      ['u', 500n, 7n, 1n],
      ['d', 500n, 7n, 2n],
      ['c', 600n, 8n, 0n],
    ]);
    expect(changes[0]?.tx.commitTs).toBe(946_684_801_000_000n);
    expect(changes[2]?.before).toEqual(['1', null, null]);
    expect(changes[2]?.after).toBeNull();
    expect(out[4]).toMatchObject({ kind: 'commit', endLsn: 520n, changes: 3n });
    expect(out[6]).toMatchObject({ kind: 'commit', endLsn: 620n, changes: 1n });
  });

  it('keeps unchanged TOAST marked unless the old row (REPLICA IDENTITY FULL) holds the value', () => {
    const out = run([
      { tag: 'relation', relation: relation(1) },
      { tag: 'relation', relation: relation(2, 'full') },
      begin(9, 700n),
      { tag: 'update', relationOid: 1, key: null, old: null, new: ['1', UNCHANGED_TOAST, '2'] },
      { tag: 'update', relationOid: 2, key: null, old: ['1', 'big', '1'], new: ['1', UNCHANGED_TOAST, '2'] },
      commit(700n, 720n),
    ]);
    const [plain, full] = out.filter((o): o is RowChange => o.kind === 'change');
    expect(plain?.after).toEqual(['1', UNCHANGED_TOAST, '2']);
    expect(full?.before).toEqual(['1', 'big', '1']);
    expect(full?.after).toEqual(['1', 'big', '2']);
  });

  it('emits one truncate per relation and uses the newest relation definition', () => {
    const added = {
      ...relation(1),
      columns: [...relation(1).columns, { name: 'x', typeOid: 25, typeMod: -1, isKey: false }],
    };
    const out = run([
      { tag: 'relation', relation: relation(1) },
      { tag: 'relation', relation: relation(2) },
      begin(10, 800n),
      { tag: 'truncate', relationOids: [1, 2], cascade: false, restartIdentity: false },
      { tag: 'relation', relation: added },
      { tag: 'insert', relationOid: 1, new: ['1', 'a', '1', 'new'] },
      commit(800n, 820n),
    ]);
    const changes = out.filter((o): o is RowChange => o.kind === 'change');
    expect(changes.map((c) => [c.op, c.relation.name, c.seq])).toEqual([
      ['t', 't1', 0n],
      ['t', 't2', 1n],
      ['c', 't1', 2n],
    ]);
    expect(changes[2]?.relation.columns.map((c) => c.name)).toEqual(['id', 'doc', 'n', 'x']);
  });

  it('turns an update of the primary key into a delete of the old key and a create of the new', () => {
    const out = run([
      { tag: 'relation', relation: relation(1) },
      { tag: 'relation', relation: relation(2, 'full') },
      begin(11, 900n),
      { tag: 'update', relationOid: 1, key: ['1', null, null], old: null, new: ['2', 'a', '1'] },
      { tag: 'update', relationOid: 2, key: null, old: ['5', 'a', '1'], new: ['6', 'a', '1'] },
      { tag: 'update', relationOid: 2, key: null, old: ['7', 'a', '1'], new: ['7', 'b', '1'] },
      commit(900n, 920n),
    ]);
    const changes = out.filter((o): o is RowChange => o.kind === 'change');
    expect(changes.map((c) => [c.op, c.before?.[0] ?? null, c.after?.[0] ?? null, c.seq])).toEqual([
      ['d', '1', null, 0n],
      ['c', null, '2', 1n],
      ['d', '5', null, 2n],
      ['c', null, '6', 3n],
      ['u', '7', '7', 4n],
    ]);
  });

  it('refuses changes of an unknown relation and commits outside a transaction', () => {
    const assembler = new TransactionAssembler();
    assembler.accept(1n, begin(1, 10n));
    expect(() => assembler.accept(2n, { tag: 'insert', relationOid: 99, new: [] })).toThrow(/relation 99/);
    expect(() => new TransactionAssembler().accept(3n, commit(10n, 20n))).toThrow(/outside a transaction/);
  });
});
