/**
 * The Snowflake emulator: fakesnow's server from PyPI, in a virtualenv the stack creates, behind
 * our adapter (stack/snowflake/adapter.py) that makes its answers readable by the Node
 * snowflake-sdk. Tables persist in a DuckDB directory under .stack/snowflake.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_PORTS } from '../../src/config/connections.js';
import { httpStatus, run, runningPid, StackError, startDaemon, stopDaemon } from '../process.js';
import { type Health, PROJECT_ROOT, type Service, stateDir } from '../service.js';
import { fingerprint } from './java.js';

const REQUIREMENTS = join(PROJECT_ROOT, 'stack', 'snowflake', 'requirements.txt');
const ADAPTER = join(PROJECT_ROOT, 'stack', 'snowflake', 'adapter.py');

export function snowflakeService(): Service {
  const port = LOCAL_PORTS.snowflake;
  const venv = stateDir('snowflake', 'venv');
  const python = join(venv, 'bin', 'python');
  const stamp = join(venv, '.requirements-fingerprint');
  const pidFile = stateDir('snowflake', 'snowflake.pid');
  const logFile = stateDir('snowflake', 'snowflake.log');
  const base = `http://127.0.0.1:${port}`;

  return {
    name: 'snowflake',
    port,
    address: base,
    logFile,
    prerequisites: () => [
      {
        command: 'python3',
        install:
          'install Python 3.11+ with venv (fakesnow needs 3.11), e.g. `apt-get install python3 python3-venv`',
      },
    ],
    async prepare() {
      const wanted = fingerprint(REQUIREMENTS);
      if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
      await run('python3', ['-c', 'import sys; sys.exit(sys.version_info < (3, 11))']).catch(() => {
        throw new StackError('python3 is older than 3.11, which fakesnow needs: install Python 3.11+');
      });
      if (!existsSync(python)) await run('python3', ['-m', 'venv', venv]);
      await run(python, [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--disable-pip-version-check',
        '-r',
        REQUIREMENTS,
      ]);
      writeFileSync(stamp, wanted);
    },
    running: async () => runningPid(pidFile) !== undefined,
    async start() {
      const dataDir = stateDir('snowflake', 'data');
      mkdirSync(dataDir, { recursive: true });
      startDaemon(python, [ADAPTER, '--host', '127.0.0.1', '--port', String(port), '--db-path', dataDir], {
        logFile,
        pidFile,
        cwd: stateDir('snowflake'),
      });
    },
    async health(): Promise<Health> {
      const status = await httpStatus(`${base}/healthz`);
      return status === 200
        ? { healthy: true, detail: 'fakesnow behind the dsr-cdc adapter answers' }
        : { healthy: false, detail: status === 0 ? 'no answer' : `GET /healthz answered ${status}` };
    },
    stop: () => stopDaemon(pidFile, 10_000),
  };
}
