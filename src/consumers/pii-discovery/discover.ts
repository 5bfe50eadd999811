/**
 * From one change event to the subject-index records it implies. Pure: the caller decodes the
 * event, hands in the current index, and produces and applies the records.
 *
 * - create / update / snapshot read: the row's identifiers (detected and classified) become
 *   tokens; the location holds exactly those afterwards (an identifier the update removed is
 *   tombstoned). Columns the event did not carry (unchanged TOAST values) keep what they held.
 * - delete: every token of the location is tombstoned.
 * - truncate: every location of the table is.
 *
 * Relational reach: a row whose foreign key points at another row holds the token
 * `ref:<that row's location id>`, so an answer can walk from a subject's row to the rows that
 * reference it (an order of the customer) although they hold no identifier themselves.
 */
import type { ChangeEnvelope, ForeignKey } from '../../events/envelope.js';
import { type Classification, classify } from './classification.js';
import { type DetectOptions, detectRow } from './detectors.js';
import { type IndexedLocation, type IndexRecord, indexKey, type SubjectIndex } from './subject-index.js';
import { locationId, subjectToken } from './tokens.js';

export interface DiscoveryContext {
  pepper: Buffer;
  classification: Classification;
  detect?: DetectOptions;
}

export interface DecodedChange {
  key: Record<string, unknown> | null;
  envelope: ChangeEnvelope;
  /** The table's foreign keys, from its contract. */
  foreignKeys?: readonly ForeignKey[];
}

/** The index token under which the rows referencing a location are filed. */
export function referenceToken(locationId: string): string {
  return `ref:${locationId}`;
}

export function discover(
  index: SubjectIndex,
  change: DecodedChange,
  context: DiscoveryContext,
): IndexRecord[] {
  const { envelope } = change;
  const { name: source, schema, table } = envelope.source;
  if (envelope.op === 't') {
    // the source sends a truncate to every partition of the topic, so another partition's rows
    // written after it may already be indexed: only rows last seen before the truncate go
    const truncatedAt = { commitLsn: envelope.source.commitLsn, seq: envelope.source.seq };
    return index.locationsOfTable(source, schema, table).flatMap((id) =>
      index
        .tokensOf(id)
        .filter((token) => {
          const held = index.entry(token, id);
          return held !== undefined && isBefore(held.lastPosition, truncatedAt);
        })
        .map((token) => ({ key: indexKey(token, id), value: null })),
    );
  }
  if (!change.key) return [];
  const primaryKey = plainKey(change.key);
  const id = locationId({ source, schema, table, primaryKey });
  if (envelope.op === 'd' || !envelope.after) return index.diff(id, new Map());

  const row = envelope.after;
  const findings = classify(
    detectRow(row, {}, context.detect),
    { source, schema, table, row },
    context.classification,
    context.detect,
  );
  const columns = [...new Set(findings.map((f) => f.column))].sort();
  const piiTypes = [...new Set(findings.map((f) => f.type))].sort();
  const lastPosition = {
    commitLsn: envelope.source.commitLsn === null ? null : String(envelope.source.commitLsn),
    seq: String(envelope.source.seq),
  };
  const next = new Map<string, IndexedLocation>();
  const hold = (token: string, identifierType: string, identifierColumn: string, matchReason: string) =>
    next.set(token, {
      source,
      schema,
      table,
      primaryKey,
      columns,
      piiTypes,
      identifierType,
      identifierColumn,
      matchReason,
      lastPosition,
    });
  for (const finding of findings) {
    if (finding.role !== 'identifier') continue;
    hold(
      subjectToken(context.pepper, finding.type, finding.normalized),
      finding.type,
      finding.column,
      finding.reason,
    );
  }
  for (const fk of change.foreignKeys ?? []) {
    const values = fk.columns.map((column) => row[column]);
    if (values.some((value) => value === null || value === undefined)) continue;
    const parentKey = plainKey(
      Object.fromEntries(fk.references.columns.map((column, i) => [column, values[i]])),
    );
    const { schema: parentSchema, table: parentTable } = fk.references;
    const parent = locationId({ source, schema: parentSchema, table: parentTable, primaryKey: parentKey });
    hold(referenceToken(parent), 'foreign-key', fk.columns.join(','), 'foreign-key');
  }
  // identifiers in columns this event did not carry (unchanged TOAST) are still there
  const unchanged = new Set(envelope.unchanged);
  for (const token of index.tokensOf(id)) {
    const held = index.entry(token, id);
    if (held && unchanged.has(held.identifierColumn) && !next.has(token)) {
      next.set(token, {
        ...held,
        columns,
        piiTypes: [...new Set([...piiTypes, held.identifierType])].sort(),
        lastPosition,
      });
    }
  }
  return index.diff(id, next);
}

/**
 * Key values as text (bytes as hex), so that a foreign key's values and the referenced row's key
 * give the same location id even when their types differ (an int4 column referencing an int8 key).
 */
export function plainKey(key: Record<string, unknown>): Record<string, string | null> {
  const plain: Record<string, string | null> = {};
  for (const [column, value] of Object.entries(key)) {
    plain[column] =
      value === null || value === undefined
        ? null
        : Buffer.isBuffer(value)
          ? value.toString('hex')
          : typeof value === 'object'
            ? JSON.stringify(value)
            : String(value);
  }
  return plain;
}

/** Whether a row last seen at `seen` precedes the position (commitLsn, seq) of an event. */
function isBefore(
  seen: IndexedLocation['lastPosition'],
  event: { commitLsn: bigint | null; seq: bigint },
): boolean {
  const seenLsn = BigInt(seen.commitLsn ?? '0');
  const eventLsn = event.commitLsn ?? 0n;
  return seenLsn < eventLsn || (seenLsn === eventLsn && BigInt(seen.seq) < event.seq);
}
