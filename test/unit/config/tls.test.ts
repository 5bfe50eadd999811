import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/schema.js';
import { kafkaSsl, pgSsl } from '../../../src/config/tls.js';
import { createKafka } from '../../../src/kafka/client.js';
import { memoryLogger } from '../../support/logger.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

function load(kafkaSslYaml: string, sslYaml: string, overlays: Record<string, string> = {}) {
  const files: Record<string, string> = {
    'dsr-cdc.yaml': [
      'pipeline: { name: p }',
      `kafka: { brokers: ["b:9093"], clientId: p${kafkaSslYaml ? `, ssl: ${kafkaSslYaml}` : ''} }`,
      'registry: { url: "https://registry.example" }',
      'sources:',
      '  app:',
      '    kind: postgres',
      `    connection: { host: h, port: 5432, database: d, user: u, password: "\${env:PG}"${sslYaml ? `, ${sslYaml}` : ''} }`,
      '    publication: pub',
      '    slot: slot',
      '    tables: { include: [public.t] }',
    ].join('\n'),
    '/keys/client.key': 'PRIVATE KEY PEM',
  };
  return loadConfig({
    path: 'dsr-cdc.yaml',
    env: { PG: 'pw', ...overlays },
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return text;
    },
  });
}

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as { code: string; field: string; message: string };
  }
  throw new Error('expected a refusal');
};

describe('TLS settings that turn certificate checks off are refused unless insecure: true', () => {
  it('kafka.ssl.rejectUnauthorized: false', () => {
    const error = refusal(() => load('{ rejectUnauthorized: false }', ''));
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: 'kafka.ssl.rejectUnauthorized' });
    expect(error.message).toContain('add insecure: true (local use only)');
    expect(load('{ rejectUnauthorized: false, insecure: true }', '').kafka.ssl).toMatchObject({
      insecure: true,
    });
    expect(load('true', '').kafka.ssl).toBe(true);
  });

  it('Postgres sslmode allow, prefer and require', () => {
    for (const mode of ['allow', 'prefer', 'require']) {
      const error = refusal(() => load('', `sslmode: ${mode}`));
      expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: 'sources.app.connection.sslmode' });
      expect(error.message).toContain('use verify-full with sslrootcert, or add insecure: true');
      expect(load('', `sslmode: ${mode}, insecure: true`).sources.app).toBeDefined();
    }
    for (const mode of ['verify-full', 'verify-ca', 'disable'])
      expect(load('', `sslmode: ${mode}`)).toBeDefined();
  });

  it('a client certificate needs its key, which is a secret reference', () => {
    expect(refusal(() => load('{ cert: /certs/client.pem }', ''))).toMatchObject({ field: 'kafka.ssl.cert' });
    expect(refusal(() => load('{ cert: /certs/client.pem, key: "PLAINTEXT" }', ''))).toMatchObject({
      field: 'kafka.ssl.key',
    });
    const config = load(
      '{ ca: /certs/ca.pem, cert: /certs/client.pem, key: "${file:/keys/client.key}" }',
      '',
    );
    expect(String(JSON.stringify(config.kafka.ssl))).not.toContain('PRIVATE KEY PEM');
  });
});

describe('TLS settings by env overlay', () => {
  it('sets kafka.ssl as a flag or a field inside it', () => {
    expect(load('', '', { DSR_CDC__KAFKA__SSL: 'true' }).kafka.ssl).toBe(true);
    expect(load('', '', { DSR_CDC__KAFKA__SSL__CA: '/certs/ca.pem' }).kafka.ssl).toEqual({
      ca: '/certs/ca.pem',
      rejectUnauthorized: true,
      insecure: false,
    });
    expect(refusal(() => load('', '', { DSR_CDC__KAFKA__SSL__REJECT_UNAUTHORIZED: 'false' }))).toMatchObject({
      field: 'kafka.ssl.rejectUnauthorized',
    });
  });
});

describe('client TLS options', () => {
  const files = (path: string) => {
    if (path === '/certs/ca.pem') return PEM;
    throw Object.assign(new Error('missing'), { code: 'ENOENT' });
  };

  it('node-pg ssl per sslmode, with the CA file read', () => {
    expect(pgSsl({}, 'c', files)).toBeUndefined();
    expect(pgSsl({ sslmode: 'disable' }, 'c', files)).toBeUndefined();
    expect(pgSsl({ sslmode: 'verify-full', sslrootcert: '/certs/ca.pem' }, 'c', files)).toEqual({
      rejectUnauthorized: true,
      ca: PEM,
    });
    const verifyCa = pgSsl({ sslmode: 'verify-ca' }, 'c', files);
    expect(verifyCa?.rejectUnauthorized).toBe(true);
    expect(verifyCa?.checkServerIdentity?.('host', {} as never)).toBeUndefined();
    expect(pgSsl({ sslmode: 'require' }, 'c', files)).toEqual({ rejectUnauthorized: false });
    expect(() =>
      pgSsl({ sslmode: 'verify-full', sslrootcert: '/nope.pem' }, 'sources.app.connection', files),
    ).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        field: 'sources.app.connection.sslrootcert',
        message: 'sources.app.connection.sslrootcert: cannot read /nope.pem (ENOENT)',
      }),
    );
  });

  it('kafkajs ssl with CA, client certificate and key', () => {
    expect(kafkaSsl(undefined)).toBe(false);
    expect(kafkaSsl(true)).toBe(true);
    expect(
      kafkaSsl(
        {
          ca: '/certs/ca.pem',
          cert: '/certs/ca.pem',
          key: new Secret('${file:/k}', 'KEY'),
          rejectUnauthorized: true,
        },
        files,
      ),
    ).toEqual({ rejectUnauthorized: true, ca: [PEM], cert: PEM, key: 'KEY' });
  });

  it('logs a warning when certificate checks are off', () => {
    const { logger, lines } = memoryLogger('warn');
    createKafka(
      { brokers: ['b:1'], clientId: 'c', ssl: { rejectUnauthorized: false, insecure: true } },
      logger,
    );
    expect(lines.join('')).toContain(
      'kafka.ssl: certificate checks are off (insecure: true); for local use only',
    );
    lines.length = 0;
    createKafka({ brokers: ['b:1'], clientId: 'c', ssl: true }, logger);
    expect(lines).toEqual([]);
  });
});
