/**
 * What `dsr-cdc run` can host, by kind: a source kind (the `kind` of `sources.<name>`) or a
 * consumer group name. Each entry turns the validated config into a Component (runtime/component.ts).
 * A new kind is one line here plus its factory.
 *
 * A factory may also name the dependencies `GET /readyz` checks for it (beyond Kafka and the
 * registry, which every component needs).
 */
import type { Config } from '../config/schema.js';
import { CONSUMER_STAGES, type StageName } from '../consumers/stages.js';
import { child, type Logger } from '../observability/logger.js';
import { pollerComponent } from '../sources/poller/index.js';
import { supervise } from '../sources/supervise.js';
import type { Component } from './component.js';
import { piiDiscoveryGroup } from './pii-discovery-group.js';
import { postgresSourceComponent, postgresSourceReadiness } from './postgres-source.js';
import type { ReadinessCheck } from './readiness.js';

export interface RuntimeContext {
  config: Config;
  logger: Logger;
}

export interface SourceFactory {
  create(context: RuntimeContext, name: string): Component;
  readiness?(context: RuntimeContext, name: string): ReadinessCheck[];
}

export interface GroupFactory {
  /** Whether the config asks for this group (`dsr-cdc run` without --only hosts those). */
  configured(config: Config): boolean;
  create(context: RuntimeContext): Component;
}

export const SOURCE_KINDS: Readonly<Record<string, SourceFactory>> = {
  postgres: { create: postgresSourceComponent, readiness: postgresSourceReadiness },
  'postgres-poller': { create: pollerComponent },
  'mysql-poller': { create: pollerComponent },
  'rest-poller': { create: pollerComponent },
};

/**
 * A consumer stage run by one function that owns its clients and resolves once stopped, as a
 * group: hosted when `configured`, restarted after a backoff when it fails retryably. Its module
 * is loaded when the group starts, so a process that does not host it (a source's, say) does not
 * carry its libraries (snowflake-sdk is the heaviest).
 */
function stageGroup(name: StageName, configured: (config: Config) => boolean): GroupFactory {
  return {
    configured,
    create: ({ config, logger }) => ({
      id: `group:${name}`,
      run: async (signal) => {
        const run = await CONSUMER_STAGES[name]();
        await supervise(() => run(config, logger, signal), child(logger, name), signal);
      },
    }),
  };
}

export const GROUPS: Readonly<Record<string, GroupFactory>> = {
  'pii-discovery': piiDiscoveryGroup,
  'type-coercion': stageGroup('type-coercion', (config) => config.warehouse !== undefined),
  'snowflake-loader': stageGroup('snowflake-loader', (config) => config.warehouse?.snowflake !== undefined),
};
