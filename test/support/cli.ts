/** Runs the dsr-cdc CLI in this process, capturing what it prints and its exit code. */
import { run } from '../../src/cli/main.js';

export async function runCli(argv: string[], env: Record<string, string>) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    env,
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
  });
  return { code, stdout, stderr };
}
