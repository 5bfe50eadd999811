/**
 * Answering a DSR from the index. Pure. The request's identifiers are normalised and turned into
 * tokens the same way discovery turned row values into tokens, so equal identifiers meet; every
 * location holding one is a match, and every other identifier found on those rows widens the
 * search (the phone on the customer row finds the ticket that mentions it), to `depth` hops.
 *
 * Precision first: a row widens the search only through an identifier type of which it holds a
 * single value. A row with two emails (a profile listing a contact's address, a ticket thread
 * with several people) is matched, but its other emails may be other people's, so they are not
 * followed.
 */

import type { DsrLocation, Identifier } from '../../dsr/contracts.js';
import type { DetectOptions } from './detectors.js';
import { referenceToken } from './discover.js';
import type { IndexedLocation, SubjectIndex } from './subject-index.js';
import { normalizeIdentifier, subjectToken } from './tokens.js';

export interface LookupResult {
  locations: DsrLocation[];
  /** Identifiers that could not be normalised (by type, never by value). */
  unusable: string[];
}

export function lookup(
  index: SubjectIndex,
  identifiers: readonly Identifier[],
  pepper: Buffer,
  depth: number,
  options: DetectOptions = {},
): LookupResult {
  const unusable: string[] = [];
  const seeds: { token: string; identifierType: string }[] = [];
  for (const { type, value } of identifiers) {
    const normalized = normalizeIdentifier(type, value, options);
    if (normalized === null) unusable.push(type);
    else seeds.push({ token: subjectToken(pepper, type, normalized), identifierType: type });
  }
  return { locations: lookupTokens(index, seeds, depth), unusable };
}

/**
 * The locations of subject tokens (identifiers already tokenised), widened as lookup does; a seed
 * without an identifier type takes the one the index holds.
 */
export function lookupTokens(
  index: SubjectIndex,
  seeds: readonly { token: string; identifierType?: string }[],
  depth: number,
): DsrLocation[] {
  const found = new Map<string, DsrLocation>();
  let frontier: string[] = [];
  for (const { token, identifierType: type } of seeds) {
    for (const [id, location] of index.locationsOf(token)) {
      if (found.has(id)) continue;
      found.set(
        id,
        toResult(location, { kind: 'identifier', identifierType: type ?? location.identifierType }),
      );
      frontier.push(id);
    }
  }
  const seenTokens = new Set<string>();
  for (let hop = 0; hop < depth && frontier.length > 0; hop++) {
    const next: string[] = [];
    for (const from of frontier) {
      const via = found.get(from) as DsrLocation;
      for (const token of widening(index, from)) {
        if (seenTokens.has(token)) continue;
        seenTokens.add(token);
        for (const [id, location] of index.locationsOf(token)) {
          if (found.has(id)) continue;
          found.set(
            id,
            toResult(location, {
              kind: 'linked-identifier',
              identifierType: location.identifierType,
              via: { schema: via.schema, table: via.table, primaryKey: via.primaryKey },
            }),
          );
          next.push(id);
        }
      }
    }
    frontier = next;
  }
  // relational reach: rows whose foreign keys point at a found row, hop by hop
  frontier = [...found.keys()];
  for (let hop = 0; hop < depth && frontier.length > 0; hop++) {
    const next: string[] = [];
    for (const from of frontier) {
      const via = found.get(from) as DsrLocation;
      for (const [id, location] of index.locationsOf(referenceToken(from))) {
        if (found.has(id)) continue;
        found.set(
          id,
          toResult(location, {
            kind: 'foreign-key',
            via: { schema: via.schema, table: via.table, primaryKey: via.primaryKey },
          }),
        );
        next.push(id);
      }
    }
    frontier = next;
  }
  return [...found.values()];
}

function toResult(location: IndexedLocation, matchedBy: DsrLocation['matchedBy']): DsrLocation {
  return {
    source: location.source,
    schema: location.schema,
    table: location.table,
    primaryKey: location.primaryKey,
    columns: location.columns,
    piiTypes: location.piiTypes,
    matchedBy,
    lastPosition: location.lastPosition,
  };
}

/** The tokens of a location that are the only one of their identifier type there. */
function widening(index: SubjectIndex, locationId: string): string[] {
  const byType = new Map<string, string[]>();
  for (const token of index.tokensOf(locationId)) {
    const type = index.entry(token, locationId)?.identifierType ?? '';
    if (type === 'foreign-key') continue;
    byType.set(type, [...(byType.get(type) ?? []), token]);
  }
  return [...byType.values()].filter((tokens) => tokens.length === 1).flat();
}
