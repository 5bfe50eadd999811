#!/usr/bin/env node
// Launcher: runs the compiled CLI (dist/, from `npm run build`) when present, otherwise the
// TypeScript source through tsx's ESM loader (a devDependency, so only in a development checkout).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
let cli;
if (existsSync(compiled)) {
  cli = await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../src/cli/main.ts');
}
process.exitCode = await cli.run(process.argv.slice(2));
