import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/load.js';
import { pgClientConfig, warnIfUnverified } from '../../../../src/config/tls.js';
import { memoryLogger } from '../../../support/logger.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const files: Record<string, string> = { '/certs/ca.pem': PEM };
const readFile = (path: string) => {
  const text = files[path];
  if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
  return text;
};

/** The `crm` Postgres poller of a config whose connection ends with `tls` (YAML flow entries). */
function pollerConnection(tls: string) {
  const yaml = [
    'pipeline: { name: p }',
    'kafka: { brokers: ["b:9093"], clientId: p }',
    'registry: { url: "https://registry.example" }',
    'sources:',
    '  crm:',
    '    kind: postgres-poller',
    `    connection: { host: replica.internal, database: crm, user: u, password: "\${env:PG}"${tls ? `, ${tls}` : ''} }`,
    '    tables: [{ table: public.users, cursor: updated_at }]',
  ].join('\n');
  const config = loadConfig({
    path: 'dsr-cdc.yaml',
    env: { PG: 'pw' },
    readFile: (path) => (path === 'dsr-cdc.yaml' ? yaml : readFile(path)),
  });
  const source = config.sources.crm;
  if (source?.kind !== 'postgres-poller') throw new Error('expected the crm poller');
  return source.connection;
}

/** The client config and the warnings logged while building it. */
function clientConfig(tls: string) {
  const { logger, messages } = memoryLogger('warn');
  const config = pgClientConfig(pollerConnection(tls), 'sources.crm.connection', readFile);
  warnIfUnverified(config, logger);
  return { config, warnings: messages() };
}

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('Postgres poller connection: the replication source’s TLS rules', () => {
  it('verify-full with a private CA (sslrootcert) checks the certificate and logs nothing', () => {
    const { config, warnings } = clientConfig('sslmode: verify-full, sslrootcert: /certs/ca.pem');
    expect(config).toMatchObject({ host: 'replica.internal', port: 5432, database: 'crm', password: 'pw' });
    expect(config.ssl).toEqual({ rejectUnauthorized: true, ca: PEM });
    expect(warnings).toEqual([]);
  });

  it('no sslmode: no TLS', () => {
    expect(clientConfig('').config.ssl).toBeUndefined();
  });

  it('refuses an sslmode that skips certificate checks unless insecure: true, which is logged', () => {
    for (const mode of ['allow', 'prefer', 'require']) {
      expect(thrown(() => pollerConnection(`sslmode: ${mode}`))).toMatchObject({
        code: 'CONFIG_INVALID',
        field: 'sources.crm.connection.sslmode',
        message: expect.stringContaining('use verify-full with sslrootcert, or add insecure: true'),
      });
    }
    const { config, warnings } = clientConfig('sslmode: require, insecure: true');
    expect(config.ssl).toEqual({ rejectUnauthorized: false });
    expect(warnings).toEqual(['the server certificate is not verified (insecure: true); for local use only']);
  });

  it('names the sslrootcert field when the CA file cannot be read', () => {
    expect(thrown(() => clientConfig('sslmode: verify-full, sslrootcert: /certs/none.pem'))).toMatchObject({
      code: 'CONFIG_INVALID',
      field: 'sources.crm.connection.sslrootcert',
    });
  });
});
