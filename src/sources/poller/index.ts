/**
 * Wiring of a poller from the validated config: clients, contracts, publisher, component. The
 * only place that turns `sources.<name>` of a poller kind into running parts.
 */
import type { Config } from '../../config/schema.js';
import { pgClientConfig, warnIfUnverified } from '../../config/tls.js';
import { DsrCdcError } from '../../errors.js';
import { ContractCatalog } from '../../events/contracts.js';
import { createRegistry } from '../../events/registry.js';
import { createKafka } from '../../kafka/client.js';
import { loadTopicFamilies } from '../../kafka/topics.js';
import { child, type Logger } from '../../observability/logger.js';
import type { Component } from '../../runtime/component.js';
import { type Poller, PollerComponent } from './component.js';
import { POLLER_KINDS } from './config.js';
import { MysqlPollerDriver } from './mysql.js';
import { PostgresPollerDriver } from './postgres.js';
import { PollerPublisher } from './publisher.js';
import { RestPoller } from './rest.js';
import { SqlPoller } from './sql.js';

type SourceConfig = Config['sources'][string];
export type PollerSourceConfig = Extract<SourceConfig, { kind: (typeof POLLER_KINDS)[number] }>;

/** The poller `name` of the config; a clear error when it is missing or not a poller. */
export function pollerConfig(config: Config, name: string): PollerSourceConfig {
  const source = config.sources[name];
  const pollers = Object.entries(config.sources)
    .filter(([, s]) => (POLLER_KINDS as readonly string[]).includes(s.kind))
    .map(([n]) => n);
  if (!source) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `no source '${name}' in the config; configured pollers: ${pollers.length > 0 ? pollers.join(', ') : 'none'}`,
      { field: 'sources' },
    );
  }
  if (source.kind === 'postgres') {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `source '${name}' is a replication source, not a poller: run it with \`dsr-cdc source run ${name}\``,
      { field: `sources.${name}.kind` },
    );
  }
  return source;
}

/** The poller `name` as a runtime Component (what `dsr-cdc run` and the poller CLI host). */
export function createPollerComponent(config: Config, name: string, logger: Logger): PollerComponent {
  const source = pollerConfig(config, name);
  const log = child(logger, 'poller').child({ source: name });
  const kafka = createKafka(config.kafka, log);
  const registry = createRegistry(config.registry);
  const families = loadTopicFamilies();
  const batching = {
    maxBatchMessages: source.batch.maxMessages,
    maxBatchBytes: source.batch.maxBytes,
    lingerMs: source.batch.lingerMs,
    maxBufferedMessages: source.batch.maxBufferedMessages,
  };
  const publisher = new PollerPublisher(kafka, `poller/${name}`, batching);
  let poller: Poller;
  if (source.kind === 'rest-poller') {
    const contracts = new ContractCatalog({
      registry,
      types: RestPoller.types,
      families,
      source: { connector: 'poller', name, db: new URL(source.baseUrl).host },
    });
    poller = new RestPoller(name, source, contracts, publisher, log);
  } else {
    let driver: PostgresPollerDriver | MysqlPollerDriver;
    if (source.kind === 'postgres-poller') {
      const connection = pgClientConfig(source.connection, `sources.${name}.connection`);
      warnIfUnverified(connection, log);
      driver = new PostgresPollerDriver(name, connection, source.safetyLagMs);
    } else {
      const { connection } = source;
      driver = new MysqlPollerDriver(
        name,
        {
          host: connection.host,
          port: connection.port,
          database: connection.database,
          user: connection.user,
          password: connection.password.reveal(),
          ...(connection.ssl ? { ssl: {} } : {}),
        },
        source.safetyLagMs,
      );
    }
    const contracts = new ContractCatalog({
      registry,
      types: (oids) => driver.types(oids),
      families,
      source: { connector: 'poller', name, db: driver.db },
    });
    const sql = new SqlPoller(
      { name, tables: source.tables, pageRows: source.pageRows },
      driver,
      contracts,
      publisher,
      log,
    );
    poller = {
      runOnce: (signal) => sql.runOnce(signal),
      test: () => sql.test(),
      close: () => sql.close(),
      positions: () => ({ cursors: publisher.cursors }),
    };
  }
  return new PollerComponent(name, source.kind, source.schedule, poller, log);
}

/** SourceFactory.create of the runtime (runtime/components.ts) for the three poller kinds. */
export function pollerComponent(
  { config, logger }: { config: Config; logger: Logger },
  name: string,
): Component {
  return createPollerComponent(config, name, logger);
}
