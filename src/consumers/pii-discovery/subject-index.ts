/**
 * The subject index, in memory: which locations (rows of captured tables) hold which subject
 * tokens. It is the materialised view of the compacted `dsr.subject-index` topic, whose records
 * are keyed `<token>|<locationId>` with the location as value, or a tombstone when the row no
 * longer holds that identifier. Every process that answers requests or discovers PII keeps the
 * whole view (the GlobalKTable pattern), so an answer never depends on which partitions a
 * process was assigned. Pure: no I/O.
 */

import { DsrCdcError } from '../../errors.js';

export interface IndexedLocation {
  source: string;
  schema: string;
  table: string;
  /** Primary key values of the row (as decoded from the event key). */
  primaryKey: Record<string, string | number | boolean | null>;
  /** Columns of the row holding PII of any kind. */
  columns: string[];
  piiTypes: string[];
  /** The identifier type that links this row to the token (email, phone, …). */
  identifierType: string;
  /** The column holding that identifier. */
  identifierColumn: string;
  /** 'value-pattern', 'column-name' or 'classification': why the value counted. */
  matchReason: string;
  /** Where the source was when the row was last seen. */
  lastPosition: { commitLsn: string | null; seq: string };
}

export interface IndexRecord {
  key: string;
  value: IndexedLocation | null;
}

export function indexKey(token: string, locationId: string): string {
  return `${token}|${locationId}`;
}

export function parseIndexKey(key: string): { token: string; locationId: string } {
  const bar = key.indexOf('|');
  if (bar < 1) throw new Error('malformed subject index key');
  return { token: key.slice(0, bar), locationId: key.slice(bar + 1) };
}

export class SubjectIndex {
  private readonly byToken = new Map<string, Map<string, IndexedLocation>>();
  private readonly byLocation = new Map<string, Set<string>>();

  /** Number of (token, location) entries. */
  private entries = 0;

  get size(): number {
    return this.entries;
  }

  /** Applies one record of the topic (or one of our own writes: applying twice is harmless). */
  apply({ key, value }: IndexRecord): void {
    const { token, locationId } = parseIndexKey(key);
    if (value) {
      let locations = this.byToken.get(token);
      if (!locations) {
        locations = new Map();
        this.byToken.set(token, locations);
      }
      if (!locations.has(locationId)) this.entries += 1;
      locations.set(locationId, value);
      let tokens = this.byLocation.get(locationId);
      if (!tokens) {
        tokens = new Set();
        this.byLocation.set(locationId, tokens);
      }
      tokens.add(token);
      return;
    }
    const locations = this.byToken.get(token);
    if (locations?.delete(locationId)) this.entries -= 1;
    if (locations?.size === 0) this.byToken.delete(token);
    const tokens = this.byLocation.get(locationId);
    tokens?.delete(token);
    if (tokens?.size === 0) this.byLocation.delete(locationId);
  }

  /** Every location holding `token`, with its location id. */
  locationsOf(token: string): [string, IndexedLocation][] {
    return [...(this.byToken.get(token) ?? new Map<string, IndexedLocation>())];
  }

  /** What the index holds for `token` at `locationId`, if anything. */
  entry(token: string, locationId: string): IndexedLocation | undefined {
    return this.byToken.get(token)?.get(locationId);
  }

  /** Every token a location holds. */
  tokensOf(locationId: string): string[] {
    return [...(this.byLocation.get(locationId) ?? [])];
  }

  /** Location ids of a table (for a truncate). */
  locationsOfTable(source: string, schema: string, table: string): string[] {
    const ids = new Set<string>();
    for (const locations of this.byToken.values()) {
      for (const [id, location] of locations) {
        if (location.source === source && location.schema === schema && location.table === table) ids.add(id);
      }
    }
    return [...ids];
  }

  /**
   * The records that make `locationId` hold exactly `next` (token → location): a record for every
   * token it holds now (refreshing position and columns), a tombstone for every token it held
   * before and no longer does. An empty `next` (a deleted row) tombstones all of them.
   */
  diff(locationId: string, next: Map<string, IndexedLocation>): IndexRecord[] {
    const records: IndexRecord[] = [];
    for (const token of this.tokensOf(locationId)) {
      if (!next.has(token)) records.push({ key: indexKey(token, locationId), value: null });
    }
    for (const [token, location] of next) records.push({ key: indexKey(token, locationId), value: location });
    return records;
  }
}

/**
 * One record of `dsr.subject-index` (key `<token>|<locationId>`, value a location as JSON or a
 * tombstone). Throws EVENT_INVALID for a record that is not one, never quoting it: it may hold
 * personal data.
 */
export function parseIndexRecord(key: string, value: string | null): IndexRecord {
  let location: unknown = null;
  try {
    parseIndexKey(key);
    if (value !== null) location = JSON.parse(value);
  } catch {
    throw new DsrCdcError(
      'EVENT_INVALID',
      'not a subject index record (a malformed key, or a value that is not JSON)',
    );
  }
  if (value !== null && !isLocation(location)) {
    throw new DsrCdcError('EVENT_INVALID', 'not a subject index record (the value is not a location)');
  }
  return { key, value: location as IndexedLocation | null };
}

function isLocation(value: unknown): value is IndexedLocation {
  const l = value as Partial<IndexedLocation> | null;
  return (
    typeof l === 'object' &&
    l !== null &&
    typeof l.source === 'string' &&
    typeof l.schema === 'string' &&
    typeof l.table === 'string' &&
    typeof l.primaryKey === 'object' &&
    l.primaryKey !== null
  );
}
