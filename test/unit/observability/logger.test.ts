import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { child, createLogger } from '../../../src/observability/logger.js';
import { memoryStream } from '../../support/logger.js';

function memory(): { stream: Writable; lines: string[]; records: () => Record<string, unknown>[] } {
  const { stream, lines } = memoryStream();
  return { stream, lines, records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger', () => {
  it('redacts secrets, identifiers and row values at any depth up to four, keeps other fields', () => {
    const out = memory();
    const logger = createLogger({ level: 'info', component: 'test', destination: out.stream });
    logger.info(
      {
        password: 'pw-top',
        table: 'public.users',
        request: { headers: { authorization: 'Bearer tok-1' }, email: 'a@example.com' },
        event: {
          before: { name: 'name-before' },
          after: { name: 'name-after' },
          source: { lsn: '0/16B3748' },
        },
        query: { text: 'select $1', binds: ['b@example.com'], values: ['v'] },
        a: { b: { c: { token: 'tok-deep', pepper: 'pepper-value', phone: '+15550100' } } },
      },
      'changed',
    );
    const line = out.lines[0] ?? '';
    const hidden = [
      'pw-top',
      'tok-1',
      'a@example.com',
      'name-before',
      'name-after',
      'b@example.com',
      'tok-deep',
    ];
    for (const value of [...hidden, 'pepper-value', '+15550100']) {
      expect(line).not.toContain(value);
    }
    const [record] = out.records();
    expect(record).toMatchObject({
      password: '[redacted]',
      table: 'public.users',
      request: { headers: { authorization: '[redacted]' }, email: '[redacted]' },
      event: { before: '[redacted]', after: '[redacted]', source: { lsn: '0/16B3748' } },
      query: { text: 'select $1', binds: '[redacted]', values: '[redacted]' },
      msg: 'changed',
    });
  });

  it('redacts credentials as drivers name them, identifiers, message keys and values, and pg error details', () => {
    const out = memory();
    const logger = createLogger({ level: 'info', component: 'test', destination: out.stream });
    const censored = {
      auth: { clientSecret: 'client-secret-1' },
      snowflake: { privateKeyPass: 'key-pass-1', privateKeyPassphrase: 'key-pass-2' },
      ssl: { passphrase: 'tls-pass-1' },
      request: { identifiers: [{ type: 'email', value: 'c@example.com' }] },
      message: { key: 'key-1', value: 'value-1' },
      err: { message: 'duplicate key', detail: 'Key (id)=(42) already exists.' },
    };
    logger.info({ ...censored, topic: 'cdc.app.public.users' }, 'checked');
    const line = out.lines[0] ?? '';
    for (const hidden of [
      'client-secret-1',
      'key-pass-1',
      'key-pass-2',
      'tls-pass-1',
      'c@example.com',
      'key-1',
      'value-1',
      '(42)',
    ]) {
      expect(line).not.toContain(hidden);
    }
    expect(out.records()[0]).toMatchObject({
      auth: { clientSecret: '[redacted]' },
      snowflake: { privateKeyPass: '[redacted]', privateKeyPassphrase: '[redacted]' },
      ssl: { passphrase: '[redacted]' },
      request: { identifiers: '[redacted]' },
      message: { key: '[redacted]', value: '[redacted]' },
      err: { message: 'duplicate key', detail: '[redacted]' },
      topic: 'cdc.app.public.users',
    });
  });

  it('writes the component once, the level as a label and an ISO timestamp', () => {
    const out = memory();
    createLogger({ level: 'info', component: 'source', destination: out.stream }).info('started');
    const [record] = out.records();
    expect(record).toMatchObject({ component: 'source', level: 'info', msg: 'started' });
    expect(new Date(String(record?.time)).toISOString()).toBe(record?.time);
  });

  it('filters below the configured level', () => {
    const out = memory();
    const logger = createLogger({ level: 'warn', destination: out.stream });
    logger.info('dropped');
    logger.warn('kept');
    expect(out.records().map((r) => r.msg)).toEqual(['kept']);
  });
});

describe('child', () => {
  it('replaces the component without duplicating the key and keeps parent bindings', () => {
    const out = memory();
    const root = createLogger({ level: 'info', component: 'root', destination: out.stream });
    const source = child(root.child({ source: 'app' }), 'snapshot');
    source.info({ password: 'pw-child' }, 'copying');
    root.info('still root');
    const [childLine, rootLine] = out.lines;
    expect(childLine?.match(/"component"/g)).toHaveLength(1);
    expect(JSON.parse(childLine ?? '{}')).toMatchObject({
      component: 'snapshot',
      source: 'app',
      password: '[redacted]',
    });
    expect(JSON.parse(rootLine ?? '{}')).toMatchObject({ component: 'root' });
  });
});
