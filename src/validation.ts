/**
 * Turning zod's verdict on user input into a DsrCdcError that lists every problem as
 * `<field path>: <what was expected>`. Messages describe what was expected and the KIND of input
 * received, never its value: a bad value may be a secret or an identifier pasted into the wrong
 * field. Used for config files, classification files and DSR contracts alike.
 */
import type { z } from 'zod';
import { DsrCdcError, type ErrorCode } from './errors.js';

/** How input kinds are named: YAML files have lists and mappings, JSON has arrays and objects. */
export type Vocabulary = 'yaml' | 'json';

const TYPE_NAMES: Record<Vocabulary, Record<string, string>> = {
  yaml: { array: 'a list', object: 'a mapping', record: 'a mapping' },
  json: { array: 'an array', object: 'an object', record: 'an object' },
};
const COMMON_TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

function typeName(type: string, vocabulary: Vocabulary): string {
  return TYPE_NAMES[vocabulary][type] ?? COMMON_TYPE_NAMES[type] ?? type;
}

/** The kind of a bad input, never its value. */
function kindOf(input: unknown, vocabulary: Vocabulary): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return typeName('array', vocabulary);
  if (typeof input === 'object') return typeName('object', vocabulary);
  return `a ${typeof input}`;
}

/** A zod error map: "what was expected". Messages set in a schema take precedence. */
function describer(vocabulary: Vocabulary) {
  return (issue: z.core.$ZodRawIssue): string | undefined => {
    switch (issue.code) {
      case 'invalid_type': {
        const expected = typeName(issue.expected, vocabulary);
        if (issue.input === undefined) return `required, expected ${expected}`;
        if (issue.expected === 'int' && typeof issue.input === 'number') return `expected ${expected}`;
        return `expected ${expected}, got ${kindOf(issue.input, vocabulary)}`;
      }
      case 'too_small':
        if (issue.origin === 'string' && Number(issue.minimum) === 1) return 'expected a non-empty string';
        if (issue.origin === 'string') return `expected at least ${issue.minimum} character(s)`;
        if (issue.origin === 'array') return `expected at least ${issue.minimum} item(s)`;
        return `expected ${issue.inclusive ? 'at least' : 'more than'} ${issue.minimum}`;
      case 'too_big':
        if (issue.origin === 'string') return `expected at most ${issue.maximum} character(s)`;
        if (issue.origin === 'array') return `expected at most ${issue.maximum} item(s)`;
        return `expected ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
      case 'invalid_format':
        return issue.format === 'url' ? 'expected a URL' : undefined;
      case 'invalid_value': {
        const values = issue.values.map((value) => JSON.stringify(value));
        return values.length === 1 ? `expected ${values[0]}` : `expected one of ${values.join(', ')}`;
      }
      default:
        return undefined;
    }
  };
}

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;

/**
 * `identifiers[0].value`, `sources.app.slot`. A key that does not look like a field name (an
 * unknown key may be anything, even an email address pasted as a key) is shown as `<key>`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((segment, index) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const name = typeof segment === 'string' && FIELD_NAME.test(segment) ? segment : '<key>';
      return index === 0 ? name : `.${name}`;
    })
    .join('');
}

export interface Problem {
  path: string;
  text: string;
}

function toProblems(issue: z.core.$ZodIssue): Problem[] {
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), text: 'unknown field' }));
    case 'invalid_key':
      return [{ path: formatPath(issue.path), text: `bad name: ${issue.issues[0]?.message ?? 'invalid'}` }];
    default:
      return [{ path: formatPath(issue.path), text: issue.message }];
  }
}

export interface ParseOptions {
  /** The error code of a failure (CONFIG_INVALID for files, EVENT_INVALID for messages). */
  code: ErrorCode;
  /** First line of the message, e.g. `invalid config dsr-cdc.yaml`. */
  heading: string;
  vocabulary: Vocabulary;
}

/** Parses `input` with `schema`, or throws one DsrCdcError naming every problem (`field`: the first). */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
  options: ParseOptions,
): z.output<S> {
  const parsed = schema.safeParse(input, { error: describer(options.vocabulary) });
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap(toProblems);
  const lines = problems.map((problem) => `  ${problem.path}: ${problem.text}`);
  throw new DsrCdcError(options.code, `${options.heading}:\n${lines.join('\n')}`, {
    field: problems[0]?.path,
  });
}
