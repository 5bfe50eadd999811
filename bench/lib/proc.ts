/**
 * The source under test as a separate process (so its memory is its own), sampled from /proc:
 * VmRSS and VmHWM every 100 ms, and CPU time of it and of the stack's processes per window.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface RssSample {
  /** performance.now() of the sample */
  at: number;
  rssKb: number;
  hwmKb: number;
}

export interface SourceProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or signal name) when the process has ended. */
  readonly exited: Promise<string>;
  /** The last lines the process wrote (stdout and stderr), for error reports. */
  tail(): string;
  /** SIGTERM, then SIGKILL when it has not ended after `graceMs`. Resolves once it has ended. */
  stop(graceMs?: number): Promise<{ how: 'exited' | 'killed'; code: string; ms: number }>;
}

/**
 * Starts `node [nodeArgs] --import tsx src/cli/main.ts source run <name> --config <file>` in
 * `cwd`, or with `compiledMain` (a compiled main.js) `node [nodeArgs] <compiledMain> source run ...`.
 */
export function spawnSource(options: {
  cwd: string;
  name: string;
  configPath: string;
  env: NodeJS.ProcessEnv;
  nodeArgs?: string[];
  compiledMain?: string;
}): SourceProcess {
  const args = [
    ...(options.nodeArgs ?? []),
    ...(options.compiledMain ? [options.compiledMain] : ['--import', 'tsx', 'src/cli/main.ts']),
    'source',
    'run',
    options.name,
    '--config',
    options.configPath,
  ];
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not start the source process');
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (lines.length > 60) lines.splice(0, lines.length - 60);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? String(code))),
  );
  return {
    pid: child.pid,
    child,
    exited,
    tail: () => lines.join('\n'),
    async stop(graceMs = 10_000) {
      const started = performance.now();
      if (child.exitCode !== null || child.signalCode !== null) {
        return { how: 'exited', code: await exited, ms: 0 };
      }
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first !== 'timeout') return { how: 'exited', code: first, ms: performance.now() - started };
      child.kill('SIGKILL');
      return { how: 'killed', code: await exited, ms: performance.now() - started };
    },
  };
}

/** VmRSS and VmHWM of `pid` in kB, or undefined once the process is gone. */
export function readRss(pid: number): { rssKb: number; hwmKb: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

/** Samples VmRSS/VmHWM of `pid` every `intervalMs` until stopped. */
export class RssSampler {
  readonly samples: RssSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
  }

  private sample(): void {
    const rss = readRss(this.pid);
    if (rss) this.samples.push({ at: performance.now(), ...rss });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The highest VmHWM seen: the process's peak resident set since it started. */
  get peakKb(): number {
    if (this.samples.length === 0) return Number.NaN;
    return this.samples.reduce((max, s) => Math.max(max, s.hwmKb), 0);
  }

  /** VmRSS samples taken in [from, to] (performance.now() times). */
  between(from: number, to: number): number[] {
    return this.samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.rssKb);
  }
}

// ---------------------------------------------------------------------------------------------
// CPU time per process group, to see which part of the pipeline a run saturated.

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

export type CpuGroup = 'source' | 'bench' | 'postgres' | 'kafka' | 'registry' | 'other';

export interface CpuSnapshot {
  at: number;
  /** pid → [group, utime + stime ticks] */
  ticks: Map<number, [CpuGroup, number]>;
  /** all CPUs: [busy ticks, total ticks] from /proc/stat */
  machine: [number, number];
}

function processTicks(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, utime 14 and stime 15
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function classify(pid: string, sourcePid: number): CpuGroup {
  if (Number(pid) === sourcePid) return 'source';
  if (Number(pid) === process.pid) return 'bench';
  try {
    const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    if (comm === 'postgres') return 'postgres';
    if (comm === 'java') {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (/kafka/i.test(cmdline) && !/quarkus|apicurio/i.test(cmdline)) return 'kafka';
      return 'registry';
    }
  } catch {
    // gone
  }
  return 'other';
}

export function cpuSnapshot(sourcePid: number): CpuSnapshot {
  const ticks = new Map<number, [CpuGroup, number]>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const t = processTicks(pid);
    if (t !== undefined) ticks.set(Number(pid), [classify(pid, sourcePid), t]);
  }
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
  const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
  return { at: performance.now(), ticks, machine: [total - idle, total] };
}

/** CPU used between two snapshots, per group, in % of one core; `machine` in % of all cores. */
export function cpuBetween(start: CpuSnapshot, end: CpuSnapshot): Record<CpuGroup | 'machine', number> {
  const seconds = (end.at - start.at) / 1000;
  const used: Record<CpuGroup, number> = {
    source: 0,
    bench: 0,
    postgres: 0,
    kafka: 0,
    registry: 0,
    other: 0,
  };
  for (const [pid, [group, ticks]] of end.ticks) {
    const before = start.ticks.get(pid)?.[1] ?? 0;
    used[group] += Math.max(0, ticks - before);
  }
  const percent = (ticks: number) => (100 * ticks) / TICKS_PER_SECOND / seconds;
  const [busy0, total0] = start.machine;
  const [busy1, total1] = end.machine;
  return {
    source: percent(used.source),
    bench: percent(used.bench),
    postgres: percent(used.postgres),
    kafka: percent(used.kafka),
    registry: percent(used.registry),
    other: percent(used.other),
    machine: total1 > total0 ? (100 * (busy1 - busy0)) / (total1 - total0) : Number.NaN,
  };
}
