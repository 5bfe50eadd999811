import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig, maskSecrets } from '../../../src/config/load.js';
import { type Config, configJsonSchema, Secret } from '../../../src/config/schema.js';
import { DsrCdcError } from '../../../src/errors.js';

const PG_PASSWORD = 'pg-pass-value';
const REGISTRY_PASSWORD = 'registry-pass-value';

const VALID = `
pipeline: { name: test-pipeline }
kafka:
  brokers: ['k1:9092']
  clientId: test
registry:
  url: http://registry:8081
  auth:
    username: reg
    password: \${file:/run/secrets/registry}
sources:
  app:
    kind: postgres
    connection:
      host: db
      port: 5432
      database: app
      user: cdc
      password: \${env:PG_PASSWORD}
    publication: dsr_cdc_app
    slot: dsr_cdc_app
    tables:
      include: [public.*]
`;

/** The valid document with changes applied: dotted path → new value, undefined removes the key. */
function variant(changes: Record<string, unknown>): string {
  const doc = parse(VALID) as Record<string, unknown>;
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split('.');
    const last = keys.pop() as string;
    const parent = keys.reduce((node, key) => node[key] as Record<string, unknown>, doc);
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  }
  return stringify(doc);
}

function load(
  text: string,
  env: Record<string, string> = { PG_PASSWORD },
  files: Record<string, string> = {},
) {
  const all: Record<string, string> = {
    '/etc/dsr-cdc.yaml': text,
    '/run/secrets/registry': `${REGISTRY_PASSWORD}\n`,
    ...files,
  };
  return loadConfig({
    path: '/etc/dsr-cdc.yaml',
    env,
    readFile: (path) => {
      const content = all[path];
      if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return content;
    },
  });
}

function configError(fn: () => unknown): DsrCdcError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DsrCdcError);
    expect((error as DsrCdcError).code).toBe('CONFIG_INVALID');
    return error as DsrCdcError;
  }
  throw new Error('expected a CONFIG_INVALID error');
}

/** The replication source `name` (sources is a union of source kinds). */
function postgresSource(config: Config, name: string) {
  const source = config.sources[name];
  if (source?.kind !== 'postgres') throw new Error(`expected the postgres source ${name}`);
  return source;
}

