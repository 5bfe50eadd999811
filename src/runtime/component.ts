/**
 * What `dsr-cdc run` hosts: a source, a poller or a consumer group, behind one small contract so
 * that the runtime, the admin API and the CLI treat them alike. A component owns its clients; the
 * runtime only starts it, stops it (by aborting the signal) and asks it questions.
 */

/** `source:<name>` for sources and pollers, `group:<name>` for consumer groups. */
export type ComponentId = `source:${string}` | `group:${string}`;

/** One run of a poller (or a manual sync): what the status API shows as history. */
export interface RunRecord {
  startedAt: string;
  finishedAt?: string;
  rows: number;
  status: 'running' | 'succeeded' | 'failed';
  /** A scrubbed message (never row values or secrets) when the run failed. */
  error?: string;
}

/** The outcome of a `test` action: each check (connectivity, permissions …) passed or why not. */
export interface TestReport {
  ok: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
}

export interface Component {
  readonly id: ComponentId;
  /**
   * Runs until `signal` aborts (then stops intake, flushes, commits positions and resolves) or it
   * fails for good (rejects). Retryable failures are handled inside (see sources/supervise.ts).
   */
  run(signal: AbortSignal): Promise<void>;
  /** Positions, lags and recent runs: plain JSON (or a promise of it) for `GET /status`, without row values. */
  status?(): unknown;
  /** Checks connectivity and permissions without changing anything. */
  test?(): Promise<TestReport>;
  /** Runs one poll now (pollers only); resolves with the finished run. */
  sync?(): Promise<RunRecord>;
}
