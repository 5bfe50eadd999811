/**
 * Topics are data (topics/topics.yaml); this module turns a family's defaults into a concrete
 * topic and creates it before first use. Brokers never auto-create topics.
 */
import { readFileSync } from 'node:fs';
import type { Admin, ITopicConfig, Kafka } from 'kafkajs';
import { parse } from 'yaml';
import { z } from 'zod';
import { DsrCdcError } from '../errors.js';
import { packageFile } from '../package-root.js';
import { connectAdmin } from './client.js';
import { kafkaCall } from './failures.js';

const familySchema = z.object({
  name: z.string().min(1),
  partitions: z.number().int().positive(),
  config: z.record(z.string(), z.string()).default({}),
});

const topicsFileSchema = z.object({ families: z.record(z.string(), familySchema) });

export type TopicFamily = z.infer<typeof familySchema>;
export type TopicFamilies = Readonly<Record<string, TopicFamily>>;

export interface TopicSpec {
  name: string;
  partitions: number;
  config: Record<string, string>;
}

const TOPICS_FILE = packageFile('topics', 'topics.yaml');

/** Parses topics.yaml text (pure, so tests can hand in their own). */
export function parseTopicFamilies(text: string): TopicFamilies {
  const parsed = topicsFileSchema.safeParse(parse(text));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `topics/topics.yaml: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return Object.freeze(parsed.data.families);
}

export function loadTopicFamilies(): TopicFamilies {
  return parseTopicFamilies(readFileSync(TOPICS_FILE, 'utf8'));
}

/**
 * Kafka topic names allow [a-zA-Z0-9._-] up to 249 characters. Any other character of a
 * source, schema or table name becomes '_' so that every table maps to a legal, stable name.
 */
export function topicNamePart(part: string): string {
  return part.replace(/[^a-zA-Z0-9_-]/g, '_');
}

/** The concrete topic of `family` with its `<placeholders>` filled in. */
export function topicSpec(
  families: TopicFamilies,
  family: string,
  parts: Record<string, string> = {},
): TopicSpec {
  const defaults = families[family];
  if (!defaults) throw new DsrCdcError('INTERNAL', `no topic family '${family}' in topics/topics.yaml`);
  const name = defaults.name.replace(/<([a-z]+)>/g, (_, key: string) => {
    const value = parts[key];
    if (value === undefined) throw new DsrCdcError('INTERNAL', `topic family '${family}' needs <${key}>`);
    return topicNamePart(value);
  });
  if (name.length > 249) {
    throw new DsrCdcError('CONFIG_INVALID', `topic name is longer than Kafka's 249 characters: ${name}`);
  }
  return { name, partitions: defaults.partitions, config: { ...defaults.config } };
}

/**
 * Creates the topics that do not exist yet; existing topics are left as they are. Each request
 * goes through the 'kafka' breaker; failures are classified by kafkaError (an outage is a
 * retryable CONNECTION_FAILED, a refused topic config REQUEST_REJECTED).
 */
export async function ensureTopics(admin: Admin, specs: TopicSpec[], replicationFactor = 1): Promise<void> {
  const listTopics = async () => new Set(await kafkaCall('list its topics', () => admin.listTopics()));
  const existing = await listTopics();
  const missing: ITopicConfig[] = specs
    .filter((spec) => !existing.has(spec.name))
    .map((spec) => ({
      topic: spec.name,
      numPartitions: spec.partitions,
      replicationFactor,
      configEntries: Object.entries(spec.config).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return;
  try {
    await kafkaCall(`create topics ${missing.map((t) => t.topic).join(', ')}`, () =>
      admin.createTopics({ topics: missing, waitForLeaders: true }),
    );
  } catch (error) {
    // another process of the same group may have created it in between: that is fine
    const now = await listTopics();
    if (missing.some((t) => !now.has(t.topic))) throw error;
  }
}

/** Whether the topic exists (commands that read a topic name a missing one as a user mistake). */
export async function topicExists(kafka: Kafka, topic: string): Promise<boolean> {
  const admin = await connectAdmin(kafka);
  try {
    return (await kafkaCall('list its topics', () => admin.listTopics())).includes(topic);
  } finally {
    await admin.disconnect();
  }
}