describe('loadConfig', () => {
  it('loads a valid file, resolves secrets and fills defaults', () => {
    const config = load(VALID);
    expect(config.pipeline.name).toBe('test-pipeline');
    expect(config.kafka.brokers).toEqual(['k1:9092']);
    const source = postgresSource(config, 'app');
    expect(source?.connection.port).toBe(5432);
    expect(source?.connection.password).toBeInstanceOf(Secret);
    expect(source?.connection.password.reveal()).toBe(PG_PASSWORD);
    // one trailing newline of a secret file is removed
    expect(config.registry.auth?.password.reveal()).toBe(REGISTRY_PASSWORD);
    expect(source?.tables.exclude).toEqual([]);
    expect(config.log.level).toBe('info');
  });

  it('loads the shipped example when its env vars are set', () => {
    const config = loadConfig({ path: 'dsr-cdc.example.yaml', env: { DSR_CDC_PG_PASSWORD: 'x' } });
    expect(postgresSource(config, 'app').connection.password.reveal()).toBe('x');
  });

  it('names a missing field and sets field to its path', () => {
    const error = configError(() => load(variant({ 'kafka.clientId': undefined })));
    expect(error.message).toContain('kafka.clientId: required, expected a string');
    expect(error.field).toBe('kafka.clientId');
  });

  it('names a wrong type without echoing the value', () => {
    const error = configError(() => load(variant({ 'sources.app.connection.port': 'five' })));
    expect(error.message).toContain('sources.app.connection.port: expected a number, got a string');
    expect(error.message).not.toContain('five');
  });

  it('lists every problem, including unknown fields, enums and formats', () => {
    const error = configError(() =>
      load(
        variant({
          'kafka.brokerz': ['x'],
          'kafka.brokers': ['no-port'],
          log: { level: 'loud' },
          'registry.url': 'not a url',
        }),
      ),
    );
    expect(error.message).toContain('kafka.brokerz: unknown field');
    expect(error.message).toContain('kafka.brokers[0]: expected host:port');
    expect(error.message).toContain('log.level: expected one of "fatal", "error"');
    expect(error.message).toContain('registry.url: expected a URL');
  });

  it('refuses a plaintext secret, naming the field and the fix but not the value', () => {
    const error = configError(() =>
      load(variant({ 'sources.app.connection.password': 'hunter2-plaintext' })),
    );
    expect(error.message).toContain(
      'sources.app.connection.password: plaintext secrets are refused; use ${env:NAME} or ${file:/path}',
    );
    expect(error.message).not.toContain('hunter2-plaintext');
    expect(error.field).toBe('sources.app.connection.password');
  });

  it('names the field and the variable of a missing env var', () => {
    const error = configError(() => load(VALID, {}));
    expect(error.message).toContain(
      'sources.app.connection.password: environment variable PG_PASSWORD is not set',
    );
  });

  it('refuses an empty env var', () => {
    const error = configError(() => load(VALID, { PG_PASSWORD: '' }));
    expect(error.message).toContain('environment variable PG_PASSWORD is empty');
  });

  it('names the field and the path of an unreadable secret file', () => {
    const text = variant({ 'registry.auth.password': '${file:/run/secrets/missing}' });
    const error = configError(() => load(text));
    expect(error.message).toContain(
      'registry.auth.password: cannot read secret file /run/secrets/missing (ENOENT)',
    );
  });

  it('refuses a relative secret file path as a malformed reference', () => {
    const text = variant({ 'registry.auth.password': '${file:relative/path}' });
    expect(configError(() => load(text)).message).toContain(
      'registry.auth.password: plaintext secrets are refused',
    );
  });

  it('reports YAML syntax errors with line and column', () => {
    const error = configError(() => load('pipeline:\n  name: x\nkafka: [a,\n  b: {\n'));
    expect(error.message).toMatch(
      /invalid YAML in config file \/etc\/dsr-cdc\.yaml:\n {2}line \d+, column \d+: /,
    );
    expect(configError(() => load('a: 1\na: 2\n')).message).toContain('line 2, column 1');
  });

  it('reports an unreadable config file', () => {
    const error = configError(() => loadConfig({ path: '/nonexistent/dsr-cdc.yaml', env: {} }));
    expect(error.message).toBe('cannot read config file /nonexistent/dsr-cdc.yaml (ENOENT)');
  });

  it('applies DSR_CDC__ env overlays with schema-driven coercion', () => {
    const config = load(VALID, {
      PG_PASSWORD,
      REG_PW: 'from-env',
      DSR_CDC__LOG__LEVEL: 'debug',
      DSR_CDC__KAFKA__BROKERS: 'a:1, b:2,',
      DSR_CDC__KAFKA__CLIENT_ID: 'overlaid',
      DSR_CDC__KAFKA__SSL: 'true',
      DSR_CDC__SOURCES__APP__CONNECTION__PORT: '6543',
      DSR_CDC__REGISTRY__AUTH__PASSWORD: '${env:REG_PW}',
    });
    expect(config.log.level).toBe('debug');
    expect(config.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(config.kafka.clientId).toBe('overlaid');
    expect(config.kafka.ssl).toBe(true);
    expect(postgresSource(config, 'app').connection.port).toBe(6543);
    expect(config.registry.auth?.password.reveal()).toBe('from-env');
  });

  it('matches entries of named maps ignoring case and underscores', () => {
    const text = variant({ 'sources.app_db': parse(VALID).sources.app, 'sources.app': undefined });
    const config = load(text, { PG_PASSWORD, DSR_CDC__SOURCES__APP_DB__SLOT: 'other_slot' });
    expect(postgresSource(config, 'app_db').slot).toBe('other_slot');
  });

  it('rejects overlays naming unknown fields, sections or malformed values', () => {
    const error = configError(() =>
      load(VALID, {
        PG_PASSWORD,
        DSR_CDC__LOG__LEVLE: 'debug',
        DSR_CDC__KAFKA: 'x',
        DSR_CDC__KAFKA__SSL: 'yes',
        DSR_CDC__SOURCES__NOPE__SLOT: 's',
        DSR_CDC__SOURCES__APP__CONNECTION__PORT: '54x',
      }),
    );
    expect(error.message).toContain("DSR_CDC__LOG__LEVLE: no field matching 'LEVLE' in log");
    expect(error.message).toContain('DSR_CDC__KAFKA: kafka is a section; name a field inside it');
    expect(error.message).toContain('DSR_CDC__KAFKA__SSL: expected true or false');
    expect(error.message).toContain("DSR_CDC__SOURCES__NOPE__SLOT: no entry matching 'NOPE' in sources");
    expect(error.message).toContain('DSR_CDC__SOURCES__APP__CONNECTION__PORT: expected a number');
    expect(error.field).toBe('DSR_CDC__KAFKA');
  });

  it('refuses a plaintext secret set by overlay', () => {
    const error = configError(() =>
      load(VALID, { PG_PASSWORD, DSR_CDC__SOURCES__APP__CONNECTION__PASSWORD: 'plain-overlay' }),
    );
    expect(error.message).toContain('sources.app.connection.password: plaintext secrets are refused');
    expect(error.message).not.toContain('plain-overlay');
  });

  describe('dsr section', () => {
    const PEPPER = 'p'.repeat(32);
    const dsr = (section: Record<string, unknown>) =>
      variant({ dsr: { pepper: '${env:PEPPER}', ...section } });

    it('is optional, resolves the pepper and fills defaults', () => {
      expect(load(VALID).dsr).toBeUndefined();
      const config = load(dsr({ defaultRegion: 'GB' }), { PG_PASSWORD, PEPPER });
      expect(config.dsr?.pepper.reveal()).toBe(PEPPER);
      expect(config.dsr).toMatchObject({ answerWaitMs: 30_000, linkDepth: 1, defaultRegion: 'GB' });
      expect(config.dsr?.classification).toBeUndefined();
      expect(JSON.stringify(config)).not.toContain(PEPPER);
    });

    it('refuses a plaintext pepper without echoing it', () => {
      const error = configError(() => load(dsr({ pepper: PEPPER })));
      expect(error.message).toContain('dsr.pepper: plaintext secrets are refused');
      expect(error.message).not.toContain(PEPPER);
      expect(error.field).toBe('dsr.pepper');
    });

    it('refuses a pepper shorter than 32 bytes, naming the field', () => {
      const short = 'p'.repeat(31);
      const error = configError(() => load(dsr({}), { PG_PASSWORD, PEPPER: short }));
      expect(error.message).toContain('dsr.pepper: expected a secret of at least 32 bytes');
      expect(error.message).not.toContain(short);
      expect(error.field).toBe('dsr.pepper');
    });

    it('requires the pepper and checks the other fields', () => {
      expect(configError(() => load(variant({ dsr: {} }))).message).toContain(
        'dsr.pepper: required, expected a string',
      );
      const error = configError(() =>
        load(dsr({ linkDepth: 4, answerWaitMs: -1, defaultRegion: 'UK', classification: '' }), {
          PG_PASSWORD,
          PEPPER,
        }),
      );
      expect(error.message).toContain('dsr.linkDepth: expected at most 3');
      expect(error.message).toContain('dsr.answerWaitMs: expected at least 0');
      expect(error.message).toContain('dsr.defaultRegion: expected a two-letter ISO 3166 country code');
      expect(error.message).toContain('dsr.classification: expected a non-empty string');
    });

    it('takes overlays', () => {
      const config = load(dsr({}), { PG_PASSWORD, PEPPER, DSR_CDC__DSR__LINK_DEPTH: '0' });
      expect(config.dsr?.linkDepth).toBe(0);
    });

    it("matches the example file's commented-out section once uncommented", () => {
      const example = readFileSync('dsr-cdc.example.yaml', 'utf8');
      const block = /^# dsr:\n(?:#.*\n)+/m.exec(example)?.[0];
      expect(block).toBeDefined();
      const uncommented = example.replace(block as string, (block as string).replace(/^# ?/gm, ''));
      const config = load(uncommented, { DSR_CDC_PG_PASSWORD: 'x', DSR_CDC_PEPPER: PEPPER });
      expect(config.dsr).toMatchObject({ answerWaitMs: 30_000, linkDepth: 1, defaultRegion: 'GB' });
    });
  });

  it("accepts the example file's commented-out warehouse section once uncommented", () => {
    const example = readFileSync('dsr-cdc.example.yaml', 'utf8');
    const block = /^# warehouse:\n(?:#.*\n)+/m.exec(example)?.[0];
    expect(block).toBeDefined();
    const uncommented = example.replace(block as string, (block as string).replace(/^# ?/gm, ''));
    const config = loadConfig({
      path: 'dsr-cdc.yaml',
      env: { DSR_CDC_PG_PASSWORD: 'x', DSR_CDC_SNOWFLAKE_PASSWORD: 'y' },
      readFile: () => uncommented,
    });
    expect(config.warehouse?.snowflake).toMatchObject({ schema: 'RAW', deletes: 'hard', insecure: true });
    expect(config.warehouse?.coercion.columns['app.public.events.at']).toEqual({ from: 'epoch-millis' });
  });

  it('returns a deeply frozen config', () => {
    const config = load(VALID);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(postgresSource(config, 'app').connection)).toBe(true);
    expect(() => {
      (config.log as { level: string }).level = 'trace';
    }).toThrow(TypeError);
    expect(() => (config.kafka.brokers as string[]).push('x:1')).toThrow(TypeError);
  });

  it('masks secrets for printing and when serialised', () => {
    const config = load(VALID);
    const masked = stringify(maskSecrets(config));
    for (const text of [
      masked,
      JSON.stringify(config),
      String(postgresSource(config, 'app').connection.password),
    ]) {
      expect(text).not.toContain(PG_PASSWORD);
      expect(text).not.toContain(REGISTRY_PASSWORD);
    }
    expect(parse(masked).sources.app.connection.password).toBe('*** (${env:PG_PASSWORD})');
    expect(parse(masked).kafka.brokers).toEqual(['k1:9092']);
  });
});

interface JsonSchema {
  type?: string;
  pattern?: string;
  required?: string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
}

describe('configJsonSchema', () => {
  it('describes the file as written, secrets as references', () => {
    const schema = configJsonSchema() as JsonSchema;
    expect(schema.required).toEqual(expect.arrayContaining(['pipeline', 'kafka', 'registry', 'sources']));
    // sources are a union on `kind`; the first member is the replication source
    const sources = schema.properties?.sources?.additionalProperties;
    const source = (sources?.oneOf ?? sources?.anyOf)?.[0];
    const password = source?.properties?.connection?.properties?.password;
    expect(password?.type).toBe('string');
    const pattern = new RegExp(password?.pattern ?? '^$');
    expect(pattern.test('${env:X}')).toBe(true);
    expect(pattern.test('plain')).toBe(false);
    // the example file's top-level keys are all described
    const example = parse(readFileSync('dsr-cdc.example.yaml', 'utf8')) as Record<string, unknown>;
    expect(Object.keys(schema.properties ?? {})).toEqual(expect.arrayContaining(Object.keys(example)));
  });
});
