import type { Admin } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import {
  ensureTopics,
  loadTopicFamilies,
  parseTopicFamilies,
  topicNamePart,
  topicSpec,
} from '../../../src/kafka/topics.js';

describe('topic families', () => {
  const families = loadTopicFamilies();

  it('declares every topic of the design with an explicit cleanup policy', () => {
    expect(Object.keys(families).sort()).toEqual(
      [
        'cdc',
        'dlq',
        'dsr-audit',
        'dsr-discovery-results',
        'dsr-requests',
        'dsr-subject-index',
        'source-state',
        'warehouse',
      ].sort(),
    );
    for (const family of Object.values(families)) {
      expect(['delete', 'compact']).toContain(family.config['cleanup.policy']);
    }
    expect(families['dsr-subject-index']?.config['cleanup.policy']).toBe('compact');
    expect(families['source-state']?.config['cleanup.policy']).toBe('compact');
  });

  it('fills placeholders and makes each part a legal topic name', () => {
    const spec = topicSpec(families, 'cdc', { source: 'crm', schema: 'public', table: 'Kunden Übersicht' });
    expect(spec.name).toBe('cdc.crm.public.Kunden__bersicht');
    expect(spec.config['retention.ms']).toBe('-1');
    expect(topicNamePart('a.b/c')).toBe('a_b_c');
  });

  it('refuses a missing placeholder, an unknown family and an over-long name', () => {
    expect(() => topicSpec(families, 'cdc', { source: 'crm' })).toThrow(/needs <schema>/);
    expect(() => topicSpec(families, 'nope')).toThrow(/no topic family 'nope'/);
    expect(() => topicSpec(families, 'cdc', { source: 'x'.repeat(250), schema: 's', table: 't' })).toThrow(
      /249/,
    );
  });

  it('names the field of a malformed topics file', () => {
    expect(() => parseTopicFamilies('families:\n  cdc:\n    name: x\n    partitions: zero\n')).toThrow(
      /families\.cdc\.partitions/,
    );
  });
});

describe('ensureTopics', () => {
  const spec = topicSpec(loadTopicFamilies(), 'source-state');
  const kafkaJs = (name: string, fields: Record<string, unknown>) =>
    Object.assign(new Error(`${name} happened`), { name, ...fields });
  /** An admin whose listing answers `topics` in turn (or throws), and whose create does `create`. */
  const fakeAdmin = (listings: (string[] | Error)[], create: () => Promise<boolean>) =>
    ({
      listTopics: async () => {
        const next = listings.shift() ?? [];
        if (next instanceof Error) throw next;
        return next;
      },
      createTopics: create,
    }) as unknown as Admin;

  it('makes an unreachable Kafka a retryable CONNECTION_FAILED', async () => {
    const admin = fakeAdmin([kafkaJs('KafkaJSConnectionError', { retriable: true })], async () => true);
    await expect(ensureTopics(admin, [spec])).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      retryable: true,
      message: expect.stringContaining('Kafka did not list its topics'),
    });
  });

  it("makes a broker's refusal REQUEST_REJECTED, unless another process created the topic meanwhile", async () => {
    const refuse = async () => {
      throw kafkaJs('KafkaJSProtocolError', { type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false });
    };
    await expect(ensureTopics(fakeAdmin([[], []], refuse), [spec])).rejects.toMatchObject({
      code: 'REQUEST_REJECTED',
      retryable: false,
      message: expect.stringContaining(
        `Kafka refused to create topics ${spec.name} (TOPIC_AUTHORIZATION_FAILED)`,
      ),
    });
    await expect(ensureTopics(fakeAdmin([[], [spec.name]], refuse), [spec])).resolves.toBeUndefined();
  });
});
