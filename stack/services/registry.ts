/**
 * Apicurio Registry 3.0 (io.apicurio:apicurio-registry-app, the `all` tarball from Maven Central),
 * whose Confluent-compatible API lives under /apis/ccompat/v7. Bound to loopback, bounded heap,
 * schemas kept in an H2 file under .stack/registry so ids survive a restart.
 *
 * Why 3.0.9 and not 3.3.x: from 3.1 on the app is built for Java 21, and Java 17 is what these
 * machines are guaranteed to have.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_PORTS } from '../../src/config/connections.js';
import { httpStatus, run, runningPid, startDaemon, stopDaemon } from '../process.js';
import { type Health, type Service, stateDir } from '../service.js';
import { JAVA, MAVEN } from './java.js';

export const APICURIO_VERSION = '3.0.9';

export function registryService(): Service {
  const port = LOCAL_PORTS.registry;
  const appDir = stateDir('registry', `apicurio-${APICURIO_VERSION}`);
  const runner = join(appDir, `apicurio-registry-app-${APICURIO_VERSION}-runner.jar`);
  const pidFile = stateDir('registry', 'registry.pid');
  const logFile = stateDir('registry', 'registry.log');
  const base = `http://127.0.0.1:${port}`;

  return {
    name: 'registry',
    port,
    address: `${base}/apis/ccompat/v7`,
    logFile,
    prerequisites: () => [JAVA, MAVEN, { command: 'tar', install: 'apt-get install tar' }],
    async prepare() {
      if (existsSync(runner)) return;
      const download = stateDir('registry', 'download');
      mkdirSync(download, { recursive: true });
      await run('mvn', [
        '-q',
        '-B',
        'dependency:copy',
        `-Dartifact=io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`,
        `-DoutputDirectory=${download}`,
      ]);
      const tarball = readdirSync(download).find((f) => f.endsWith('.tar.gz'));
      if (!tarball) throw new Error(`Maven copied no Apicurio tarball into ${download}`);
      mkdirSync(appDir, { recursive: true });
      await run('tar', ['-xzf', join(download, tarball), '-C', appDir]);
      rmSync(download, { recursive: true, force: true });
    },
    running: async () => runningPid(pidFile) !== undefined,
    async start() {
      const h2File = stateDir('registry', 'data', 'registry');
      startDaemon(
        'java',
        [
          '-Xms128m',
          '-Xmx384m',
          '-Djava.awt.headless=true',
          '-Dquarkus.http.host=127.0.0.1',
          `-Dquarkus.http.port=${port}`,
          '-Dquarkus.management.host=127.0.0.1',
          `-Dquarkus.management.port=${LOCAL_PORTS.registryManagement}`,
          '-Dquarkus.http.access-log.enabled=false',
          '-Dapicurio.storage.kind=sql',
          '-Dapicurio.storage.sql.kind=h2',
          `-Dapicurio.datasource.url=jdbc:h2:file:${h2File};DB_CLOSE_ON_EXIT=FALSE`,
          '-Dapicurio.datasource.jdbc.initial-size=2',
          '-Dapicurio.datasource.jdbc.min-size=2',
          '-Dapicurio.datasource.jdbc.max-size=20',
          // tests delete the subjects they create
          '-Dapicurio.rest.deletion.group.enabled=true',
          '-Dapicurio.rest.deletion.artifact.enabled=true',
          '-Dapicurio.rest.deletion.artifact-version.enabled=true',
          '-jar',
          runner,
        ],
        { logFile, pidFile, cwd: stateDir('registry') },
      );
    },
    async health(): Promise<Health> {
      const status = await httpStatus(`${base}/apis/ccompat/v7/subjects`);
      return status === 200
        ? { healthy: true, detail: 'Confluent-compatible API answers' }
        : { healthy: false, detail: status === 0 ? 'no answer' : `GET /subjects answered ${status}` };
    },
    async configure() {
      // Confluent's default: a new schema version must read data written with the previous one
      const response = await fetch(`${base}/apis/ccompat/v7/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
        body: JSON.stringify({ compatibility: 'BACKWARD' }),
        signal: AbortSignal.timeout(5_000),
      });
      if (!response.ok) throw new Error(`setting BACKWARD compatibility answered ${response.status}`);
    },
    stop: () => stopDaemon(pidFile, 20_000),
  };
}
