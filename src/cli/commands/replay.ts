import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Command, InvalidArgumentError } from 'commander';
import type { Kafka } from 'kafkajs';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { piiDiscoverySettings, piiDiscoveryTopics } from '../../consumers/pii-discovery/index.js';
import { lookup, lookupTokens } from '../../consumers/pii-discovery/lookup.js';
import { parseIndexRecord, SubjectIndex } from '../../consumers/pii-discovery/subject-index.js';
import type { DsrLocation } from '../../dsr/contracts.js';
import { DsrCdcError } from '../../errors.js';
import { createRegistry } from '../../events/registry.js';
import { createKafka } from '../../kafka/client.js';
import { readToEnd } from '../../kafka/read-to-end.js';
import { topicExists } from '../../kafka/topics.js';
import { createLogger } from '../../observability/logger.js';
import { readableAvroTypeOptions } from '../../replay/avro-text.js';
import { parseBound } from '../../replay/bounds.js';
import { barProgress, lineProgress } from '../../replay/progress.js';
import { REPLAY_FORMATS, type ReplayFormat } from '../../replay/render.js';
import { replay } from '../../replay/replay.js';
import { checkSubjectTopic, LocationFilter, parseSubject, parseToken } from '../../replay/subject.js';
import type { CliCommand } from '../main.js';

interface ReplayCliOptions {
  config: string;
  topic: string;
  from: string;
  to: string;
  subject?: string;
  token?: string;
  format: ReplayFormat;
  out?: string;
  skipCorrupt?: boolean;
}

function parseFormat(text: string): ReplayFormat {
  if (!REPLAY_FORMATS.includes(text as ReplayFormat)) {
    throw new InvalidArgumentError(`expected one of ${REPLAY_FORMATS.join(', ')}`);
  }
  return text as ReplayFormat;
}

/** `replay --topic … --from … [--to …]`: a decoded range of topics as NDJSON or CSV. */
export const replayCommand: CliCommand = {
  build: (context) =>
    new Command('replay')
      .description(
        'write the events of a topic range, decoded through the schema registry, as NDJSON or CSV (per-partition order)',
      )
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .requiredOption('--topic <name>', 'a topic, or a pattern with * (cdc.app.public.*)')
      .requiredOption(
        '--from <bound>',
        'inclusive start: ISO time with zone, offset, per-partition offsets (0:42,1:17) or earliest',
      )
      .option(
        '--to <bound>',
        'inclusive end: ISO time with zone, offset, per-partition offsets or now',
        'now',
      )
      .option(
        '--subject <type:value>',
        "only this data subject's rows, e.g. email:ada@example.com (needs dsr.pepper)",
      )
      .option('--token <token>', 'only the rows of this subject token (as in dsr.subject-index)')
      .option('--format <format>', 'ndjson or csv', parseFormat, 'ndjson' as ReplayFormat)
      .option('--out <file>', 'write to this file (written whole or not at all) instead of stdout')
      .option('--skip-corrupt', 'report corrupt events with their offset and go on, instead of failing')
      .action(async (options: ReplayCliOptions) => {
        const from = parseBound(options.from, '--from');
        const to = parseBound(options.to, '--to');
        if (options.subject !== undefined && options.token !== undefined) {
          throw new DsrCdcError('CONFIG_INVALID', '--subject and --token: give one of them, not both', {
            field: '--subject',
          });
        }
        if (options.subject !== undefined) checkSubjectTopic(options.topic, '--subject');
        if (options.token !== undefined) checkSubjectTopic(options.topic, '--token');
        const config = loadConfig({ path: options.config, env: context.env });
        const kafka = createKafka(
          config.kafka,
          createLogger({ level: config.log.level, component: 'replay' }),
        );
        const filter =
          options.subject === undefined && options.token === undefined
            ? undefined
            : new LocationFilter(await subjectLocations(kafka, config, options));
        const output = options.out === undefined ? undefined : fileOutput(options.out);
        try {
          const summary = await replay(
            {
              kafka,
              registry: createRegistry(config.registry, readableAvroTypeOptions()),
              ...(filter ? { keyRegistry: createRegistry(config.registry) } : {}),
              write: output?.write ?? context.stdout,
              progress: context.terminal ? barProgress(context.terminal) : lineProgress(context.stderr),
              warn: (line) => context.stderr(`${line}\n`),
            },
            {
              topic: options.topic,
              from,
              to,
              format: options.format,
              skipCorrupt: options.skipCorrupt === true,
              ...(filter ? { filter } : {}),
            },
          );
          await output?.commit();
          context.stderr(
            `replayed ${summary.read} events of ${summary.topics.length} topic(s): ${summary.written} written` +
              `${summary.skipped > 0 ? `, ${summary.skipped} corrupt skipped` : ''}` +
              `${options.out === undefined ? '' : ` to ${options.out}`}\n`,
          );
        } catch (error) {
          await output?.abandon();
          throw error;
        }
      }),
};

