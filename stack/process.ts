/**
 * Process plumbing for the local stack: run a command, start a daemon that outlives `up`,
 * stop exactly the process we started, and poll until something is ready.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';

/** A failure of the stack that the user can act on; the CLI prints its message without a trace. */
export class StackError extends Error {
  override name = 'StackError';
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this system user (used for Postgres, which refuses to run as root). */
  asUser?: string | undefined;
}

function withUser(command: string, args: string[], asUser?: string): [string, string[]] {
  return asUser ? ['runuser', ['-u', asUser, '--', command, ...args]] : [command, args];
}

/** Runs a command to completion; rejects with a StackError with the tail of its output on failure. */
export function run(command: string, args: string[], options: RunOptions = {}): Promise<string> {
  const [cmd, argv] = withUser(command, args, options.asUser);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk;
      output = (output + chunk).slice(-8_000);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output = (output + chunk).slice(-8_000);
    });
    child.once('error', (error) => reject(new StackError(`could not run ${command}: ${error.message}`)));
    child.once('close', (code) => {
      if (code === 0) return resolve(stdout);
      const tail = output.trim().split('\n').slice(-15).join('\n  ');
      reject(new StackError(`${command} ${args.join(' ')} failed with exit code ${code}:\n  ${tail}`));
    });
  });
}

/** Whether `name` is an executable on PATH. */
export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/**
 * Starts a long-running process detached from this one, its output appended to `logFile`, and
 * records its pid in `pidFile` so that `down` stops this process and nothing else.
 */
export function startDaemon(
  command: string,
  args: string[],
  options: RunOptions & { logFile: string; pidFile: string },
): number {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    if (child.pid === undefined) throw new StackError(`could not start ${command}`);
    child.unref();
    writeFileSync(options.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export function readPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid recorded in `pidFile` if that process is still running. */
export function runningPid(pidFile: string): number | undefined {
  const pid = readPid(pidFile);
  return pid !== undefined && isAlive(pid) ? pid : undefined;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. Removes the pid file. */
export async function stopDaemon(pidFile: string, graceMs = 20_000): Promise<boolean> {
  const pid = runningPid(pidFile);
  if (pid === undefined) {
    rmSync(pidFile, { force: true });
    return false;
  }
  process.kill(pid, 'SIGTERM');
  const exited = await poll(() => !isAlive(pid), { timeoutMs: graceMs, intervalMs: 200 });
  if (!exited) {
    process.kill(pid, 'SIGKILL');
    await poll(() => !isAlive(pid), { timeoutMs: 5_000, intervalMs: 100 });
  }
  rmSync(pidFile, { force: true });
  return true;
}

/** Polls `check` until it returns true or the timeout passes; returns whether it succeeded. */
export async function poll(
  check: () => boolean | Promise<boolean>,
  { timeoutMs, intervalMs = 250 }: { timeoutMs: number; intervalMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      // not ready yet
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** GET `url` with a short timeout; resolves to the status code, or 0 when nothing answered. */
export async function httpStatus(url: string, timeoutMs = 2_000): Promise<number> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}
