/**
 * TLS settings of the config and the one rule about them: a setting that turns certificate checks
 * off (Kafka `ssl.rejectUnauthorized: false`, Postgres `sslmode` allow / prefer / require, which
 * encrypt without verifying the server) is refused unless the same section says `insecure: true`,
 * meant for local use only; clients log a warning whenever they honour it.
 *
 * Certificate files (CA, client certificate) are paths, read when the client is built; a private
 * key is a secret reference (`${file:/path/key.pem}`), read by loadConfig like every secret.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig as PgClientConfig } from 'pg';
import { z } from 'zod';
import { DsrCdcError } from '../errors.js';
import type { Secret } from './schema.js';

const INSECURE = z.boolean().default(false).meta({
  description: 'Allows settings that skip certificate checks. Local use only; logged as a warning.',
});

const path = z.string().min(1);

/** `kafka.ssl`: true (TLS with the system CAs) or the details. */
export function kafkaTlsSchema(secret: z.ZodType<Secret, string>) {
  return z
    .union([
      z.boolean(),
      z
        .strictObject({
          ca: path
            .optional()
            .meta({ description: 'PEM file of the CA(s) that sign the brokers’ certificates.' }),
          cert: path.optional().meta({ description: 'PEM file of the client certificate (mutual TLS).' }),
          key: secret
            .optional()
            .meta({ description: 'The client certificate’s private key: ${file:/path/key.pem}.' }),
          rejectUnauthorized: z.boolean().default(true).meta({
            description: 'Verify the brokers’ certificates. false only together with insecure: true.',
          }),
          insecure: INSECURE,
        })
        .refine((tls) => tls.rejectUnauthorized || tls.insecure, {
          message:
            'rejectUnauthorized: false turns certificate checks off; add insecure: true (local use only)',
          path: ['rejectUnauthorized'],
        })
        .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), {
          message: 'expected both cert and key (mutual TLS) or neither',
          path: ['cert'],
        }),
    ])
    .optional()
    .meta({ description: 'TLS to the brokers: true, or {ca, cert, key, rejectUnauthorized, insecure}.' });
}

/** Postgres sslmodes that encrypt without verifying the server's certificate. */
export const UNVERIFIED_SSLMODES = ['allow', 'prefer', 'require'] as const;

/**
 * A Postgres connection object: `fields` plus sslmode, sslrootcert and insecure, with the rule
 * that an sslmode which skips certificate checks needs insecure: true.
 */
export function pgConnection<Shape extends z.ZodRawShape>(fields: Shape) {
  return z
    .strictObject({
      ...fields,
      sslmode: z
        .enum(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])
        .optional()
        .meta({
          description:
            'verify-full (recommended): TLS with the CA and host name checked; verify-ca: the CA only; ' +
            'allow / prefer / require skip the checks and need insecure: true. Unset: no TLS.',
        }),
      sslrootcert: path
        .optional()
        .meta({ description: 'PEM file of the CA that signs the server certificate.' }),
      insecure: INSECURE,
    })
    .refine(
      (connection) => {
        const { insecure, sslmode } = connection as { insecure: boolean; sslmode?: string };
        return insecure || !(UNVERIFIED_SSLMODES as readonly unknown[]).includes(sslmode);
      },
      {
        message: `sslmode ${UNVERIFIED_SSLMODES.join(' / ')} does not verify the server certificate; use verify-full with sslrootcert, or add insecure: true (local use only)`,
        path: ['sslmode'],
      },
    );
}

/** node-pg's `ssl` option for a connection with pgTlsFields (undefined: no TLS). */
export function pgSsl(
  connection: { sslmode?: string | undefined; sslrootcert?: string | undefined },
  field: string,
  readFile: (path: string) => string = readUtf8,
): ConnectionOptions | undefined {
  const { sslmode, sslrootcert } = connection;
  if (sslmode === undefined || sslmode === 'disable') return undefined;
  const ca = sslrootcert === undefined ? {} : { ca: readPem(sslrootcert, `${field}.sslrootcert`, readFile) };
  if (sslmode === 'verify-full') return { rejectUnauthorized: true, ...ca };
  if (sslmode === 'verify-ca')
    return { rejectUnauthorized: true, checkServerIdentity: () => undefined, ...ca };
  return { rejectUnauthorized: false, ...ca };
}

/** A validated Postgres connection of the config (pgConnection with the usual fields). */
export interface PgConnectionSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: Secret;
  sslmode?: string | undefined;
  sslrootcert?: string | undefined;
}

/** node-pg's client config for a connection of the config, with a 10 s connect timeout; `field` names it in errors. */
export function pgClientConfig(
  connection: PgConnectionSettings,
  field: string,
  readFile: (path: string) => string = readUtf8,
): PgClientConfig {
  const ssl = pgSsl(connection, field, readFile);
  return {
    host: connection.host,
    port: connection.port,
    database: connection.database,
    user: connection.user,
    password: connection.password.reveal(),
    connectionTimeoutMillis: 10_000,
    ...(ssl ? { ssl } : {}),
  };
}

/** The warning a client owes when it honours insecure: true (TLS without certificate checks). */
export function warnIfUnverified(config: PgClientConfig, logger: { warn(message: string): void }): void {
  if (typeof config.ssl === 'object' && !config.ssl.rejectUnauthorized) {
    logger.warn('the server certificate is not verified (insecure: true); for local use only');
  }
}

/** kafkajs' `ssl` option for `kafka.ssl`. */
export function kafkaSsl(
  ssl: boolean | { ca?: string; cert?: string; key?: Secret; rejectUnauthorized: boolean } | undefined,
  readFile: (path: string) => string = readUtf8,
): boolean | ConnectionOptions {
  if (ssl === undefined || typeof ssl === 'boolean') return ssl ?? false;
  return {
    rejectUnauthorized: ssl.rejectUnauthorized,
    ...(ssl.ca === undefined ? {} : { ca: [readPem(ssl.ca, 'kafka.ssl.ca', readFile)] }),
    ...(ssl.cert === undefined ? {} : { cert: readPem(ssl.cert, 'kafka.ssl.cert', readFile) }),
    ...(ssl.key === undefined ? {} : { key: ssl.key.reveal() }),
  };
}

function readPem(file: string, field: string, readFile: (path: string) => string): string {
  try {
    return readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new DsrCdcError('CONFIG_INVALID', `${field}: cannot read ${file} (${code})`, {
      field,
      cause: error,
    });
  }
}

function readUtf8(file: string): string {
  return readFileSync(file, 'utf8');
}
