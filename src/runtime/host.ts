/**
 * The runtime of `dsr-cdc run`: which components to host, and hosting them.
 *
 * Failure policy: a component that fails for good (its own supervision gave up, or the failure is
 * not retryable) stops the whole process: every other component is stopped cleanly and `host`
 * rejects with `component <id> failed: <reason>`. A process that silently runs on with a part
 * missing is worse than one that stops and is restarted by its supervisor (systemd, Kubernetes).
 * A component that ends on its own (e.g. a source with snapshot mode initial_only) just ends.
 *
 * Shutdown: when `signal` aborts, every component stops intake, flushes and commits; `host`
 * waits at most `shutdownTimeoutMs` for that, then rejects naming the components still running.
 */
import type { Config } from '../config/schema.js';
import { DsrCdcError, isDsrCdcError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { type Metrics, metrics as processMetrics } from '../observability/metrics.js';
import type { Component, ComponentId } from './component.js';
import { GROUPS, type RuntimeContext, SOURCE_KINDS } from './components.js';
import { kafkaReadiness, type ReadinessCheck, registryReadiness } from './readiness.js';

export type ComponentState = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

/**
 * The components `only` names (`source:<name>`, `group:<name>`), or, when it is empty, every
 * source of the config and every group the config asks for. Throws CONFIG_INVALID naming `--only`
 * for an unknown or unconfigured component.
 */
export function selectComponents(context: RuntimeContext, only: readonly string[]): Component[] {
  const { config } = context;
  const available = [
    ...Object.keys(config.sources).map((name) => `source:${name}`),
    ...Object.entries(GROUPS)
      .filter(([, group]) => group.configured(config))
      .map(([name]) => `group:${name}`),
  ];
  const wanted = only.length > 0 ? [...new Set(only)] : available;
  const unknown = wanted.filter((id) => !available.includes(id));
  if (unknown.length > 0) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `--only: not configured: ${unknown.join(', ')}; configured: ${available.join(', ') || 'none'}` +
        ' (a group needs its config section, e.g. `dsr` for group:pii-discovery)',
      { field: '--only' },
    );
  }
  if (wanted.length === 0) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      'nothing to run: the config has no sources and no consumer groups',
      {
        field: 'sources',
      },
    );
  }
  return wanted.map((id) => createComponent(context, id));
}

function createComponent(context: RuntimeContext, id: string): Component {
  const [type, name] = splitId(id);
  if (type === 'group') return (GROUPS[name] as (typeof GROUPS)[string]).create(context);
  return sourceFactory(context.config, name).create(context, name);
}

function sourceFactory(config: Config, name: string) {
  const kind = config.sources[name]?.kind ?? '';
  const factory = SOURCE_KINDS[kind];
  if (!factory) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `sources.${name}.kind: '${kind}' cannot be hosted by \`dsr-cdc run\` yet; hosted kinds: ${Object.keys(SOURCE_KINDS).join(', ')}`,
      { field: `sources.${name}.kind` },
    );
  }
  return factory;
}

function splitId(id: string): ['source' | 'group', string] {
  const at = id.indexOf(':');
  return [id.slice(0, at) as 'source' | 'group', id.slice(at + 1)];
}

/** What `GET /readyz` checks for these components: Kafka, the registry, and each one's own. */
export function readinessChecks(context: RuntimeContext, components: readonly Component[]): ReadinessCheck[] {
  const own = components.flatMap((component) => {
    const [type, name] = splitId(component.id);
    return type === 'source' ? (sourceFactory(context.config, name).readiness?.(context, name) ?? []) : [];
  });
  return [kafkaReadiness(context.config, context.logger), registryReadiness(context.config), ...own];
}

export interface HostOptions {
  logger: Logger;
  shutdownTimeoutMs: number;
  metrics?: Metrics;
}

/** Hosted components and their states, for `GET /status`. */
export class Host {
  readonly states = new Map<ComponentId, ComponentState>();
  #stopping = false;

  constructor(
    readonly components: readonly Component[],
    private readonly options: HostOptions,
  ) {
    for (const component of components) this.states.set(component.id, 'starting');
  }

  /**
   * True from the moment shutdown begins (the signal aborted, or a component failed): intake stops
   * then (the admin API refuses new work), while the components flush and commit.
   */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Runs every component until `signal` aborts (then stops them all) or one fails (see top). */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, shutdownTimeoutMs } = this.options;
    const gauge = (this.options.metrics ?? processMetrics).componentUp;
    const inner = new AbortController();
    const stop = () => {
      this.#stopping = true;
      for (const [id, state] of this.states) if (state === 'running') this.states.set(id, 'stopping');
      inner.abort();
    };
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });

    let failure: { id: ComponentId; error: unknown } | undefined;
    const runs = this.components.map(async (component) => {
      this.states.set(component.id, inner.signal.aborted ? 'stopping' : 'running');
      gauge.set({ component: component.id }, 1);
      try {
        await component.run(inner.signal);
        this.states.set(component.id, 'stopped');
        if (!inner.signal.aborted) logger.info({ id: component.id }, 'component finished');
      } catch (error) {
        this.states.set(component.id, 'failed');
        if (!failure) {
          failure = { id: component.id, error };
          logger.error(
            { id: component.id, code: isDsrCdcError(error) ? error.code : undefined },
            `component ${component.id} failed: ${(error as Error).message}; stopping the others`,
          );
        }
        stop();
      } finally {
        gauge.set({ component: component.id }, 0);
      }
    });

    logger.info({ components: this.components.map((c) => c.id) }, 'running');
    const all = Promise.all(runs);
    // wait for every component, or for the shutdown bound once stopping has begun
    const stopped = new Promise<'stopped'>((resolve) =>
      inner.signal.addEventListener('abort', () => resolve('stopped')),
    );
    await Promise.race([all, stopped]);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), shutdownTimeoutMs);
    });
    const outcome = await Promise.race([all.then(() => 'done' as const), bound]);
    clearTimeout(timer);
    signal.removeEventListener('abort', stop);

    if (failure) {
      const { id, error } = failure;
      throw new DsrCdcError(
        isDsrCdcError(error) ? error.code : 'INTERNAL',
        `component ${id} failed: ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (outcome === 'timeout') {
      const running = [...this.states].filter(([, s]) => s === 'stopping').map(([id]) => id);
      throw new DsrCdcError(
        'INTERNAL',
        `shutdown took longer than runtime.shutdownTimeoutMs (${shutdownTimeoutMs} ms); still stopping: ${running.join(', ')}. ` +
          'Positions not yet acknowledged are sent again after a restart.',
      );
    }
  }
}
