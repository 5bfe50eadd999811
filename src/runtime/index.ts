/**
 * `dsr-cdc run` as a library call: hosts the selected components and, when the config has an
 * `admin` section, the admin API, until `signal` aborts or a component fails (see host.ts).
 * The admin API stays up while the components stop, so status and metrics keep answering, but
 * it takes no new work from the moment shutdown begins (Host.stopping; 503 to every POST).
 */

import { kafkaDsrService } from '../admin/dsr.js';
import { startAdminServer } from '../admin/server.js';
import type { Config } from '../config/schema.js';
import { createKafka } from '../kafka/client.js';
import { child, type Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { breakers } from '../resilience.js';
import { Host, readinessChecks, selectComponents } from './host.js';
import { checkReadiness } from './readiness.js';

export interface RuntimeOptions {
  /** `source:<name>` / `group:<name>`; empty: everything the config defines. */
  only: readonly string[];
  /** Called with the admin API's URL once it listens. */
  onListening?: (url: string) => void;
}

export async function runRuntime(
  config: Config,
  logger: Logger,
  signal: AbortSignal,
  { only, onListening }: RuntimeOptions,
): Promise<void> {
  breakers.configure(config.runtime.breaker, child(logger, 'resilience'));
  const context = { config, logger };
  const components = selectComponents(context, only);
  const host = new Host(components, {
    logger: child(logger, 'runtime'),
    shutdownTimeoutMs: config.runtime.shutdownTimeoutMs,
  });
  const checks = readinessChecks(context, components);
  const adminLog = child(logger, 'admin');
  const dsr = kafkaDsrService(config, createKafka(config.kafka, adminLog));
  const admin =
    config.admin &&
    (await startAdminServer({
      host: config.admin.listen.host,
      port: config.admin.listen.port,
      token: config.admin.token,
      bodyLimit: config.admin.bodyLimit,
      runtime: host,
      readiness: () => checkReadiness(checks),
      dsr,
      breakers,
      metrics,
      logger: adminLog,
    }));
  if (admin) onListening?.(admin.url);
  try {
    await host.run(signal);
  } finally {
    await admin?.close();
    await dsr.close();
  }
}
