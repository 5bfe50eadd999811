/**
 * The `admin` config section: where the admin HTTP API listens and the token it requires. Without
 * the section `dsr-cdc run` serves no API. Composed into the config schema in config/schema.ts.
 */
import { z } from 'zod';
import type { Secret } from '../config/schema.js';

/** Shortest accepted token, in bytes: a bearer token is the API's only protection. */
export const MIN_TOKEN_BYTES = 24;

export const DEFAULT_BODY_LIMIT = 64 * 1024;

export function adminSectionSchema(secret: z.ZodType<Secret, string>) {
  return z
    .strictObject({
      listen: z
        .strictObject({
          host: z.string().min(1).default('127.0.0.1').meta({
            description:
              'Address to bind. Loopback by default; any other address is logged as a warning at start.',
          }),
          port: z.number().int().min(0).max(65535).default(9464).meta({
            description: 'TCP port (0: any free port, logged at start).',
          }),
        })
        .default({ host: '127.0.0.1', port: 9464 }),
      token: secret
        .refine((token) => Buffer.byteLength(token.reveal(), 'utf8') >= MIN_TOKEN_BYTES, {
          message: `expected a token of at least ${MIN_TOKEN_BYTES} bytes (e.g. openssl rand -base64 32)`,
        })
        .meta({
          description:
            'Bearer token every request but GET /healthz must carry (Authorization: Bearer <token>).',
        }),
      bodyLimit: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(DEFAULT_BODY_LIMIT)
        .meta({ description: 'Largest accepted request body in bytes; larger ones get 413.' }),
    })
    .optional()
    .meta({ description: 'The admin HTTP API of `dsr-cdc run` (health, metrics, status, DSR requests).' });
}
