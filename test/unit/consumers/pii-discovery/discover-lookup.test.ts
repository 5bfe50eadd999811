import { describe, expect, it } from 'vitest';
import { parseClassification } from '../../../../src/consumers/pii-discovery/classification.js';
import { type DecodedChange, discover } from '../../../../src/consumers/pii-discovery/discover.js';
import { lookup } from '../../../../src/consumers/pii-discovery/lookup.js';
import { SubjectIndex } from '../../../../src/consumers/pii-discovery/subject-index.js';
import type { ChangeEnvelope, Op } from '../../../../src/events/envelope.js';

const pepper = Buffer.alloc(32, 7);
const context = {
  pepper,
  classification: parseClassification({ columns: [] }),
  detect: { defaultRegion: 'GB' as const },
};

let seq = 0n;
function change(
  table: string,
  op: Op,
  key: Record<string, unknown> | null,
  after: Record<string, unknown> | null,
  extra: Partial<DecodedChange> = {},
): DecodedChange {
  seq += 1n;
  const envelope: ChangeEnvelope = {
    op,
    before: null,
    after,
    unchanged: [],
    source: {
      connector: 'postgres',
      name: 'app',
      db: 'db',
      schema: 'public',
      table,
      lsn: null,
      commitLsn: 100n,
      txId: 1n,
      commitTs: null,
      snapshot: false,
      seq,
    },
    tsMs: 0n,
  };
  return { key, envelope, ...extra };
}

function applyAll(index: SubjectIndex, c: DecodedChange) {
  const records = discover(index, c, context);
  for (const r of records) index.apply(r);
  return records;
}

const summary = (index: SubjectIndex, email: string, depth = 2) =>
  lookup(index, [{ type: 'email', value: email }], pepper, depth, { defaultRegion: 'GB' })
    .locations.map((l) => `${l.table}:${Object.values(l.primaryKey).join()}:${l.matchedBy.kind}`)
    .sort();

describe('discover + lookup', () => {
  it('indexes identifiers, moves them on update, and forgets a deleted row', () => {
    const index = new SubjectIndex();
    applyAll(
      index,
      change('customers', 'c', { id: 1 }, { id: 1, email: 'Ada@Example.test', phone: '+44 20 7946 0001' }),
    );
    expect(summary(index, 'ada@example.test')).toEqual(['customers:1:identifier']);

    const records = applyAll(
      index,
      change('customers', 'u', { id: 1 }, { id: 1, email: 'new@example.test', phone: '+44 20 7946 0001' }),
    );
    expect(records.filter((r) => r.value === null)).toHaveLength(1); // the old email's entry
    expect(summary(index, 'ada@example.test')).toEqual([]);
    expect(summary(index, 'new@example.test')).toEqual(['customers:1:identifier']);

    applyAll(index, change('customers', 'd', { id: 1 }, null));
    expect(index.size).toBe(0);
  });

  it('keeps identifiers of columns an event did not carry (unchanged TOAST)', () => {
    const index = new SubjectIndex();
    applyAll(index, change('notes', 'c', { id: 5 }, { id: 5, body: 'write to ada@example.test' }));
    const update = change('notes', 'u', { id: 5 }, { id: 5, body: null });
    update.envelope.unchanged = ['body'];
    applyAll(index, update);
    expect(summary(index, 'ada@example.test')).toEqual(['notes:5:identifier']);
  });

  it('follows a single-valued identifier of a matched row, not one of several', () => {
    const index = new SubjectIndex();
    applyAll(
      index,
      change('customers', 'c', { id: 1 }, { id: 1, email: 'ada@example.test', phone: '+44 20 7946 0001' }),
    );
    applyAll(index, change('tickets', 'c', { id: 9 }, { id: 9, body: 'call +44 20 7946 0001 please' }));
    applyAll(
      index,
      change(
        'profiles',
        'c',
        { id: 2 },
        { id: 2, doc: '{"emails": ["ada@example.test", "bob@example.test"]}' },
      ),
    );
    applyAll(index, change('customers', 'c', { id: 3 }, { id: 3, email: 'bob@example.test' }));
    expect(summary(index, 'ada@example.test')).toEqual([
      'customers:1:identifier',
      'profiles:2:identifier',
      'tickets:9:linked-identifier',
    ]);
    expect(summary(index, 'ada@example.test', 0)).toEqual([
      'customers:1:identifier',
      'profiles:2:identifier',
    ]);
  });

  it('reaches rows through foreign keys, hop by hop, and truncates a table', () => {
    const index = new SubjectIndex();
    const orderFk = [
      { columns: ['customer_id'], references: { schema: 'public', table: 'customers', columns: ['id'] } },
    ];
    const paymentFk = [
      { columns: ['order_id'], references: { schema: 'public', table: 'orders', columns: ['id'] } },
    ];
    applyAll(index, change('customers', 'c', { id: 1n }, { id: 1n, email: 'ada@example.test' }));
    // an int4 foreign key referencing an int8 key still meets it
    applyAll(index, change('orders', 'c', { id: 10 }, { id: 10, customer_id: 1 }, { foreignKeys: orderFk }));
    applyAll(
      index,
      change('payments', 'c', { id: 20 }, { id: 20, order_id: 10 }, { foreignKeys: paymentFk }),
    );
    applyAll(
      index,
      change('orders', 'c', { id: 11 }, { id: 11, customer_id: null }, { foreignKeys: orderFk }),
    );
    expect(summary(index, 'ada@example.test')).toEqual([
      'customers:1:identifier',
      'orders:10:foreign-key',
      'payments:20:foreign-key',
    ]);
    expect(summary(index, 'ada@example.test', 1)).toEqual([
      'customers:1:identifier',
      'orders:10:foreign-key',
    ]);

    applyAll(index, change('orders', 't', null, null));
    expect(summary(index, 'ada@example.test')).toEqual(['customers:1:identifier']);
  });

  it('a truncate seen on one partition spares rows another partition indexed after it', () => {
    const index = new SubjectIndex();
    const early = change('customers', 'c', { id: 1 }, { id: 1, email: 'ada@example.test' });
    early.envelope.source.commitLsn = 100n;
    applyAll(index, early);
    const later = change('customers', 'c', { id: 2 }, { id: 2, email: 'ada.new@example.test' });
    later.envelope.source.commitLsn = 300n;
    applyAll(index, later);
    const truncate = change('customers', 't', null, null);
    truncate.envelope.source.commitLsn = 200n;
    applyAll(index, truncate);
    expect(summary(index, 'ada@example.test')).toEqual([]);
    expect(summary(index, 'ada.new@example.test')).toEqual(['customers:2:identifier']);
  });
});
