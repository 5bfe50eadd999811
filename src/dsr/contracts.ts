/**
 * Contracts of the DSR topics (see topics/topics.yaml), as zod schemas, their TypeScript types,
 * and JSON Schemas to register in the schema registry under `<topic>-value`:
 *
 * - `dsr.requests` (key = requestId): DsrRequest, produced by privacy engineers.
 * - `dsr.discovery-results` (key = requestId): DsrResult, where the subject's data lives. It
 *   carries locations (table, primary key, column names) only, never row values.
 * - `dsr.audit` (key = requestId): AuditEvent, hash-chained per request (see audit-chain.ts). Its
 *   detail carries counts, types and statuses, never raw identifiers.
 *
 * Objects are strict: an unknown field is an error, not silently dropped. Positions and offsets
 * (bigints) travel as decimal strings, because JSON numbers lose precision past 2^53.
 * Parse errors are DsrCdcError EVENT_INVALID listing `<field path>: <expected>` per problem; they
 * never quote the input, because a request's identifiers are personal data.
 */
import { z } from 'zod';
import { parseWith } from '../validation.js';

const DATETIME = z.iso.datetime({
  offset: true,
  error: (issue) =>
    issue.code === 'invalid_format'
      ? 'expected an ISO-8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z'
      : undefined,
});
const DECIMAL = z.string().regex(/^(?:0|[1-9]\d*)$/, 'expected a non-negative decimal integer string');
const HEX_SHA256 = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits (SHA-256)');
const NAME = z.string().min(1);

export const REQUEST_TYPES = ['access', 'erasure'] as const;
export const IDENTIFIER_TYPES = [
  'email',
  'phone',
  'user_id',
  'payment_card',
  'iban',
  'us_ssn',
  'national_id',
] as const;

export const requestIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'expected only letters, digits and . _ : -');

export const identifierSchema = z.strictObject({
  type: z.enum(IDENTIFIER_TYPES),
  value: z.string().min(1).max(512),
});

export const dsrRequestSchema = z.strictObject({
  requestId: requestIdSchema,
  type: z.enum(REQUEST_TYPES),
  identifiers: z.array(identifierSchema).min(1).max(20),
  submittedAt: DATETIME,
  deadline: DATETIME.optional(),
});

const primaryKeySchema = z.record(
  NAME,
  z.union([z.string(), z.number(), z.boolean(), z.null()], {
    error: 'expected a string, number, boolean or null',
  }),
);

export const dsrLocationSchema = z.strictObject({
  source: NAME,
  schema: NAME,
  table: NAME,
  primaryKey: primaryKeySchema,
  /** Columns of the row that hold PII (names, never values). */
  columns: z.array(NAME),
  piiTypes: z.array(NAME),
  /**
   * identifier: the row holds one of the request's identifiers. foreign-key: the row references
   * (`via`) a row found by identifier. linked-identifier: the row holds another identifier of the
   * subject, found on a row matched by one of the request's identifiers.
   */
  matchedBy: z.strictObject({
    kind: z.enum(['identifier', 'foreign-key', 'linked-identifier']),
    identifierType: NAME.optional(),
    via: z
      .strictObject({
        schema: NAME,
        table: NAME,
        primaryKey: primaryKeySchema,
      })
      .optional(),
  }),
  /** Source position at which the row was last seen. */
  lastPosition: z.strictObject({
    commitLsn: DECIMAL.nullable(),
    seq: DECIMAL,
  }),
});

export const dsrResultSchema = z.strictObject({
  requestId: requestIdSchema,
  type: z.enum(REQUEST_TYPES),
  /**
   * complete: every location as of consistentAsOf. incomplete: an answer, but the index had not
   * caught up (or a part failed); reason says why. rejected: the request could not be served.
   */
  status: z.enum(['complete', 'incomplete', 'rejected']),
  locations: z.array(dsrLocationSchema),
  /** Offsets of the input topic-partitions the answer reflects: 'cdc.app.public.customers/0' → '42'. */
  consistentAsOf: z.record(
    z.string().regex(/^[A-Za-z0-9._-]{1,249}\/\d+$/, 'expected <topic>/<partition>'),
    DECIMAL,
  ),
  caughtUp: z.boolean(),
  answeredAt: DATETIME,
  /** Why the result is incomplete or rejected; names fields and problems, never identifier values. */
  reason: z.string().min(1).max(4096).optional(),
});

export const AUDIT_STEPS = ['received', 'rejected', 'answered'] as const;

export const auditEventSchema = z.strictObject({
  requestId: requestIdSchema,
  step: z.enum(AUDIT_STEPS),
  at: DATETIME,
  /** Facts about the step: identifier counts and types, location count, status. No raw identifiers. */
  detail: z.record(
    NAME,
    z.union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or boolean' }),
  ),
  /** The previous event's hash for this request; GENESIS_HASH for the first. */
  prevHash: HEX_SHA256,
  hash: HEX_SHA256,
});

export type RequestType = (typeof REQUEST_TYPES)[number];
export type IdentifierType = (typeof IDENTIFIER_TYPES)[number];
export type Identifier = z.infer<typeof identifierSchema>;
export type DsrRequest = z.infer<typeof dsrRequestSchema>;
export type DsrLocation = z.infer<typeof dsrLocationSchema>;
export type DsrResult = z.infer<typeof dsrResultSchema>;
export type AuditStep = (typeof AUDIT_STEPS)[number];
export type AuditEvent = z.infer<typeof auditEventSchema>;

/**
 * JSON Schema contracts (draft-07, which every registry supports) by topic family of
 * topics/topics.yaml, to register under `<topic>-value`.
 */
export const dsrJsonSchemas = {
  'dsr-requests': z.toJSONSchema(dsrRequestSchema, { target: 'draft-7' }),
  'dsr-discovery-results': z.toJSONSchema(dsrResultSchema, { target: 'draft-7' }),
  'dsr-audit': z.toJSONSchema(auditEventSchema, { target: 'draft-7' }),
} as const;

export function parseDsrRequest(input: unknown): DsrRequest {
  return parseContract(dsrRequestSchema, 'DSR request', input);
}

export function parseDsrResult(input: unknown): DsrResult {
  return parseContract(dsrResultSchema, 'DSR result', input);
}

export function parseAuditEvent(input: unknown): AuditEvent {
  return parseContract(auditEventSchema, 'audit event', input);
}

function parseContract<T>(schema: z.ZodType<T>, what: string, input: unknown): T {
  return parseWith(schema, input, { code: 'EVENT_INVALID', heading: `invalid ${what}`, vocabulary: 'json' });
}
