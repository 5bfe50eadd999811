import { describe, expect, it } from 'vitest';
import { lineProgress } from '../../../src/replay/progress.js';

describe('lineProgress', () => {
  it('writes a line per interval with count, rate and ETA, and a last line at the end', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = lineProgress(
      (line) => lines.push(line),
      1_000,
      () => now,
    );
    progress.start(1_000);
    now = 500;
    progress.update(100); // within the interval: silent
    now = 1_000;
    progress.update(250);
    now = 2_000;
    progress.update(500);
    now = 2_100;
    progress.update(1_000);
    progress.stop();
    expect(lines).toEqual([
      'replay: 250/1000 events (25%), 250/s, ETA 3 s\n',
      'replay: 500/1000 events (50%), 250/s, ETA 2 s\n',
      'replay: 1000/1000 events (100%), 476/s\n',
    ]);
  });

  it('reports an empty range as done', () => {
    const lines: string[] = [];
    const progress = lineProgress(
      (line) => lines.push(line),
      1_000,
      () => 0,
    );
    progress.start(0);
    progress.stop();
    expect(lines).toEqual(['replay: 0/0 events (100%), 0/s\n']);
  });
});
