/**
 * Subject tokens: what stands for a data subject's identifier in `dsr.subject-index`, results
 * and audit events, so that raw identifiers never leave the process that read them.
 *
 * token = HMAC-SHA256(pepper, `${type}:${normalized}`), hex. The pepper is a secret: without it a
 * token cannot be tested against guessed identifiers (emails and phone numbers are easy to
 * enumerate, so a plain hash would not protect them). The type is inside the MAC so equal strings
 * of different identifier types ('123456789' as a user id and as an SSN) never share a token.
 *
 * A request's identifier and a detector finding give the same token only if they normalise
 * alike, so normalisation here reuses the detectors' own (detectors.ts) wherever they overlap.
 * Pure: no I/O, no logging (the inputs are personal data).
 */
import { createHmac } from 'node:crypto';
import { canonicalHash } from '../../dsr/canonical.js';
import type { DsrLocation, IdentifierType } from '../../dsr/contracts.js';
import { DsrCdcError } from '../../errors.js';
import { type DetectOptions, detectEmail, normalizeAs, type PiiType } from './detectors.js';

/** Shortest pepper accepted: 32 bytes (256 bits), the full strength of HMAC-SHA256. */
export const MIN_PEPPER_BYTES = 32;

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * The canonical form of an identifier, or null when the value cannot be one of `type`:
 * - email: trimmed, lower-cased, and shaped like an address (detectEmail);
 * - phone: E.164 via libphonenumber-js (detectors' `max` metadata), from '+CC …' or, with
 *   `defaultRegion`, a national number. A number the library calls invalid keeps '+' and its
 *   digits, as the index does for configured phone columns; anything not international is null;
 * - payment_card: 12–19 digits, spaces and dashes dropped;
 * - iban: upper case without spaces, shaped like CC00…;
 * - us_ssn: nine digits, separators dropped;
 * - national_id: upper case without spaces, dots, slashes or dashes (as detectors normalise it);
 * - user_id: trimmed.
 */
export function normalizeIdentifier(
  type: IdentifierType,
  value: string,
  options: DetectOptions = {},
): string | null {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  switch (type) {
    case 'email':
      return detectEmail(trimmed);
    case 'phone': {
      const phone = /^\+?[\d\s().\-/]+$/.test(trimmed) ? normalizeAs('phone', trimmed, options) : null;
      return phone !== null && E164.test(phone) ? phone : null;
    }
    case 'payment_card': {
      const digits = trimmed.replace(/[\s-]/g, '');
      return /^\d{12,19}$/.test(digits) ? digits : null;
    }
    case 'iban': {
      const iban = trimmed.replace(/\s/g, '').toUpperCase();
      return /^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(iban) ? iban : null;
    }
    case 'us_ssn': {
      const digits = trimmed.replace(/[\s-]/g, '');
      return /^\d{9}$/.test(digits) ? digits : null;
    }
    case 'national_id':
      return normalizeAs('national_id', trimmed);
    case 'user_id':
      return trimmed;
  }
}

/** HMAC-SHA256(pepper, `${type}:${normalized}`) as hex; `normalized` from normalizeIdentifier. */
export function subjectToken(pepper: Buffer, type: IdentifierType | PiiType, normalized: string): string {
  if (pepper.length < MIN_PEPPER_BYTES) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      `dsr.pepper is ${pepper.length} bytes; it must be at least ${MIN_PEPPER_BYTES} random bytes`,
      { field: 'dsr.pepper' },
    );
  }
  return createHmac('sha256', pepper).update(`${type}:${normalized}`, 'utf8').digest('hex');
}

/** A stable id of one row: SHA-256 hex of the canonical JSON of source, schema, table, primaryKey. */
export function locationId(
  location: Pick<DsrLocation, 'source' | 'schema' | 'table' | 'primaryKey'>,
): string {
  const { source, schema, table, primaryKey } = location;
  return canonicalHash({ source, schema, table, primaryKey });
}
