/**
 * A poller as a runtime Component: a croner schedule (runs never overlap), a manual `sync`, a run
 * history for the status API, a `test` action, and a concurrency limit shared by every poller of
 * the process (a cockatiel bulkhead), so many pollers firing at once do not swamp the sources.
 *
 * Failure policy: a run that fails with a retryable error (a lost connection, Kafka unreachable)
 * is recorded and the next scheduled run tries again from the stored watermark; any other failure
 * (a missing table, a contract the registry refuses) ends `run()`.
 */
import { type BulkheadPolicy, bulkhead } from 'cockatiel';
import { Cron } from 'croner';
import { decide, isDsrCdcError } from '../../errors.js';
import type { Logger } from '../../observability/logger.js';
import type { Component, ComponentId, RunRecord, TestReport } from '../../runtime/component.js';

/** What each kind of poller offers the component. */
export interface Poller {
  /** One poll of everything the poller covers; resolves with the rows published. */
  runOnce(signal?: AbortSignal): Promise<number>;
  test(): Promise<TestReport['checks']>;
  /** Releases connections; the next run opens them again. */
  close(): Promise<void>;
  /** Durable positions (each table's cursor), without row values. */
  positions(): unknown;
}

/** Polls running at once in one process, across all pollers; more wait their turn. */
export const MAX_CONCURRENT_POLLS = 4;
const sharedLimit = bulkhead(MAX_CONCURRENT_POLLS, Number.MAX_SAFE_INTEGER);

const HISTORY = 50;

export class PollerComponent implements Component {
  readonly id: ComponentId;
  private readonly history: RunRecord[] = [];
  private cron: Cron | undefined;
  private current: Promise<RunRecord> | undefined;
  /** The error of the last failed run (for run(), which decides whether to go on). */
  private lastError: unknown;

  constructor(
    readonly name: string,
    private readonly kind: string,
    private readonly schedule: string,
    private readonly poller: Poller,
    private readonly logger: Logger,
    private readonly limit: BulkheadPolicy = sharedLimit,
  ) {
    this.id = `source:${name}`;
  }

  /** Runs one poll now (waits for a run in progress first); resolves with its record, failed or not. */
  async sync(signal?: AbortSignal): Promise<RunRecord> {
    while (this.current) await this.current.catch(() => undefined);
    const run = this.syncNow(signal);
    this.current = run;
    try {
      return await run;
    } finally {
      this.current = undefined;
    }
  }

  private async syncNow(signal?: AbortSignal): Promise<RunRecord> {
    const record: RunRecord = { startedAt: new Date().toISOString(), rows: 0, status: 'running' };
    this.history.push(record);
    if (this.history.length > HISTORY) this.history.shift();
    try {
      record.rows = await this.limit.execute(() => this.poller.runOnce(signal), signal);
      record.status = 'succeeded';
    } catch (error) {
      record.status = 'failed';
      // DsrCdcError messages never carry values or secrets; anything else is named, not quoted
      record.error = isDsrCdcError(error)
        ? error.message
        : `internal error (${(error as Error)?.name ?? 'unknown'})`;
      this.lastError = error;
      await this.poller.close().catch(() => undefined);
    } finally {
      record.finishedAt = new Date().toISOString();
    }
    this.logger[record.status === 'failed' ? 'warn' : 'debug'](
      { rows: record.rows, status: record.status, error: record.error },
      'poll finished',
    );
    return record;
  }

  async run(signal: AbortSignal): Promise<void> {
    let fail: (error: unknown) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const stopped = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    this.cron = new Cron(this.schedule, { protect: true }, async () => {
      const record = await this.sync(signal);
      if (record.status === 'failed' && !signal.aborted && decide(this.lastError) !== 'retry') {
        this.cron?.stop();
        fail(this.lastError);
      }
    });
    try {
      await Promise.race([stopped, failed]);
    } finally {
      this.cron.stop();
      this.cron = undefined;
      await this.current?.catch(() => undefined);
      await this.poller.close();
    }
  }

  status(): unknown {
    return {
      kind: this.kind,
      schedule: this.schedule,
      nextRun: this.cron?.nextRun()?.toISOString() ?? null,
      positions: this.poller.positions(),
      runs: [...this.history].reverse(),
    };
  }

  /** Releases the poller's connections (after `sync` outside of `run`). */
  close(): Promise<void> {
    return this.poller.close();
  }

  /** Checks without publishing; shares the poller's connections, released again unless run() holds them. */
  async test(): Promise<TestReport> {
    try {
      const checks = await this.poller.test();
      return { ok: checks.every((c) => c.ok), checks };
    } finally {
      if (!this.cron && !this.current) await this.poller.close().catch(() => undefined);
    }
  }
}
