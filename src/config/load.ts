/**
 * loadConfig(): reads one YAML file, applies `DSR_CDC__*` env overlays, validates, resolves secret
 * references and returns a deeply frozen Config. Together with connections.ts it is the only
 * reader of the environment and of secret files; everything else receives the Config.
 *
 * Env overlays: a variable `DSR_CDC__<SEG>__<SEG>...` sets the config value at that path.
 * - A segment matches a field ignoring case and underscores (`CLIENT_ID` → `clientId`); under a
 *   named map such as `sources` it matches an entry of the file the same way (`APP_DB` → `app_db`).
 *   An unknown field or entry, or a path that ends on a section, is an error naming the variable.
 * - The value is coerced by the schema type at the path: string/enum/secret as is; number via
 *   Number(); boolean only `true`/`false`; list split on `,`, items trimmed, empty items dropped.
 * - An overlay replaces the file's value; a secret set by overlay must still be a reference.
 * Secret references: `${env:NAME}` must be set and non-empty; `${file:/abs}` must be readable and
 * non-empty once one trailing newline is removed.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { DsrCdcError } from '../errors.js';
import { formatPath, parseWith } from '../validation.js';
import { type Config, configSchema, Secret, type SecretResolver } from './schema.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
  path: string;
  env: Env;
  /** Reads the config file and `${file:...}` secrets; defaults to fs.readFileSync as UTF-8. */
  readFile?: (path: string) => string;
}

export const OVERLAY_PREFIX = 'DSR_CDC__';

export function loadConfig({ path, env, readFile = readUtf8 }: LoadConfigOptions): Config {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new DsrCdcError('CONFIG_INVALID', `cannot read config file ${path} (${errorCode(error)})`, {
      cause: error,
    });
  }
  const schema = configSchema(secretResolver(env, readFile));
  const raw = applyOverlays(parseYaml(path, text), env, schema);
  const parsed = parseWith(schema, raw, {
    code: 'CONFIG_INVALID',
    heading: `invalid config ${path}`,
    vocabulary: 'yaml',
  });
  return deepFreeze(parsed) as Config;
}

/** A plain copy of the config with every secret replaced by its masked form, for printing. */
export function maskSecrets(config: Config): unknown {
  return mask(config);
}

function mask(value: unknown): unknown {
  if (value instanceof Secret) return value.masked;
  if (Array.isArray(value)) return value.map(mask);
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mask(v)]));
  return value;
}

function readUtf8(path: string): string {
  return readFileSync(path, 'utf8');
}

function secretResolver(env: Env, readFile: (path: string) => string): SecretResolver {
  return (reference) => {
    if (reference.kind === 'env') {
      const value = env[reference.name];
      if (value === undefined) return { problem: `environment variable ${reference.name} is not set` };
      if (value === '') return { problem: `environment variable ${reference.name} is empty` };
      return { value };
    }
    let value: string;
    try {
      value = readFile(reference.path).replace(/\r?\n$/, '');
    } catch (error) {
      return { problem: `cannot read secret file ${reference.path} (${errorCode(error)})` };
    }
    return value === '' ? { problem: `secret file ${reference.path} is empty` } : { value };
  };
}

function parseYaml(path: string, text: string): unknown {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    const problems = document.errors.map((error) => {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      return `line ${line}, column ${col}: ${error.message}`;
    });
    throw invalid(`invalid YAML in config file ${path}`, problems, undefined);
  }
  return document.toJS();
}

function applyOverlays(raw: unknown, env: Env, schema: z.ZodType): unknown {
  const names = Object.keys(env)
    .filter((name) => name.startsWith(OVERLAY_PREFIX) && env[name] !== undefined)
    .sort();
  if (names.length === 0) return raw;
  const root = raw ?? {};
  const failed = names.flatMap((name) => {
    const problem = applyOverlay(root, name, env[name] as string, schema);
    return problem === undefined ? [] : [{ name, problem }];
  });
  if (failed.length > 0) {
    const lines = failed.map(({ name, problem }) => `${name}: ${problem}`);
    throw invalid('invalid config overlay', lines, failed[0]?.name);
  }
  return root;
}