/** The subject's locations, found in the subject index as a DSR answer finds them. */
async function subjectLocations(
  kafka: Kafka,
  config: Config,
  options: ReplayCliOptions,
): Promise<DsrLocation[]> {
  const field = options.subject === undefined ? '--token' : '--subject';
  const identifier = options.subject === undefined ? undefined : parseSubject(options.subject);
  const token = options.token === undefined ? undefined : parseToken(options.token);
  const { answerer } = piiDiscoverySettings(config);
  const topic = piiDiscoveryTopics().index.name;
  if (!(await topicExists(kafka, topic))) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${field}: the subject index ${topic} does not exist; run \`dsr-cdc consumer run pii-discovery\` first`,
      { field },
    );
  }
  const index = new SubjectIndex();
  await readToEnd(kafka, topic, (message, partition) => {
    const key = message.key?.toString();
    if (!key) return;
    try {
      index.apply(parseIndexRecord(key, message.value?.toString() ?? null));
    } catch (error) {
      const reason = (error as Error).message;
      throw new DsrCdcError(
        'EVENT_INVALID',
        `${field}: the subject index is corrupt at ${topic} partition ${partition} offset ${message.offset}: ` +
          `${reason}; repair or rebuild ${topic} (rerun pii-discovery into a fresh one) before replaying by subject`,
        { field, cause: error },
      );
    }
  });
  let locations: DsrLocation[];
  if (identifier) {
    const found = lookup(index, [identifier], answerer.pepper, answerer.depth, answerer.detect);
    if (found.unusable.length > 0) {
      throw new DsrCdcError('CONFIG_INVALID', `--subject: the value is not a valid ${identifier.type}`, {
        field,
      });
    }
    locations = found.locations;
  } else {
    locations = lookupTokens(index, [{ token: token as string }], answerer.depth);
  }
  if (locations.length === 0) {
    const what = identifier ? `this ${identifier.type}` : 'this token';
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `${field}: the subject index (${topic}) holds no location of ${what}; check the value, and that ` +
        'pii-discovery has read the sources',
      { field },
    );
  }
  return locations;
}

/** A file written under a temporary name and renamed once complete, so a failed replay leaves none. */
function fileOutput(path: string) {
  const partial = `${path}.partial`;
  const stream = createWriteStream(partial);
  const failed = new Promise<never>((_, reject) =>
    stream.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new DsrCdcError('CONFIG_INVALID', `--out: cannot write ${partial} (${error.code ?? error.message})`, {
          field: '--out',
          cause: error,
        }),
      ),
    ),
  );
  failed.catch(() => undefined);
  return {
    write: async (text: string) => {
      if (!stream.write(text)) await Promise.race([once(stream, 'drain'), failed]);
    },
    commit: async () => {
      stream.end();
      await Promise.race([once(stream, 'finish'), failed]);
      await rename(partial, path);
    },
    abandon: async () => {
      stream.destroy();
      await rm(partial, { force: true });
    },
  };
}
