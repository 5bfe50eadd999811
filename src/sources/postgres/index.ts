/**
 * Wiring of a Postgres replication source from the validated config: clients, contracts,
 * supervision. The only place that turns config into the source's plain settings.
 */
import pg from 'pg';
import type { Config } from '../../config/schema.js';
import { pgClientConfig, warnIfUnverified } from '../../config/tls.js';
import { DsrCdcError } from '../../errors.js';
import { ContractCatalog } from '../../events/contracts.js';
import { loadTypes } from '../../events/pg-catalog.js';
import { createRegistry } from '../../events/registry.js';
import { createKafka } from '../../kafka/client.js';
import { loadTopicFamilies } from '../../kafka/topics.js';
import { child, type Logger } from '../../observability/logger.js';
import { supervise } from '../supervise.js';
import type { PostgresSourceSettings } from './settings.js';
import { EXACT_TEXT_OPTIONS, PostgresSource } from './source.js';

export function postgresSourceSettings(config: Config, name: string): PostgresSourceSettings {
  const source = config.sources[name];
  if (!source) {
    const known = Object.keys(config.sources);
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `no source '${name}' in the config; configured sources: ${known.length > 0 ? known.join(', ') : 'none'}`,
      { field: 'sources' },
    );
  }
  if (source.kind !== 'postgres') {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `source '${name}' is a ${source.kind}, not a replication source: run it with \`dsr-cdc poller run ${name}\``,
      { field: `sources.${name}.kind` },
    );
  }
  const { connection } = source;
  return {
    name,
    connection: pgClientConfig(connection, `sources.${name}.connection`),
    publication: source.publication,
    slot: source.slot,
    include: [...source.tables.include],
    exclude: [...source.tables.exclude],
    snapshot: source.snapshot.mode,
    snapshotChunkRows: source.snapshot.chunkRows,
    heartbeatIntervalMs: source.heartbeatIntervalMs,
    batching: {
      maxBatchMessages: source.batch.maxMessages,
      maxBatchBytes: source.batch.maxBytes,
      lingerMs: source.batch.lingerMs,
      maxBufferedMessages: source.batch.maxBufferedMessages,
    },
  };
}

/**
 * Server-side bound on each catalog query (type lookups for contracts): they read a few catalog
 * rows, so one still running after this long is stuck (a lock, a sick server) and fails instead
 * of holding the source up forever; the source restarts and asks again.
 */
export const CATALOG_STATEMENT_TIMEOUT_MS = 30_000;

/**
 * Runs source `name` until `signal` aborts or it fails for good. `observe` is handed each
 * PostgresSource as it is (re)started, for status and slot lag.
 */
export async function runPostgresSource(
  config: Config,
  name: string,
  logger: Logger,
  signal: AbortSignal,
  observe: (source: PostgresSource) => void = () => undefined,
): Promise<void> {
  const settings = postgresSourceSettings(config, name);
  const log = child(logger, 'source').child({ source: name });
  warnIfUnverified(settings.connection, log);
  const catalogPool = new pg.Pool({
    ...settings.connection,
    options: EXACT_TEXT_OPTIONS,
    statement_timeout: CATALOG_STATEMENT_TIMEOUT_MS,
    max: 2,
  });
  const contracts = new ContractCatalog({
    registry: createRegistry(config.registry),
    types: (oids) => loadTypes(catalogPool, oids),
    families: loadTopicFamilies(),
    source: { connector: 'postgres', name, db: String(settings.connection.database) },
  });
  const kafka = createKafka(config.kafka, log);
  try {
    await supervise(
      () => {
        const source = new PostgresSource(settings, { kafka, contracts, logger: log, signal });
        observe(source);
        return source.run();
      },
      log,
      signal,
    );
  } finally {
    await catalogPool.end();
  }
}