/** Sets one overlay in place; returns what is wrong with it, if anything. */
function applyOverlay(root: unknown, name: string, value: string, rootSchema: z.ZodType): string | undefined {
  const segments = name.slice(OVERLAY_PREFIX.length).split('__');
  const last = segments.pop() as string;
  let node = root;
  let schema = unwrap(rootSchema);
  const path: string[] = [];
  for (const segment of segments) {
    const field = fieldOf(node, schema, segment, path);
    if ('problem' in field) return field.problem;
    node = field.node[field.key] ??= {};
    schema = field.schema;
  }
  const field = fieldOf(node, schema, last, path);
  if ('problem' in field) return field.problem;
  if (field.schema instanceof z.ZodObject || field.schema instanceof z.ZodRecord) {
    return `${formatPath(path)} is a section; name a field inside it`;
  }
  const coerced = coerce(value, field.schema);
  if ('problem' in coerced) return coerced.problem;
  field.node[field.key] = coerced.value;
  return undefined;
}

type Field = { node: Record<string, unknown>; key: string; schema: z.ZodType } | { problem: string };

/** Finds the key `segment` names under `node` and its schema; appends the key to `path`. */
function fieldOf(node: unknown, schema: z.ZodType, segment: string, path: string[]): Field {
  if (!isRecord(node)) return { problem: `${formatPath(path)} in the config file is not a mapping` };
  const matches = (key: string) => normalise(key) === normalise(segment);
  if (schema instanceof z.ZodObject) {
    const key = Object.keys(schema.shape).find(matches);
    if (key === undefined) return { problem: `no field matching '${segment}' in ${formatPath(path)}` };
    path.push(key);
    return { node, key, schema: unwrap(schema.shape[key] as z.ZodType) };
  }
  if (schema instanceof z.ZodRecord) {
    const key = Object.keys(node).find(matches);
    if (key === undefined) {
      return { problem: `no entry matching '${segment}' in ${formatPath(path)} of the config file` };
    }
    path.push(key);
    return { node, key, schema: unwrap(schema.valueType as z.ZodType) };
  }
  if (schema instanceof z.ZodDiscriminatedUnion) {
    // the member that the entry's own discriminator in the file selects (a source's `kind`)
    const discriminator = schema._zod.def.discriminator;
    const member = (schema.options as z.ZodType[]).find(
      (option) =>
        option instanceof z.ZodObject &&
        (option.shape[discriminator] as z.ZodLiteral).values.has(node[discriminator] as never),
    );
    if (member === undefined)
      return { problem: `${formatPath(path)}.${discriminator} in the config file is not valid` };
    return fieldOf(node, member, segment, path);
  }
  if (schema instanceof z.ZodUnion) {
    // a value or a section (kafka.ssl: true, or {ca, …}): a path inside it names the section's field
    const section = (schema.options as z.ZodType[]).map(unwrap).find((o) => o instanceof z.ZodObject);
    if (section) return fieldOf(node, section, segment, path);
  }
  return { problem: `${formatPath(path)} has no fields` };
}

function coerce(text: string, schema: z.ZodType): { value: unknown } | { problem: string } {
  if (schema instanceof z.ZodUnion) {
    // the value form of a value-or-section field (kafka.ssl: true)
    const value = (schema.options as z.ZodType[]).map(unwrap).find((o) => !(o instanceof z.ZodObject));
    if (value) return coerce(text, value);
  }
  if (schema instanceof z.ZodNumber) {
    const value = Number(text);
    return text.trim() !== '' && Number.isFinite(value) ? { value } : { problem: 'expected a number' };
  }
  if (schema instanceof z.ZodBoolean) {
    return text === 'true' || text === 'false'
      ? { value: text === 'true' }
      : { problem: 'expected true or false' };
  }
  if (schema instanceof z.ZodArray) {
    const element = unwrap(schema.element as z.ZodType);
    const items = text
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .map((item) => coerce(item, element));
    const failed = items.find((item) => 'problem' in item);
    return failed ?? { value: items.map((item) => ('value' in item ? item.value : undefined)) };
  }
  return { value: text };
}

/** The schema that decides a value's shape: optional/default wrappers and transforms peeled off. */
function unwrap(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault)
    return unwrap(schema.unwrap() as z.ZodType);
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  return schema;
}

function normalise(key: string): string {
  return key.toLowerCase().replaceAll('_', '');
}

function invalid(heading: string, lines: string[], field: string | undefined): DsrCdcError {
  return new DsrCdcError('CONFIG_INVALID', `${heading}:\n${lines.map((line) => `  ${line}`).join('\n')}`, {
    field,
  });
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : 'unreadable';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
