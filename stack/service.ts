/** What every service of the local stack offers to `npm run stack -- up | down | status`. */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Health {
  healthy: boolean;
  /** One line for `status`: what was checked, or why it failed. */
  detail: string;
}

export interface Prerequisite {
  /** An executable that must be on PATH (or found by the service itself). */
  command: string;
  /** How to install it, shown when it is missing. */
  install: string;
  /** How to tell it is there, when not by looking it up on PATH. */
  present?: () => boolean;
}

export interface Service {
  readonly name: string;
  /** The TCP port it listens on, on 127.0.0.1. */
  readonly port: number;
  /** Where clients reach it, e.g. 127.0.0.1:55432. */
  readonly address: string;
  readonly logFile: string;
  /** Commands the service needs before anything is downloaded or started. */
  prerequisites(): Prerequisite[];
  /** Downloads, installs and initialises whatever is missing. Idempotent. */
  prepare(): Promise<void>;
  /** Whether a process started by `up` is running. */
  running(): Promise<boolean>;
  /** Starts the process; the caller then polls health(). */
  start(): Promise<void>;
  health(): Promise<Health>;
  /** Settings applied once the service is healthy (idempotent), if any. */
  configure?(): Promise<void>;
  /** Stops the process `up` started, if any; returns whether there was one. */
  stop(): Promise<boolean>;
}

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Where the stack keeps downloads, data and logs (ignored by git). */
export const STATE_DIR = resolve(process.env.DSR_CDC_STACK_DIR ?? join(PROJECT_ROOT, '.stack'));

export function stateDir(service: string, ...parts: string[]): string {
  return join(STATE_DIR, service, ...parts);
}
