/**
 * Entry point of the benchmarks: `npm run bench -- <name> [options]`.
 *   source  end-to-end throughput, latency and memory of the Postgres source (bench/source.ts)
 *   decode  pgoutput decoder micro-benchmark (bench/pgoutput-decode.ts) [messages]
 *   replay  `dsr-cdc replay` of N events to an NDJSON file: events/s and memory (bench/replay.ts)
 *   poller  the Postgres poller: rows/s from a 1M-row table, commit → event lag (bench/poller.ts)
 *   warehouse  type coercion and the Snowflake loader: rows/s, emulator time, memory (bench/warehouse.ts)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { POLLER_USAGE, runPollerBench } from './poller.js';
import { REPLAY_USAGE, runReplayBench } from './replay.js';
import { runSourceBench, SOURCE_USAGE } from './source.js';
import { runWarehouseBench, WAREHOUSE_USAGE } from './warehouse.js';

const USAGE = `usage: npm run bench -- <benchmark> [options]

benchmarks:
  source   rows committed in Postgres → events in Kafka: throughput, latency, source memory
  decode   pgoutput decoder micro-benchmark; optional argument: number of messages
  replay   dsr-cdc replay of N events to an NDJSON file: events/s, peak RSS, RSS as it goes
  poller   Postgres poller: rows/s from a 1M-row table into Kafka, commit → event lag at a fixed interval
  warehouse  type coercion and the Snowflake loader into the emulator: rows/s, time in the emulator, RSS

${SOURCE_USAGE}

${REPLAY_USAGE}

${POLLER_USAGE}

${WAREHOUSE_USAGE}`;

const [name, ...rest] = process.argv.slice(2);
if (name === 'source') {
  try {
    await runSourceBench(rest);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 2;
  }
} else if (name === 'replay') {
  try {
    await runReplayBench(rest);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 2;
  }
} else if (name === 'poller') {
  try {
    await runPollerBench(rest);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 2;
  }
} else if (name === 'warehouse') {
  try {
    await runWarehouseBench(rest);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exitCode = 2;
  }
} else if (name === 'decode') {
  const script = fileURLToPath(new URL('./pgoutput-decode.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', script, ...rest], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
} else {
  console.log(USAGE);
  if (name !== undefined && name !== '--help' && name !== '-h') process.exitCode = 2;
}
