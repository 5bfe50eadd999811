/**
 * The `warehouse` section of the config: type coercion and the Snowflake loader. Composed into
 * the config schema (src/config/schema.ts), which hands in its secret-reference schema.
 */
import { IANAZone } from 'luxon';
import { z } from 'zod';
import type { Secret } from '../config/schema.js';

const columnKey = z.string().regex(/^[^.]+\.[^.]+\.[^.]+\.[^.]+$/, 'expected source.schema.table.column');

const timestampSource = z.discriminatedUnion('from', [
  z.strictObject({ from: z.enum(['epoch-seconds', 'epoch-millis']) }),
  z.strictObject({
    from: z.literal('text'),
    format: z.string().min(1).meta({ description: 'Luxon format tokens, e.g. dd/MM/yyyy HH:mm' }),
    zone: z
      .string()
      .refine((zone) => IANAZone.isValidZone(zone), 'expected an IANA time zone, e.g. Europe/Berlin or UTC')
      .optional()
      .meta({
        description: 'IANA zone of the text; given: TIMESTAMP_TZ, absent: TIMESTAMP_NTZ (wall clock).',
      }),
  }),
]);

/** A regular expression over topic names, checked when the config is loaded. */
function topicPattern(fallback: string, what: string) {
  return z
    .string()
    .refine((pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    }, 'expected a regular expression, e.g. ^warehouse\\.crm\\.')
    .default(fallback)
    .meta({ description: `Regular expression of the ${what} topics this stage reads.` });
}

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_$]*$/, 'expected a Snowflake identifier (letters, digits, _ and $)')
  .transform((name) => name.toUpperCase());

export function warehouseSchema(secret: z.ZodType<Secret, string>) {
  return z
    .strictObject({
      coercion: z
        .strictObject({
          topics: topicPattern('^cdc\\.', 'cdc.*'),
          onOutOfRange: z
            .enum(['null', 'dlq'])
            .default('null')
            .meta({
              description:
                'A value Snowflake cannot hold (numeric NaN, infinite dates, more than 38 digits): NULL plus ' +
                'a flag in _DSR_COERCION_FLAGS, or the event to dlq.type-coercion.',
            }),
          unconstrainedNumericScale: z.number().int().min(0).max(37).default(9).meta({
            description: 'Scale of the NUMBER(38,s) column an unconstrained numeric becomes.',
          }),
          columns: z.record(columnKey, timestampSource).default({}).meta({
            description:
              'Columns that hold timestamps as epoch numbers or text, by source.schema.table.column.',
          }),
        })
        .default({ topics: '^cdc\\.', onOutOfRange: 'null', unconstrainedNumericScale: 9, columns: {} }),
      snowflake: z
        .strictObject({
          account: z.string().min(1),
          topics: topicPattern('^warehouse\\.', 'warehouse.*'),
          accessUrl: z.url().optional().meta({
            description:
              'Endpoint, when not https://<account>.snowflakecomputing.com (http only with insecure).',
          }),
          insecure: z.boolean().default(false).meta({
            description: 'Allows a plain-http accessUrl (the local emulator). Never in production.',
          }),
          username: z.string().min(1),
          password: secret.optional(),
          privateKey: secret
            .optional()
            .meta({ description: 'PEM private key for key-pair (JWT) authentication.' }),
          privateKeyPassphrase: secret.optional(),
          role: z.string().min(1).optional(),
          warehouse: z.string().min(1),
          database: identifier,
          schema: identifier,
          deletes: z.enum(['hard', 'soft']).default('hard').meta({
            description: 'hard: delete the row; soft: keep it with _DSR_DELETED = TRUE.',
          }),
          onDrift: z.enum(['stop', 'dlq']).default('stop').meta({
            description:
              'A dropped column or changed type: stop loading that table, or park its events in dlq.snowflake-loader.',
          }),
          loginTimeoutMs: z.number().int().min(1000).default(30_000).meta({
            description: 'Bound on the whole login (connect), retries included.',
          }),
          statementTimeoutSeconds: z.number().int().min(1).default(600),
          batch: z
            .strictObject({
              maxWaitMs: z
                .number()
                .int()
                .min(0)
                .default(1_000)
                .meta({ description: 'Longest wait for a fuller batch.' }),
              minBytes: z
                .number()
                .int()
                .min(1)
                .default(1024 * 1024),
              maxBytes: z
                .number()
                .int()
                .min(1024)
                .default(16 * 1024 * 1024)
                .meta({ description: 'Per partition fetch.' }),
            })
            .default({ maxWaitMs: 1_000, minBytes: 1024 * 1024, maxBytes: 16 * 1024 * 1024 }),
        })
        .refine((s) => (s.password === undefined) !== (s.privateKey === undefined), {
          message: 'set exactly one of password or privateKey',
          path: ['password'],
        })
        .refine((s) => s.insecure || !s.accessUrl || s.accessUrl.startsWith('https://'), {
          message:
            'a plain-http accessUrl sends credentials in clear; use https, or set insecure: true for a local emulator',
          path: ['accessUrl'],
        })
        .optional(),
    })
    .optional()
    .meta({
      description:
        'Type coercion and the Snowflake loader; snowflake is required by `consumer run snowflake-loader`.',
    });
}
