/**
 * Wiring of the pii-discovery stage from the validated config: topics, clients, and the three
 * parts of one process (IndexView, Discovery, Answerer). The only place that turns config into
 * their options. Any number of processes may run with the same config: Kafka splits the work.
 */
import { readFileSync } from 'node:fs';
import { type SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Kafka } from 'kafkajs';
import { parse } from 'yaml';
import type { Config } from '../../config/schema.js';
import { dsrJsonSchemas } from '../../dsr/contracts.js';
import { DsrCdcError } from '../../errors.js';
import { createRegistry, foreignKeysByContract } from '../../events/registry.js';
import { createKafka, createProducer } from '../../kafka/client.js';
import { dlqTopic } from '../../kafka/dlq.js';
import { ensureTopics, loadTopicFamilies, type TopicFamilies, topicSpec } from '../../kafka/topics.js';
import { child, type Logger } from '../../observability/logger.js';
import { runStage, type StagePart, startError } from '../stage.js';
import { Answerer, type AnswererOptions } from './answerer.js';
import { type Classification, parseClassification } from './classification.js';
import type { DiscoveryContext } from './discover.js';
import { Discovery, type DiscoveryOptions } from './discovery.js';
import { IndexView } from './index-view.js';

/** The topics of the stage, from topics/topics.yaml. */
export function piiDiscoveryTopics(families: TopicFamilies = loadTopicFamilies()) {
  return {
    requests: topicSpec(families, 'dsr-requests'),
    index: topicSpec(families, 'dsr-subject-index'),
    results: topicSpec(families, 'dsr-discovery-results'),
    audit: topicSpec(families, 'dsr-audit'),
    dlq: dlqTopic(families, 'pii-discovery'),
  };
}

export interface PiiDiscoverySettings {
  context: DiscoveryContext;
  discovery: DiscoveryOptions;
  answerer: AnswererOptions;
}

/** Throws CONFIG_INVALID naming the field when the config has no `dsr` section or a bad classification. */
export function piiDiscoverySettings(
  config: Config,
  topics = piiDiscoveryTopics(),
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): PiiDiscoverySettings {
  const { dsr } = config;
  if (!dsr) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      'pii-discovery needs the `dsr` section of the config (at least dsr.pepper); see dsr-cdc.example.yaml',
      { field: 'dsr' },
    );
  }
  // the config holds the pepper as text; its UTF-8 bytes are the key (as the config schema counts them)
  const pepper = Buffer.from(dsr.pepper.reveal(), 'utf8');
  const detect = dsr.defaultRegion ? { defaultRegion: dsr.defaultRegion } : {};
  const discoveryGroupId = `${config.pipeline.name}.pii-discovery`;
  return {
    context: { pepper, classification: loadClassification(dsr.classification, readFile), detect },
    discovery: {
      groupId: discoveryGroupId,
      indexTopic: topics.index.name,
      dlqTopic: topics.dlq.name,
    },
    answerer: {
      groupId: `${config.pipeline.name}.dsr-answer`,
      discoveryGroupId,
      requestsTopic: topics.requests.name,
      resultsTopic: topics.results.name,
      auditTopic: topics.audit.name,
      dlqTopic: topics.dlq.name,
      pepper,
      waitMs: dsr.answerWaitMs,
      depth: dsr.linkDepth,
      detect,
    },
  };
}

function loadClassification(path: string | undefined, readFile: (path: string) => string): Classification {
  if (path === undefined) return parseClassification(undefined);
  let document: unknown;
  try {
    document = parse(readFile(path));
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new DsrCdcError('CONFIG_INVALID', `dsr.classification: cannot read ${path} (${reason})`, {
      field: 'dsr.classification',
      cause: error,
    });
  }
  try {
    return parseClassification(document);
  } catch (error) {
    throw new DsrCdcError('CONFIG_INVALID', `dsr.classification (${path}): ${(error as Error).message}`, {
      field: 'dsr.classification',
      cause: error,
    });
  }
}

/**
 * Runs the stage until `signal` aborts: creates its topics, then starts the index view, the
 * discovery group and the answer group, and stops them in reverse order. Resolves once stopped.
 */
export async function runPiiDiscovery(config: Config, logger: Logger, signal: AbortSignal): Promise<void> {
  const topics = piiDiscoveryTopics();
  const settings = piiDiscoverySettings(config, topics);
  const log = child(logger, 'pii-discovery');
  const kafka = createKafka(config.kafka, log);
  await createTopics(kafka, Object.values(topics));

  const registry = createRegistry(config.registry);
  await registerDsrContracts(registry, topics);

  const producer = createProducer(kafka);
  const view = new IndexView(kafka, topics.index.name);
  view.onCorruptRecord = (where) =>
    log.warn(where, 'skipped a record of the subject index that is not an index record');
  const discovery = new Discovery(
    kafka,
    registry,
    producer,
    view,
    settings.context,
    settings.discovery,
    child(log, 'pii-discovery.discovery'),
    foreignKeysByContract(config.registry),
  );
  const answerer = new Answerer(kafka, producer, view, settings.answerer, child(log, 'pii-discovery.answer'));

  // a consumer that kafkajs gave up on ends the run (to be restarted), never idles silently
  await runStage(
    'pii-discovery',
    [
      { name: 'producer', start: () => producer.connect(), stop: () => producer.disconnect() },
      namedPart('index view', view),
      namedPart('discovery', discovery),
      namedPart('answerer', answerer),
    ],
    log,
    signal,
  );
}

/** A part of the stage under its name; its fatal errors reach the stage through `onFatal`. */
function namedPart(
  name: string,
  part: { start(): Promise<void>; stop(): Promise<void>; onFatal: (error: Error) => void },
): StagePart {
  const named: StagePart = {
    name,
    start: () => part.start(),
    stop: () => part.stop(),
  };
  part.onFatal = (error) => named.onFatal?.(error);
  return named;
}

/**
 * The DSR topics' contracts (JSON Schema, from the same zod schemas that validate every message at
 * both ends) are registered under `<topic>-value`, so the registry governs how they may evolve.
 */
async function registerDsrContracts(registry: SchemaRegistry, topics: ReturnType<typeof piiDiscoveryTopics>) {
  const contracts = [
    [topics.requests.name, dsrJsonSchemas['dsr-requests']],
    [topics.results.name, dsrJsonSchemas['dsr-discovery-results']],
    [topics.audit.name, dsrJsonSchemas['dsr-audit']],
  ] as const;
  for (const [topic, schema] of contracts) {
    await registry
      .register({ type: SchemaType.JSON, schema: JSON.stringify(schema) }, { subject: `${topic}-value` })
      .catch((error: unknown) => {
        throw startError('pii-discovery', `registering the contract of ${topic}`, error);
      });
  }
}

async function createTopics(kafka: Kafka, specs: Parameters<typeof ensureTopics>[1]): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await ensureTopics(admin, specs);
  } catch (error) {
    throw startError('pii-discovery', 'topic creation', error);
  } finally {
    await admin.disconnect();
  }
}
