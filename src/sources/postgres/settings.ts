/**
 * What a Postgres replication source needs to run, as plain data (the CLI builds it from the
 * validated config; tests build it directly).
 */
import type { ClientConfig } from 'pg';
import type { BatchingOptions } from '../../kafka/batching-producer.js';

export type SnapshotMode = 'initial' | 'never' | 'initial_only';

export interface PostgresSourceSettings {
  /** The source's name; it appears in topic names (`cdc.<name>.<schema>.<table>`). */
  name: string;
  /** Connection of the pipeline role (LOGIN REPLICATION + SELECT). */
  connection: ClientConfig;
  publication: string;
  slot: string;
  /** 'schema.table' patterns, `*` matching any run of characters except '.'. */
  include: string[];
  exclude: string[];
  snapshot: SnapshotMode;
  /** Rows per snapshot query. */
  snapshotChunkRows: number;
  /** How often, at most, an idle stream acknowledges the server's position. */
  heartbeatIntervalMs: number;
  batching: BatchingOptions;
}

/** Compiles 'schema.table' patterns: `*` matches within one name part, `?` one character. */
export function tableMatcher(include: string[], exclude: string[]): (qualifiedName: string) => boolean {
  const compile = (pattern: string) =>
    new RegExp(
      `^${pattern
        .split('')
        .map((c) => (c === '*' ? '[^.]*' : c === '?' ? '[^.]' : c.replace(/[\\^$.+()[\]{}|]/g, '\\$&')))
        .join('')}$`,
    );
  const includes = include.map(compile);
  const excludes = exclude.map(compile);
  return (name) => includes.some((re) => re.test(name)) && !excludes.some((re) => re.test(name));
}
