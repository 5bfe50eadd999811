/**
 * Benchmark of the Postgres poller (in this process, built from a config file exactly as
 * `dsr-cdc poller sync/run` builds it):
 *
 *   A  throughput: a table of --rows rows (one INSERT, so they share one timestamp: the worst case
 *      for a keyset), one `sync` from the empty watermark to the horizon; rows/s from its start to
 *      Kafka having acknowledged every event and the watermark being stored.
 *   B  lag: the poller on a fixed schedule (every --interval-s seconds) while a writer commits
 *      --rate rows/s for --seconds; commit (client side, after COMMIT) → event consumed, per row.
 *
 * Prints numbers; asserts nothing. See bench/README.md.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { avroTypeOptions } from '../src/events/pg-types.js';
import { createLogger } from '../src/observability/logger.js';
import { createPollerComponent } from '../src/sources/poller/index.js';
import { rowValues, Scratch, sleep } from './lib/scratch.js';
import { fixed, int, percentile, table } from './lib/stats.js';

export const POLLER_USAGE = `usage: npm run bench -- poller [options]

  --rows N          A: rows in the table (default 1000000)
  --page-rows N     the poller's pageRows (default: the config default, 5000)
  --interval-s N    B: poll schedule, every N seconds (default 1)
  --rate N          B: rows committed per second (default 200)
  --seconds N       B: how long to write (default 15)`;

export async function runPollerBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rows: { type: 'string', default: '1000000' },
      'page-rows': { type: 'string' },
      'interval-s': { type: 'string', default: '1' },
      rate: { type: 'string', default: '200' },
      seconds: { type: 'string', default: '15' },
    },
  });
  const rows = Number(values.rows);
  const intervalS = Number(values['interval-s']);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const scratch = new Scratch();
  await scratch.open();
  try {
    const pgc = scratch.connections.postgres;
    const path = join(scratch.directory, 'poller-bench.yaml');
    writeFileSync(
      path,
      [
        'pipeline: { name: poller-bench }',
        `kafka: { brokers: [${scratch.connections.kafka.brokers.join(', ')}], clientId: poller-bench }`,
        `registry: { url: ${scratch.connections.registry.url} }`,
        'sources:',
        `  ${scratch.source}:`,
        '    kind: postgres-poller',
        `    connection: { host: ${pgc.host}, port: ${pgc.port}, database: ${pgc.database}, user: ${pgc.user}, password: "\${env:DSR_CDC_BENCH_PG_PASSWORD}" }`,
        `    tables: [{ table: public.${scratch.table}, cursor: created_at }]`,
        `    schedule: '*/${intervalS} * * * * *'`,
        ...(values['page-rows'] ? [`    pageRows: ${values['page-rows']}`] : []),
        'log: { level: warn }',
        '',
      ].join('\n'),
    );
    const env = scratch.childEnv();
    const logger = createLogger({ level: 'warn', component: 'bench-poller' });
    const component = () => createPollerComponent(loadConfig({ path, env }), scratch.source, logger);

    console.log(`A: loading ${int(rows)} rows (one INSERT, one timestamp) …`);
    await scratch.admin.query(
      `INSERT INTO public.${scratch.table} SELECT ${rowValues('g')} FROM generate_series(1, ${rows}) g`,
    );
    await scratch.admin.query(`CREATE INDEX ON public.${scratch.table} (created_at, id)`);
    await scratch.admin.query(`ANALYZE public.${scratch.table}`);
    const poller = component();
    const started = performance.now();
    const record = await poller.sync();
    const elapsed = (performance.now() - started) / 1000;
    await poller.close();
    if (record.status !== 'succeeded') throw new Error(`sync failed: ${record.error}`);
    console.log(
      table([
        ['rows published', int(record.rows)],
        ['seconds (sync start → all acked, watermark stored)', fixed(elapsed, 2)],
        ['rows/s', int(record.rows / elapsed)],
      ]),
    );

    console.log(`B: ${rate} rows/s for ${seconds} s, poll every ${intervalS} s …`);
    const committedAt = new Map<number, number>();
    const lags: number[] = [];
    const consumer = scratch.kafka.consumer({ groupId: scratch.group() });
    await consumer.connect();
    await consumer.subscribe({ topic: scratch.topic, fromBeginning: false });
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    const registry = new SchemaRegistry(
      { host: scratch.connections.registry.url },
      { [SchemaType.AVRO]: avroTypeOptions() },
    );
    await consumer.run({
      eachMessage: async ({ message }) => {
        const key = (await registry.decode(message.key as Buffer)) as { id: bigint };
        const at = committedAt.get(Number(key.id));
        if (at !== undefined) lags.push(Date.now() - at);
      },
    });
    await joined;
    await sleep(2_000); // the group's first fetch positions at the end before rows are written
    const controller = new AbortController();
    const running = component().run(controller.signal);
    const writer = new pg.Client(scratch.adminConfig());
    await writer.connect();
    const total = rate * seconds;
    const begin = Date.now();
    for (let i = 1; i <= total; i++) {
      const id = rows + i;
      await writer.query(`INSERT INTO public.${scratch.table} VALUES (${rowValues(String(id))})`);
      committedAt.set(id, Date.now());
      const due = begin + (i * 1000) / rate;
      if (due > Date.now()) await sleep(due - Date.now());
    }
    await writer.end();
    const deadline = Date.now() + 30_000;
    while (lags.length < total && Date.now() < deadline) await sleep(100);
    controller.abort();
    await running;
    await consumer.disconnect();
    const sorted = [...lags].sort((a, b) => a - b);
    console.log(
      table([
        ['rows committed / events seen', `${int(total)} / ${int(lags.length)}`],
        ['lag p50 ms', int(percentile(sorted, 50))],
        ['lag p95 ms', int(percentile(sorted, 95))],
        ['lag p99 ms', int(percentile(sorted, 99))],
        ['lag max ms', int(sorted.at(-1) ?? 0)],
      ]),
    );
  } finally {
    const problems = await scratch.close();
    for (const problem of problems) console.error(`cleanup: ${problem}`);
  }
}
