/** Loggers whose lines the test keeps (pino writes synchronously to a plain stream). */
import { Writable } from 'node:stream';
import type { Level } from 'pino';
import { createLogger, type Logger } from '../../src/observability/logger.js';

/** A destination that keeps every line written to it. */
export function memoryStream(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return { stream, lines };
}

/** A real logger at `level` into memory; `messages()` are the `msg` of its lines so far. */
export function memoryLogger(
  level: Level = 'info',
  component?: string,
): { logger: Logger; lines: string[]; messages: () => string[] } {
  const { stream, lines } = memoryStream();
  const logger = createLogger({ level, destination: stream, ...(component ? { component } : {}) });
  return { logger, lines, messages: () => lines.map((line) => (JSON.parse(line) as { msg: string }).msg) };
}
