import { afterEach, describe, expect, it, vi } from 'vitest';
import { runUntilSignal } from '../../../src/cli/signals.js';
import { memoryLogger } from '../../support/logger.js';

/**
 * Starts runUntilSignal with a task that runs until released, with process.exit stubbed (it
 * records the code and returns). `signal(name)` delivers a signal to the handler runUntilSignal
 * installed (emitting it on the process would also reach the test runner's own handlers).
 */
function start(options: { exitAfterMs?: number } = {}) {
  const exits: number[] = [];
  vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
    exits.push(code ?? 0);
  }) as typeof process.exit);
  const before = { SIGTERM: process.listeners('SIGTERM'), SIGINT: process.listeners('SIGINT') };
  const { logger, lines } = memoryLogger();
  let release: () => void = () => undefined;
  let taskSignal: AbortSignal | undefined;
  const done = runUntilSignal(
    logger,
    'stopping the test task',
    (signal) => {
      taskSignal = signal;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    options,
  );
  const handler = (name: 'SIGTERM' | 'SIGINT') => {
    const added = process.listeners(name).filter((l) => !before[name].includes(l));
    expect(added).toHaveLength(1);
    return added[0] as (signal: NodeJS.Signals) => void;
  };
  return {
    exits,
    lines,
    done,
    aborted: () => taskSignal?.aborted,
    release: () => release(),
    signal: (name: 'SIGTERM' | 'SIGINT') => handler(name)(name),
    handlers: () => process.listeners('SIGTERM').filter((l) => !before.SIGTERM.includes(l)),
  };
}

describe('runUntilSignal', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it('aborts the task on the first signal and lets it stop cleanly, then removes its handlers', async () => {
    const run = start();
    run.signal('SIGTERM');
    expect(run.aborted()).toBe(true);
    expect(run.lines.join('')).toContain('stopping the test task (signal again to exit at once)');
    run.release();
    await run.done;
    expect(run.exits).toEqual([]);
    expect(run.handlers()).toEqual([]);
  });

  it('exits at once with 130 on a second signal', async () => {
    const run = start();
    run.signal('SIGTERM');
    expect(run.exits).toEqual([]);
    run.signal('SIGINT');
    expect(run.exits).toEqual([130]);
    run.release();
    await run.done;
  });

  it('exits with 1 when the task is still running exitAfterMs after the first signal', async () => {
    vi.useFakeTimers();
    const run = start({ exitAfterMs: 5_000 });
    run.signal('SIGTERM');
    vi.advanceTimersByTime(4_999);
    expect(run.exits).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(run.exits).toEqual([1]);
    expect(run.lines.join('')).toContain('still running 5000 ms after the stop signal; exiting');
    run.release();
    await run.done;
  });

  it('does not start the exit timer before a signal', async () => {
    vi.useFakeTimers();
    const run = start({ exitAfterMs: 5_000 });
    vi.advanceTimersByTime(60_000);
    expect(run.exits).toEqual([]);
    expect(run.aborted()).toBe(false);
    run.release();
    await run.done;
  });
});
