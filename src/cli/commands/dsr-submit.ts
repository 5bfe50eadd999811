import { Command, Option } from 'commander';
import { loadConfig } from '../../config/load.js';
import { piiDiscoveryTopics } from '../../consumers/pii-discovery/index.js';
import { awaitResult, buildRequest, submitRequest } from '../../dsr/client.js';
import { IDENTIFIER_TYPES, type Identifier, REQUEST_TYPES, type RequestType } from '../../dsr/contracts.js';
import { DsrCdcError } from '../../errors.js';
import { createKafka, createProducer } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import type { CliCommand } from '../main.js';
import { defaultWaitMs, NOT_COMPLETE_EXIT, parseMs, printResult } from './dsr-result.js';

/** One repeatable option per identifier type: --email, --phone, --user-id, … (new per command built). */
const identifierOptions = () =>
  IDENTIFIER_TYPES.map((type) => ({
    type,
    option: new Option(
      `--${type.replaceAll('_', '-')} <value>`,
      `${type.replaceAll('_', ' ')} of the subject`,
    ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
  }));
const IDENTIFIER_FLAGS = identifierOptions().map(({ option }) => option.long as string);

interface SubmitOptions {
  config: string;
  type: RequestType;
  id?: string;
  wait?: true | number;
  [identifiers: string]: unknown;
}

/**
 * `dsr submit --config <file> --type access|erasure --email <v> … [--id <id>] [--wait [ms]]`:
 * validates the request (a bad one is refused with exit 2 naming the option, and nothing is
 * produced), submits it and prints its id. With --wait the id goes to stderr and the result, as
 * JSON, to stdout; the exit status is 0 when it is complete, 3 when not.
 */
export const dsrSubmit: CliCommand = {
  group: 'dsr',
  build: (context) => {
    const identifiers = identifierOptions();
    const command = new Command('submit')
      .description('submit a DSR request (access or erasure) for a subject named by one or more identifiers')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .addOption(
        new Option('--type <type>', 'what the subject asks for').choices(REQUEST_TYPES).makeOptionMandatory(),
      )
      .option('--id <requestId>', 'the request id (default: a random UUID); an id is answered once')
      .option(
        '--wait [ms]',
        `wait for the result and print it (default: dsr.answerWaitMs + 30000); exit ${NOT_COMPLETE_EXIT} unless complete`,
        parseMs,
      );
    for (const { option } of identifiers) command.addOption(option);
    return command.action(async (options: SubmitOptions) => {
      const given = identifiers.flatMap(({ type, option }) =>
        ((options[option.attributeName()] as string[] | undefined) ?? []).map((value) => ({
          identifier: { type, value } satisfies Identifier,
          flag: option.long as string,
        })),
      );
      if (given.length === 0) {
        throw new DsrCdcError(
          'CONFIG_INVALID',
          `no identifier: give at least one of ${IDENTIFIER_FLAGS.join(', ')}`,
          {
            field: IDENTIFIER_FLAGS[0],
          },
        );
      }
      const config = loadConfig({ path: options.config, env: context.env });
      const detect = config.dsr?.defaultRegion ? { defaultRegion: config.dsr.defaultRegion } : {};
      let request: ReturnType<typeof buildRequest>;
      try {
        request = buildRequest(
          {
            type: options.type,
            identifiers: given.map(({ identifier }) => identifier),
            ...(options.id === undefined ? {} : { requestId: options.id }),
          },
          { detect },
        );
      } catch (error) {
        throw asArgumentError(
          error,
          given.map(({ flag }) => flag),
        );
      }

      const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
      const kafka = createKafka(config.kafka, logger);
      const topics = piiDiscoveryTopics();
      const producer = createProducer(kafka);
      try {
        await producer.connect();
        await submitRequest(producer, topics.requests.name, request, { detect });
      } finally {
        await producer.disconnect();
      }
      if (options.wait === undefined) {
        context.stdout(`${request.requestId}\n`);
        return;
      }
      const waitMs = options.wait === true ? defaultWaitMs(config) : options.wait;
      context.stderr(
        `submitted DSR request ${request.requestId}; waiting up to ${waitMs} ms for its result\n`,
      );
      printResult(context, await awaitResult(kafka, topics.results.name, request.requestId, waitMs));
    });
  },
};

/**
 * An invalid request is a mistake in the arguments: its problems (`  <field path>: <expected>`
 * lines, see buildRequest) are restated per option, `identifiers[i]` as the option that gave it.
 */
function asArgumentError(error: unknown, flags: readonly string[]): unknown {
  if (!(error instanceof DsrCdcError) || error.code !== 'EVENT_INVALID') return error;
  const flagOf = (path: string) => {
    const index = /^identifiers\[(\d+)\]/.exec(path)?.[1];
    if (index !== undefined) return flags[Number(index)] ?? path;
    if (path === 'identifiers') return IDENTIFIER_FLAGS.join(', ');
    return path === 'requestId' ? '--id' : path;
  };
  const lines = error.message
    .split('\n')
    .slice(1)
    .map((line) => line.replace(/^ {2}([^:]+):/, (_, path: string) => `  ${flagOf(path)}:`));
  return new DsrCdcError('CONFIG_INVALID', `invalid arguments:\n${lines.join('\n')}`, {
    field: error.field === undefined ? undefined : flagOf(error.field),
  });
}
