/**
 * Column classification: what people know about their columns that detection cannot see.
 *
 * A classification is a YAML document (parsed by the caller) listing rules per
 * `source.schema.table.column` pattern:
 *
 *   columns:
 *     - { match: crm.public.customers.email, role: identifier }
 *     - { match: crm.public.customers.name, role: attribute, type: person_name }
 *     - { match: '*.*.*.internal_notes', role: ignore }
 *
 * Each part is a name or a glob where `*` matches any run of characters within that part; names
 * compare case-sensitively, as the source spells them. When several rules match a column, the one
 * with the most literal (non-`*`) characters wins, and of equals the one listed first.
 *
 * Roles: `identifier` columns link a row to a data subject (customers.email): their findings are
 * index keys. `attribute` columns hold PII about a subject found through an identifier.
 * `ignore` drops every finding of the column (test fixtures, hashed values, false positives).
 * Pure: no I/O; errors are DsrCdcError CONFIG_INVALID naming the field, never a row value.
 */
import { z } from 'zod';
import { parseWith } from '../../validation.js';
import {
  columnSemantics,
  type DetectOptions,
  type Finding,
  normalizeAs,
  PII_TYPES,
  type PiiType,
} from './detectors.js';

export type Role = 'identifier' | 'attribute';

export interface ClassifiedFinding extends Finding {
  role: Role;
}

/** Types that name a subject by themselves; the other types are attributes by default. */
const IDENTIFIER_TYPES: ReadonlySet<PiiType> = new Set([
  'email',
  'phone',
  'payment_card',
  'iban',
  'us_ssn',
  'national_id',
]);

const PATTERN = /^[^.\s]+\.[^.\s]+\.[^.\s]+\.[^.\s]+$/;

export const classificationSchema = z.strictObject({
  columns: z
    .array(
      z
        .strictObject({
          match: z
            .string()
            .regex(
              PATTERN,
              'expected source.schema.table.column, each part a name or a pattern with * wildcards',
            ),
          role: z.enum(['identifier', 'attribute', 'ignore']),
          type: z.enum(PII_TYPES).optional(),
        })
        .superRefine((rule, ctx) => {
          if (rule.role === 'ignore' && rule.type !== undefined) {
            ctx.addIssue({ code: 'custom', path: ['type'], message: 'has no meaning with role ignore' });
          }
          // An identifier finding needs a type even where detection finds nothing: the rule's, or
          // the one the (literal) column name says.
          const column = rule.match.split('.')[3] ?? '';
          if (
            rule.role === 'identifier' &&
            rule.type === undefined &&
            (column.includes('*') || !columnSemantics(column))
          ) {
            ctx.addIssue({
              code: 'custom',
              path: ['type'],
              message: `required for an identifier unless the column name says its PII type (one of ${PII_TYPES.join(', ')})`,
            });
          }
        }),
    )
    .default([])
    .superRefine((rules, ctx) => {
      rules.forEach((rule, index) => {
        const first = rules.findIndex((other) => other.match === rule.match);
        if (first < index) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'match'],
            message: `duplicates columns[${first}].match`,
          });
        }
      });
    }),
});

export type ClassificationConfig = z.infer<typeof classificationSchema>;
export type ColumnRule = ClassificationConfig['columns'][number];

interface CompiledRule {
  rule: ColumnRule;
  /** One matcher per part: source, schema, table, column. */
  parts: readonly RegExp[];
  /** Literal characters in the pattern: more wins. */
  specificity: number;
}

/** A parsed, frozen classification; build it with parseClassification. */
export interface Classification {
  readonly rules: readonly CompiledRule[];
}

/**
 * Validates a classification document (an empty document means no rules). Throws DsrCdcError
 * CONFIG_INVALID listing every problem by path (`columns[2].role: …`); `field` is the first.
 */
export function parseClassification(document: unknown): Classification {
  const parsed = parseWith(classificationSchema, document ?? {}, {
    code: 'CONFIG_INVALID',
    heading: 'invalid classification',
    vocabulary: 'yaml',
  });
  const rules = parsed.columns.map((rule) =>
    Object.freeze({
      rule: Object.freeze({ ...rule }),
      parts: rule.match.split('.').map(globPart),
      specificity: rule.match.replace(/\*/g, '').length,
    }),
  );
  return Object.freeze({ rules: Object.freeze(rules) });
}

/** The rule that applies to a column, or undefined. */
export function ruleFor(
  classification: Classification,
  location: { source: string; schema: string; table: string; column: string },
): ColumnRule | undefined {
  const names = [location.source, location.schema, location.table, location.column];
  let best: CompiledRule | undefined;
  for (const compiled of classification.rules) {
    const matches = compiled.parts.every((part, i) => part.test(names[i] ?? ''));
    if (matches && (best === undefined || compiled.specificity > best.specificity)) best = compiled;
  }
  return best?.rule;
}

export interface ClassifyContext {
  source: string;
  schema: string;
  table: string;
  /** The row image the findings came from: classified columns without findings are read from it. */
  row: Record<string, unknown>;
}

/**
 * Applies a classification to one row's findings:
 * - findings on `ignore` columns are dropped;
 * - a rule's `type` replaces the detected type of every finding on its column;
 * - each finding gets a role: the rule's, else `identifier` for email, phone, payment_card, iban,
 *   us_ssn and national_id, else `attribute`;
 * - a classified column without findings but with a non-blank string or a number gets one finding
 *   (reason 'classification') of the rule's type, else the type its name says; identifier rules
 *   always have one (parseClassification ensures it), attribute rules without one add nothing.
 * Output: the input order, then added findings in column order; duplicates that forced types
 * create appear once.
 */
export function classify(
  findings: readonly Finding[],
  context: ClassifyContext,
  classification: Classification,
  options: DetectOptions = {},
): ClassifiedFinding[] {
  const rules = new Map<string, ColumnRule | undefined>();
  const rule = (column: string) => {
    if (!rules.has(column)) rules.set(column, ruleFor(classification, { ...context, column }));
    return rules.get(column);
  };
  const classified: ClassifiedFinding[] = [];
  const seen = new Set<string>();
  const add = (finding: Finding, role: Role | undefined) => {
    const key = JSON.stringify([finding.type, finding.normalized, finding.column, finding.jsonPath ?? null]);
    if (seen.has(key)) return;
    seen.add(key);
    classified.push({
      ...finding,
      role: role ?? (IDENTIFIER_TYPES.has(finding.type) ? 'identifier' : 'attribute'),
    });
  };

  for (const finding of findings) {
    const applied = rule(finding.column);
    if (applied?.role === 'ignore') continue;
    add({ ...finding, type: applied?.type ?? finding.type }, applied?.role);
  }

  const found = new Set(findings.map((finding) => finding.column));
  for (const column of Object.keys(context.row).sort()) {
    const applied = rule(column);
    if (applied === undefined || applied.role === 'ignore' || found.has(column)) continue;
    const type = applied.type ?? columnSemantics(column);
    const value = context.row[column];
    const text =
      typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint'
        ? String(value)
        : '';
    const normalized = type === null ? null : normalizeAs(type, text, options);
    if (type !== null && normalized !== null)
      add({ type, normalized, column, reason: 'classification' }, applied.role);
  }
  return classified;
}

/** A pattern part as an anchored regex: `*` is any run of characters, the rest literal. */
function globPart(part: string): RegExp {
  const body = part
    .split('*')
    .map((literal) => literal.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 's');
}
