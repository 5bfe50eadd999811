/**
 * Ends a command with `code` after it has printed everything it had to say. Its own module, so
 * that command files need not import main.ts (which imports them) for it.
 */
export class CliExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
    this.name = 'CliExit';
  }
}
