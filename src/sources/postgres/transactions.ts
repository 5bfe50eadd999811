/**
 * Turns the decoded pgoutput stream into row changes with their transaction coordinates.
 * Pure: a message in, zero or more outputs out; the only state is the relation cache and the
 * open transaction.
 *
 * Every change carries commitLsn (the transaction's commit record, known from Begin), txId,
 * commitTs and seq (0, 1, … within the transaction): commitLsn + seq orders all changes of a
 * source and identifies duplicates after a restart. A Commit output carries endLsn, the position
 * to acknowledge once every change of the transaction is durable in Kafka.
 */
import {
  type PgoutputMessage,
  pgEpochMicrosToUnixMicros,
  type RawValue,
  type Relation,
  UNCHANGED_TOAST,
} from './pgoutput.js';

export interface TransactionInfo {
  commitLsn: bigint;
  txId: bigint;
  /** Microseconds since the Unix epoch. */
  commitTs: bigint;
}

export interface RowChange {
  kind: 'change';
  relation: Relation;
  op: 'c' | 'u' | 'd' | 't';
  /** The old row under REPLICA IDENTITY FULL, the old key columns when a key changed, or null. */
  before: RawValue[] | null;
  after: RawValue[] | null;
  /** WAL position of this change. */
  lsn: bigint;
  tx: TransactionInfo;
  seq: bigint;
}

export interface TransactionCommit {
  kind: 'commit';
  tx: TransactionInfo;
  /** The position after the commit record: acknowledging it releases the transaction's WAL. */
  endLsn: bigint;
  /** How many changes the transaction produced. */
  changes: bigint;
}

/** A new or changed table definition; later changes of the table use it. */
export interface RelationChange {
  kind: 'relation';
  relation: Relation;
}

export type AssembledOutput = RowChange | TransactionCommit | RelationChange;

export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private tx: TransactionInfo | undefined;
  private seq = 0n;

  /** `lsn` is the WAL position the replication stream reported for this message. */
  accept(lsn: bigint, message: PgoutputMessage): AssembledOutput[] {
    switch (message.tag) {
      case 'begin':
        this.tx = {
          commitLsn: message.finalLsn,
          txId: BigInt(message.xid),
          commitTs: pgEpochMicrosToUnixMicros(message.commitTime),
        };
        this.seq = 0n;
        return [];
      case 'commit': {
        const tx = this.requireTx('commit');
        this.tx = undefined;
        return [{ kind: 'commit', tx, endLsn: message.endLsn, changes: this.seq }];
      }
      case 'relation':
        this.relations.set(message.relation.oid, message.relation);
        return [{ kind: 'relation', relation: message.relation }];
      case 'insert':
        return [this.change(lsn, message.relationOid, 'c', null, message.new)];
      case 'update': {
        const before = message.old ?? message.key;
        const after = fillUnchanged(message.new, message.old);
        if (before && keyChanged(this.relation(message.relationOid), before, after)) {
          // a new primary key is a new row: a delete of the old key, then a create of the new,
          // so that every key's own history (and a compacted topic) stays right
          return [
            this.change(lsn, message.relationOid, 'd', before, null),
            this.change(lsn, message.relationOid, 'c', null, after),
          ];
        }
        return [this.change(lsn, message.relationOid, 'u', before, after)];
      }
      case 'delete':
        return [this.change(lsn, message.relationOid, 'd', message.old ?? message.key, null)];
      case 'truncate':
        return message.relationOids.map((oid) => this.change(lsn, oid, 't', null, null));
      case 'type':
      case 'origin':
      case 'message':
        return [];
    }
  }

  private requireTx(what: string): TransactionInfo {
    if (!this.tx) throw new Error(`pgoutput sent ${what} outside a transaction`);
    return this.tx;
  }

  private relation(oid: number): Relation {
    const relation = this.relations.get(oid);
    if (!relation) throw new Error(`pgoutput sent a change of relation ${oid} before its definition`);
    return relation;
  }

  private change(
    lsn: bigint,
    relationOid: number,
    op: RowChange['op'],
    before: RawValue[] | null,
    after: RawValue[] | null,
  ): RowChange {
    const relation = this.relation(relationOid);
    const change: RowChange = {
      kind: 'change',
      relation,
      op,
      before,
      after,
      lsn,
      tx: this.requireTx(op),
      seq: this.seq,
    };
    this.seq += 1n;
    return change;
  }
}

/**
 * An unchanged TOAST value equals the old value; under REPLICA IDENTITY FULL the old row holds
 * it, so it is filled in. Otherwise it stays UNCHANGED_TOAST and the envelope says so.
 */
function fillUnchanged(after: RawValue[], old: RawValue[] | null): RawValue[] {
  if (!old || !after.includes(UNCHANGED_TOAST)) return after;
  return after.map((value, i) => {
    const previous = old[i];
    return value === UNCHANGED_TOAST && previous !== undefined && previous !== UNCHANGED_TOAST
      ? previous
      : value;
  });
}

function keyChanged(relation: Relation, before: RawValue[], after: RawValue[]): boolean {
  return relation.columns.some((column, i) => column.isKey && before[i] !== after[i]);
}
