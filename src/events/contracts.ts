/**
 * Contracts of `cdc.*` topics: for each table shape, a key schema (the key columns) and a value
 * schema (the change envelope around the row), registered in the schema registry under
 * `<topic>-key` and `<topic>-value`, and an encoder that writes the Confluent wire format.
 *
 * A relation whose columns change (ALTER TABLE … ADD COLUMN mid-stream) has a new shape, so it
 * registers a new contract version and later events use it. A registry that rejects the new
 * version (incompatible change) stops the source with CONTRACT_REJECTED; it is never skipped.
 */
import { type SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { DsrCdcError } from '../errors.js';
import { type TopicFamilies, type TopicSpec, topicSpec } from '../kafka/topics.js';
import { type RawValue, type Relation, UNCHANGED_TOAST } from '../sources/postgres/pgoutput.js';
import { avroNamespace, type ChangeEnvelope, envelopeSchema, type ForeignKey, type Op } from './envelope.js';
import { avroFieldNames, avroRecordSchema, type PgColumn, type PgType, toAvroValue } from './pg-types.js';
import { wireEncoder } from './registry.js';

/** Catalog facts of the given type OIDs (see pg-catalog.ts). */
export type TypeCatalog = (oids: number[]) => Promise<Map<number, PgType>>;

export interface ChangeToEncode {
  op: Op;
  before: RawValue[] | null;
  after: RawValue[] | null;
  lsn: bigint | null;
  commitLsn: bigint | null;
  txId: bigint | null;
  commitTs: bigint | null;
  seq: bigint;
  snapshot: boolean;
}

export interface TableEncoder {
  readonly topic: TopicSpec;
  readonly keySchemaId: number;
  readonly valueSchemaId: number;
  /** Key: the key columns of `after` (or of `before` for a delete); null for a truncate. */
  encode(change: ChangeToEncode): { key: Buffer | null; value: Buffer };
}

/** What the catalog knows of a table beyond its columns. */
export interface TableFacts {
  keyless?: boolean;
  foreignKeys?: readonly ForeignKey[];
}

export interface ContractCatalogOptions {
  registry: SchemaRegistry;
  types: TypeCatalog;
  families: TopicFamilies;
  source: { connector: 'postgres' | 'poller'; name: string; db: string };
  now?: () => number;
}

export class ContractCatalog {
  private readonly byShape = new Map<string, Promise<TableEncoder>>();

  constructor(private readonly options: ContractCatalogOptions) {}

  /**
   * The encoder of this table shape, registering its contracts the first time it is seen.
   * `facts.keyless`: the key is every column of a table without a key (see CapturedTable.keyless),
   * so its fields are nullable. `facts.foreignKeys` become part of the value contract.
   */
  forRelation(relation: Relation, facts: TableFacts = {}): Promise<TableEncoder> {
    const keyless = facts.keyless ?? false;
    const foreignKeys = facts.foreignKeys ?? [];
    const shape = JSON.stringify([
      keyless,
      foreignKeys,
      relation.oid,
      relation.schema,
      relation.name,
      relation.columns.map((c) => [c.name, c.typeOid, c.typeMod, c.isKey]),
    ]);
    let encoder = this.byShape.get(shape);
    if (!encoder) {
      encoder = this.build(relation, keyless, foreignKeys);
      // a failed registration is not cached: the next attempt asks the registry again
      encoder.catch(() => this.byShape.delete(shape));
      this.byShape.set(shape, encoder);
    }
    return encoder;
  }

  private async build(
    relation: Relation,
    keyless: boolean,
    foreignKeys: readonly ForeignKey[],
  ): Promise<TableEncoder> {
    const { registry, families, source } = this.options;
    const now = this.options.now ?? Date.now;
    const types = await this.options.types([...new Set(relation.columns.map((c) => c.typeOid))]);
    const columns: PgColumn[] = relation.columns.map((c) => {
      const type = types.get(c.typeOid);
      if (!type)
        throw new DsrCdcError('INTERNAL', `no catalog entry for type ${c.typeOid} of ${relation.name}`);
      return { name: c.name, type, typeMod: c.typeMod, notNull: c.isKey && !keyless };
    });
    const keyIndexes = relation.columns.flatMap((c, i) => (c.isKey ? [i] : []));
    const keyColumns = keyIndexes.map((i) => columns[i] as PgColumn);
    const topic = topicSpec(families, 'cdc', {
      source: source.name,
      schema: relation.schema,
      table: relation.name,
    });
    const namespace = avroNamespace('cdc', source.name, relation.schema, relation.name);
    const rowSchema = avroRecordSchema('Row', namespace, columns, { allNullable: true });
    const keyId = await register(
      registry,
      `${topic.name}-key`,
      avroRecordSchema('Key', namespace, keyColumns),
    );
    const valueId = await register(
      registry,
      `${topic.name}-value`,
      envelopeSchema(namespace, rowSchema, foreignKeys),
    );
    const encodeKey = await wireEncoder(registry, keyId);
    const encodeValue = await wireEncoder(registry, valueId);
    const fieldNames = avroFieldNames(columns);
    const keyFieldNames = keyIndexes.map((i) => fieldNames[i] as string);

    const toRow = (tuple: RawValue[], unchanged: string[] | null): Record<string, unknown> => {
      const row: Record<string, unknown> = {};
      columns.forEach((column, i) => {
        const value = tuple[i] ?? null;
        if (value === UNCHANGED_TOAST) {
          unchanged?.push(column.name);
          row[fieldNames[i] as string] = null;
        } else {
          row[fieldNames[i] as string] = toAvroValue(column, value);
        }
      });
      return row;
    };

    return {
      topic,
      keySchemaId: keyId,
      valueSchemaId: valueId,
      encode(change) {
        const keyTuple = change.after ?? change.before;
        let key: Buffer | null = null;
        if (keyTuple) {
          const keyRecord: Record<string, unknown> = {};
          keyIndexes.forEach((columnIndex, i) => {
            const value = keyTuple[columnIndex] ?? null;
            if (value === UNCHANGED_TOAST || (value === null && !keyless)) {
              throw new DsrCdcError(
                'EVENT_INVALID',
                `key column ${keyColumns[i]?.name} of ${relation.name} has no value`,
              );
            }
            keyRecord[keyFieldNames[i] as string] = toAvroValue(keyColumns[i] as PgColumn, value);
          });
          key = encodeKey(keyRecord);
        }
        const unchanged: string[] = [];
        const envelope: ChangeEnvelope = {
          op: change.op,
          before: change.before ? toRow(change.before, null) : null,
          after: change.after ? toRow(change.after, unchanged) : null,
          unchanged,
          source: {
            connector: source.connector,
            name: source.name,
            db: source.db,
            schema: relation.schema,
            table: relation.name,
            lsn: change.lsn,
            commitLsn: change.commitLsn,
            txId: change.txId,
            commitTs: change.commitTs,
            snapshot: change.snapshot,
            seq: change.seq,
          },
          tsMs: BigInt(now()),
        };
        return { key, value: encodeValue(envelope) };
      },
    };
  }
}

async function register(registry: SchemaRegistry, subject: string, schema: unknown): Promise<number> {
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    return id;
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    const status = (error as { status?: number }).status;
    if (status === 409 || /incompatible|compatib/i.test(message)) {
      throw new DsrCdcError(
        'CONTRACT_REJECTED',
        `the schema registry rejected a new version of ${subject} (${message}); ` +
          'the table changed in a way its compatibility rule forbids: revert the change, or register a ' +
          'compatible schema / relax the subject compatibility, then restart the source',
        { cause: error },
      );
    }
    throw new DsrCdcError('CONNECTION_FAILED', `could not register ${subject}: ${message}`, {
      retryable: true,
      cause: error,
    });
  }
}
