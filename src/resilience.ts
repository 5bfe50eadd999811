/**
 * Circuit breakers, one per external system ('postgres', 'kafka', 'registry', 'snowflake',
 * 'rest:<api>'), shared by every caller in the process: after `consecutiveFailures` outages in a row
 * the breaker opens and calls fail at once, without touching the system, for `halfOpenAfterMs`;
 * then one trial call decides whether it closes again. Only outages count (what errors.ts decide()
 * calls 'retry': unreachable, timed out); an answer such as "not found" or "refused" is a working
 * system. Each state change is logged and set on dsr_cdc_circuit_breaker_state{system}.
 *
 * Retrying is not done here: sources/supervise.ts restarts a component with exponential backoff
 * and jitter, and a call refused by an open breaker is a retryable CONNECTION_FAILED for it.
 */
import {
  BrokenCircuitError,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  IsolatedCircuitError,
} from 'cockatiel';
import { DsrCdcError, decide } from './errors.js';
import type { Logger } from './observability/logger.js';
import { BREAKER_STATE, type BreakerStateName, type Metrics, metrics } from './observability/metrics.js';

export interface BreakerOptions {
  /** Outages in a row that open the breaker. */
  consecutiveFailures: number;
  /** How long an open breaker refuses calls before it lets one trial call through. */
  halfOpenAfterMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { consecutiveFailures: 5, halfOpenAfterMs: 10_000 };

const STATE_NAMES: Record<CircuitState, BreakerStateName> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.Open]: 'open',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Isolated]: 'isolated',
};

/** The breakers of one process (or one test), by system. */
export class Breakers {
  private readonly breakers = new Map<string, CircuitBreakerPolicy>();

  constructor(
    private options: BreakerOptions = DEFAULT_BREAKER,
    private readonly metricsSink: Metrics = metrics,
    private logger?: Logger,
  ) {}

  /** Settings from the config and the logger for state changes; for breakers created afterwards. */
  configure(options: BreakerOptions, logger: Logger): void {
    this.options = options;
    this.logger = logger;
  }

  /** The breaker of `system`, created (closed) on first use. */
  of(system: string): CircuitBreakerPolicy {
    let breaker = this.breakers.get(system);
    if (!breaker) {
      breaker = circuitBreaker(
        handleWhen((error) => decide(error) === 'retry'),
        {
          halfOpenAfter: this.options.halfOpenAfterMs,
          breaker: new ConsecutiveBreaker(this.options.consecutiveFailures),
        },
      );
      const created = breaker;
      this.metricsSink.breakerState.set({ system }, BREAKER_STATE.closed);
      created.onStateChange((state) => {
        const name = STATE_NAMES[state];
        this.metricsSink.breakerState.set({ system }, BREAKER_STATE[name]);
        const log = { system, state: name };
        if (name === 'open') this.logger?.warn(log, `circuit breaker of ${system} opened: calls fail fast`);
        else this.logger?.info(log, `circuit breaker of ${system} is ${name}`);
      });
      this.breakers.set(system, created);
    }
    return breaker;
  }

  /** The state of every breaker used so far, for `GET /status`. */
  states(): Record<string, BreakerStateName> {
    return Object.fromEntries([...this.breakers].map(([system, b]) => [system, STATE_NAMES[b.state]]));
  }

  /**
   * Runs `call` through the breaker of `system`. A call refused by an open breaker fails with a
   * retryable CONNECTION_FAILED naming the system; the call's own errors pass through unchanged
   * (translate them into DsrCdcError where they are caught, so that outages count).
   */
  async call<T>(system: string, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.of(system).execute(({ signal }) => call(signal));
    } catch (error) {
      throw isRefusedByBreaker(error) ? brokenCircuit(system, error) : error;
    }
  }
}

export function isRefusedByBreaker(error: unknown): boolean {
  return error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError;
}

export function brokenCircuit(system: string, cause: unknown): DsrCdcError {
  return new DsrCdcError(
    'CONNECTION_FAILED',
    `${system} is unavailable: its circuit breaker is open after repeated network failures`,
    { retryable: true, cause },
  );
}

/** The process's breakers: every client of an external system uses these. */
export const breakers = new Breakers();
