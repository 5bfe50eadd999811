import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../../config/load.js';
import { type Config, DEFAULT_ANSWER_WAIT_MS } from '../../config/schema.js';
import { piiDiscoveryTopics } from '../../consumers/pii-discovery/index.js';
import { awaitResult } from '../../dsr/client.js';
import { type DsrResult, requestIdSchema } from '../../dsr/contracts.js';
import { DsrCdcError } from '../../errors.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { CliExit } from '../exit.js';
import type { CliCommand, CliContext } from '../main.js';

/** Exit status of a printed result that is not complete (incomplete or rejected). */
export const NOT_COMPLETE_EXIT = 3;

/** commander argument parser of a duration in whole milliseconds. */
export function parseMs(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError('expected whole milliseconds, e.g. 60000');
  return Number(text);
}

/** How long to wait for an answer unless told: the answerer's own wait, plus time to deliver it. */
export function defaultWaitMs(config: Config): number {
  return (config.dsr?.answerWaitMs ?? DEFAULT_ANSWER_WAIT_MS) + 30_000;
}

/** Prints the result as pretty JSON; a result that is not complete ends the command with status 3. */
export function printResult(context: CliContext, result: DsrResult): void {
  context.stdout(`${JSON.stringify(result, null, 2)}\n`);
  if (result.status !== 'complete') throw new CliExit(NOT_COMPLETE_EXIT);
}

/** `dsr result <requestId> --config <file>`: prints the result of a submitted request as JSON. */
export const dsrResult: CliCommand = {
  group: 'dsr',
  build: (context) =>
    new Command('result')
      .description(
        `print the result of a DSR request as JSON, waiting for it if needed; exits 0 when it is complete, ${NOT_COMPLETE_EXIT} when not`,
      )
      .argument('<requestId>', 'the id `dsr submit` printed')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .option(
        '--timeout <ms>',
        'how long to wait for the result (default: dsr.answerWaitMs + 30000)',
        parseMs,
      )
      .action(async (requestId: string, options: { config: string; timeout?: number }) => {
        const id = requestIdSchema.safeParse(requestId);
        if (!id.success) {
          const problem = id.error.issues[0]?.message ?? 'invalid';
          throw new DsrCdcError('CONFIG_INVALID', `<requestId>: ${problem}`, { field: '<requestId>' });
        }
        const config = loadConfig({ path: options.config, env: context.env });
        const kafka = createKafka(
          config.kafka,
          createLogger({ level: config.log.level, component: 'dsr-cdc' }),
        );
        const timeoutMs = options.timeout ?? defaultWaitMs(config);
        printResult(context, await awaitResult(kafka, piiDiscoveryTopics().results.name, id.data, timeoutMs));
      }),
};
