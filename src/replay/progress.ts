/**
 * Progress of a replay, on stderr: a bar with rows, rate and ETA on a terminal (cli-progress);
 * plain lines every `intervalMs` otherwise (logs, CI, pipes), and a last line when done.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number): void;
  /** `done`: events read so far. */
  update(done: number): void;
  stop(): void;
}

export function barProgress(stream: NodeJS.WritableStream): Progress {
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'replay [{bar}] {percentage}% | {value}/{total} events | {rate}/s | ETA {eta_formatted}',
      etaBuffer: 50,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = 0;
  return {
    start: (total) => {
      started = Date.now();
      bar.start(total, 0, { rate: 0 });
    },
    update: (done) => bar.update(done, { rate: ratePerSecond(done, Date.now() - started) }),
    stop: () => bar.stop(),
  };
}

/** `now` is passed in so that a test can drive the clock. */
export function lineProgress(
  write: (line: string) => void,
  intervalMs = 5_000,
  now: () => number = Date.now,
): Progress {
  let total = 0;
  let done = 0;
  let started = 0;
  let last = 0;
  const line = () => {
    const elapsed = now() - started;
    const rate = ratePerSecond(done, elapsed);
    const eta = rate > 0 && done < total ? `, ETA ${Math.ceil((total - done) / rate)} s` : '';
    const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
    write(`replay: ${done}/${total} events (${percent}%), ${rate}/s${eta}\n`);
  };
  return {
    start: (events) => {
      total = events;
      started = now();
      last = started;
    },
    update: (events) => {
      done = events;
      if (now() - last >= intervalMs) {
        last = now();
        line();
      }
    },
    stop: line,
  };
}

function ratePerSecond(done: number, elapsedMs: number): number {
  return elapsedMs > 0 ? Math.round((done * 1000) / elapsedMs) : 0;
}
