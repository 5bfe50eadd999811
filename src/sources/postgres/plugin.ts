/**
 * pgoutput for pg-logical-replication's LogicalReplicationService, decoded by our exact
 * decoder (raw text values, explicit unchanged TOAST) instead of the library's type-parsing one.
 */
import type pg from 'pg';
// not re-exported by the package index; the package has no exports map, so the path is public
import { AbstractPlugin } from 'pg-logical-replication/dist/output-plugins/abstract.plugin.js';
import { DsrCdcError } from '../../errors.js';
import { decodePgoutput, formatLsn, type PgoutputMessage, parseLsn } from './pgoutput.js';

export interface RawPgoutputOptions {
  /** Publications to stream, by exact (case-sensitive) name. */
  publicationNames: readonly string[];
  /** Also stream pg_logical_emit_message() records (Postgres 14+). */
  messages?: boolean;
}

// what Postgres accepts as a replication slot name
const SLOT_NAME = /^[a-z0-9_]{1,63}$/;

/**
 * The value of the publication_names option: one SQL literal holding a comma-separated list,
 * each name double-quoted because Postgres splits the list as identifiers and would fold an
 * unquoted name to lower case. Names that would need escaping are rejected instead.
 */
function publicationNamesLiteral(names: readonly string[]): string {
  if (names.length === 0) {
    throw new DsrCdcError('CONFIG_INVALID', 'at least one publication name is required', {
      field: 'publicationNames',
    });
  }
  for (const name of names) {
    if (name.length === 0 || /[',"\0]/.test(name)) {
      throw new DsrCdcError(
        'CONFIG_INVALID',
        `publication name ${JSON.stringify(name)} must be non-empty and contain no quote, comma or NUL`,
        { field: 'publicationNames' },
      );
    }
  }
  return `'${names.map((name) => `"${name}"`).join(',')}'`;
}

export class RawPgoutputPlugin extends AbstractPlugin<RawPgoutputOptions> {
  private readonly publicationNames: string;

  constructor(options: RawPgoutputOptions) {
    super(options);
    this.publicationNames = publicationNamesLiteral(options.publicationNames);
  }

  override get name(): string {
    return 'pgoutput';
  }

  override parse(buffer: Buffer): PgoutputMessage {
    return decodePgoutput(buffer);
  }

  /** Issues START_REPLICATION with proto_version 1; settles when the stream ends, rejects on bad input. */
  override async start(client: pg.Client, slotName: string, lastLsn: string): Promise<pg.QueryResult> {
    if (!SLOT_NAME.test(slotName)) {
      throw new DsrCdcError('CONFIG_INVALID', `invalid replication slot name ${JSON.stringify(slotName)}`, {
        field: 'slotName',
      });
    }
    const options = [`proto_version '1'`, `publication_names ${this.publicationNames}`];
    // omitted unless wanted: servers before 14 reject the option
    if (this.options.messages === true) options.push(`messages 'true'`);
    const sql = `START_REPLICATION SLOT "${slotName}" LOGICAL ${formatLsn(parseLsn(lastLsn))} (${options.join(', ')})`;
    return client.query(sql);
  }
}
