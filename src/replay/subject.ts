/**
 * Replaying one data subject's history: `--subject <type>:<value>` or `--token <subject token>`
 * names the subject, the subject index names its locations (rows, found as a DSR answer finds
 * them), and only the change events of those rows pass. Pure. Errors never quote the identifier.
 *
 * The index knows the rows that hold the subject's data now: the history of a row that has since
 * been deleted, or no longer holds any identifier of the subject, is not found this way.
 */

import { plainKey } from '../consumers/pii-discovery/discover.js';
import { locationId } from '../consumers/pii-discovery/tokens.js';
import type { DsrLocation, Identifier } from '../dsr/contracts.js';
import { IDENTIFIER_TYPES, type IdentifierType } from '../dsr/contracts.js';
import { DsrCdcError } from '../errors.js';

export function parseSubject(text: string): Identifier {
  const colon = text.indexOf(':');
  const type = text.slice(0, Math.max(colon, 0));
  const value = text.slice(colon + 1);
  if (colon < 1 || !IDENTIFIER_TYPES.includes(type as IdentifierType) || value.trim() === '') {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `--subject: expected <type>:<value> with a type of ${IDENTIFIER_TYPES.join(', ')}, e.g. email:ada@example.com`,
      { field: '--subject' },
    );
  }
  return { type: type as IdentifierType, value };
}

export function parseToken(text: string): string {
  const token = text.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(token)) {
    throw new DsrCdcError('CONFIG_INVALID', '--token: expected a subject token (64 hex digits)', {
      field: '--token',
    });
  }
  return token;
}

/** Replay by subject reads change events, which only the `cdc.*` topics hold. */
export function checkSubjectTopic(topic: string, field: '--subject' | '--token'): void {
  if (!topic.startsWith('cdc.')) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${field}: keeps the change events of a subject's rows, which only cdc.* topics hold; give a --topic ` +
        'starting with cdc. (e.g. cdc.<source>.*), or drop the filter',
      { field },
    );
  }
}

interface EnvelopeLike {
  op?: unknown;
  source?: { name?: unknown; schema?: unknown; table?: unknown };
}

/** Whether a change event (decoded key, envelope) concerns one of `locations`. */
export class LocationFilter {
  private readonly ids: Set<string>;
  private readonly tables: Set<string>;

  constructor(locations: readonly DsrLocation[]) {
    this.ids = new Set(locations.map((l) => locationId(l)));
    this.tables = new Set(locations.map((l) => tableId(l.source, l.schema, l.table)));
  }

  /** Whether any event of the table `value` describes can pass (a cheap test before decoding keys). */
  concernsTable(value: unknown): boolean {
    const source = (value as EnvelopeLike | null)?.source;
    return this.tables.has(tableId(source?.name, source?.schema, source?.table));
  }

  /**
   * `key`: the event key decoded as discovery decodes it (plain Avro values), so that it gives the
   * location id the index holds. A truncate passes when it empties a table of the subject's rows.
   */
  keeps(key: Record<string, unknown> | null, value: unknown): boolean {
    if (!this.concernsTable(value)) return false;
    const envelope = value as Required<EnvelopeLike>;
    if (envelope.op === 't') return true;
    if (key === null) return false;
    const { name, schema, table } = envelope.source as { name: string; schema: string; table: string };
    return this.ids.has(locationId({ source: name, schema, table, primaryKey: plainKey(key) }));
  }
}

function tableId(source: unknown, schema: unknown, table: unknown): string {
  return JSON.stringify([source, schema, table]);
}
