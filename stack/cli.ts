/**
 * `npm run stack -- up | down | status`: the real local stack (Postgres, Kafka, schema registry,
 * Snowflake emulator) on 127.0.0.1, without Docker.
 *
 * up      checks prerequisites, downloads and initialises what is missing, starts what is not
 *         running and polls until every service is healthy. Idempotent. `up <service>…` brings
 *         up only the services named (e.g. `up mariadb`).
 * down    stops the processes `up` started (by pid file or data directory), nothing else.
 * status  prints each service with its address and health; exits 1 if any is not healthy.
 */
import { readFileSync } from 'node:fs';
import { hasCommand, poll, portOpen, StackError } from './process.js';
import type { Service } from './service.js';
import { STATE_DIR } from './service.js';
import { kafkaService } from './services/kafka.js';
import { mariadbService } from './services/mariadb.js';
import { postgresService } from './services/postgres.js';
import { registryService } from './services/registry.js';
import { snowflakeService } from './services/snowflake.js';

const READY_TIMEOUT_MS = 180_000;

function services(): Service[] {
  return [postgresService(), kafkaService(), registryService(), snowflakeService(), mariadbService()];
}

function say(service: Service, message: string): void {
  process.stdout.write(`${service.name.padEnd(10)} ${message}\n`);
}

function checkPrerequisites(all: Service[]): void {
  const missing = new Map<string, { install: string; neededBy: string[] }>();
  for (const service of all) {
    for (const { command, install, present } of service.prerequisites()) {
      if ((present ?? (() => hasCommand(command)))()) continue;
      const entry = missing.get(command) ?? { install, neededBy: [] };
      entry.neededBy.push(service.name);
      missing.set(command, entry);
    }
  }
  if (missing.size > 0) {
    const lines = [...missing].map(
      ([command, m]) => `${command} (needed by ${m.neededBy.join(', ')}): ${m.install}`,
    );
    throw new StackError(`missing prerequisites:\n  ${lines.join('\n  ')}`);
  }
}

function logTail(service: Service): string {
  try {
    return readFileSync(service.logFile, 'utf8').trim().split('\n').slice(-20).join('\n  ');
  } catch {
    return '(no log yet)';
  }
}

async function bringUp(service: Service): Promise<void> {
  if (!(await service.running())) {
    if (await portOpen(service.port)) {
      throw new StackError(
        `${service.name}: port ${service.port} is already in use by a process this stack did not start; ` +
          'stop that process (or run `npm run stack -- down` if an older checkout started it)',
      );
    }
    say(service, 'starting');
    await service.start();
  }
  let last = { healthy: false, detail: 'not checked' };
  const healthy = await poll(
    async () => {
      last = await service.health();
      return last.healthy;
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500 },
  );
  if (!healthy) {
    throw new StackError(
      `${service.name} did not become healthy within ${READY_TIMEOUT_MS / 1000}s (${last.detail}); ` +
        `last lines of ${service.logFile}:\n  ${logTail(service)}`,
    );
  }
  await service.configure?.();
  say(service, `healthy at ${service.address}`);
}

/** `only`: names of the services to bring up (e.g. `up mariadb`); all when empty. */
async function up(only: readonly string[] = []): Promise<void> {
  const all = services();
  const unknown = only.filter((name) => !all.some((s) => s.name === name));
  if (unknown.length > 0) throw new StackError(`unknown service(s): ${unknown.join(', ')}`);
  const [postgres, kafka, registry, snowflake, mariadb] = all as [
    Service,
    Service,
    Service,
    Service,
    Service,
  ];
  const wanted = (service: Service) => only.length === 0 || only.includes(service.name);
  checkPrerequisites(all.filter(wanted));
  process.stdout.write(`stack state in ${STATE_DIR}\n`);
  const prepare = async (service: Service) => {
    if (await service.running()) return;
    say(service, 'preparing (the first run downloads and installs it)');
    await service.prepare();
  };
  // Both JVM services resolve through Maven, whose local repository is not safe for concurrent use.
  const alone = (service: Service) =>
    wanted(service) ? prepare(service).then(() => bringUp(service)) : Promise.resolve();
  const results = await Promise.allSettled([
    alone(postgres),
    wanted(kafka) || wanted(registry)
      ? prepare(kafka)
          .then(() => prepare(registry))
          .then(() => Promise.all([bringUp(kafka), bringUp(registry)]))
      : Promise.resolve(),
    alone(snowflake),
    alone(mariadb),
  ]);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    throw new StackError(failures.map((e) => (e instanceof Error ? e.message : String(e))).join('\n'));
  }
}

async function down(): Promise<void> {
  for (const service of services().reverse()) {
    say(service, (await service.stop()) ? 'stopped' : 'was not running');
  }
}

async function status(): Promise<boolean> {
  let allHealthy = true;
  for (const service of services()) {
    const running = await service.running();
    const health = await service.health();
    allHealthy &&= health.healthy;
    const state = health.healthy ? 'healthy' : running ? 'UNHEALTHY' : 'STOPPED';
    say(service, `${state.padEnd(9)} ${service.address.padEnd(42)} ${health.detail}`);
  }
  return allHealthy;
}

async function main(command: string | undefined): Promise<number> {
  switch (command) {
    case 'up':
      await up(process.argv.slice(3));
      return 0;
    case 'down':
      await down();
      return 0;
    case 'status':
      return (await status()) ? 0 : 1;
    default:
      process.stderr.write('usage: npm run stack -- up [service…] | down | status\n');
      return 2;
  }
}

main(process.argv[2]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof StackError ? error.message : String((error as Error)?.stack ?? error);
    process.stderr.write(`stack: ${message}\n`);
    process.exit(1);
  },
);
