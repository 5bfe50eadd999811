import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  detectEmail,
  detectIban,
  detectPaymentCard,
  detectPhone,
  detectUsSsn,
  normalizeAs,
} from '../../../../src/consumers/pii-discovery/detectors.js';
import {
  locationId,
  MIN_PEPPER_BYTES,
  normalizeIdentifier,
  subjectToken,
} from '../../../../src/consumers/pii-discovery/tokens.js';
import type { IdentifierType } from '../../../../src/dsr/contracts.js';
import { DsrCdcError } from '../../../../src/errors.js';

const pepper = Buffer.alloc(32, 7);

describe('normalizeIdentifier', () => {
  it.each<[IdentifierType, string, string | null]>([
    ['email', ' Alice.Smith@Example.COM ', 'alice.smith@example.com'],
    ['email', 'not-an-email', null],
    ['email', 'a@b', null],
    ['phone', '+1 (202) 555-0143', '+12025550143'],
    ['phone', '+44 20 7946 0958', '+442079460958'],
    ['phone', '+1 202 555 0100', '+12025550100'], // not a valid number: '+' and digits, as the index keeps it
    ['phone', '(202) 555-0143', null], // national, and no region to read it in
    ['phone', 'call me', null],
    ['payment_card', '4111 1111-1111 1111', '4111111111111111'],
    ['payment_card', '4111', null],
    ['payment_card', '4111 1111 1111 111x', null],
    ['iban', 'de89 3704 0044 0532 0130 00', 'DE89370400440532013000'],
    ['iban', 'hello', null],
    ['us_ssn', ' 078-05-1120 ', '078051120'],
    ['us_ssn', '078 05 1120', '078051120'],
    ['us_ssn', '78-05-1120', null],
    ['national_id', ' ab-123.456 ', 'AB123456'],
    ['user_id', '  U-42 ', 'U-42'],
    ['user_id', '   ', null],
    ['email', '', null],
  ])('%s %j → %j', (type, value, expected) => {
    expect(normalizeIdentifier(type, value)).toBe(expected);
  });

  it('reads a national phone number in the given default region', () => {
    expect(normalizeIdentifier('phone', '(202) 555-0143', { defaultRegion: 'US' })).toBe('+12025550143');
    expect(normalizeIdentifier('phone', '020 7946 0958', { defaultRegion: 'GB' })).toBe('+442079460958');
  });

  it('gives the form the detectors give, so request and index tokens meet', () => {
    expect(normalizeIdentifier('email', 'ALICE@example.com')).toBe(detectEmail('alice@EXAMPLE.com'));
    expect(normalizeIdentifier('phone', '+12025550143')).toBe(detectPhone('+1 202-555-0143'));
    expect(normalizeIdentifier('payment_card', '4111111111111111')).toBe(
      detectPaymentCard('4111 1111 1111 1111'),
    );
    expect(normalizeIdentifier('iban', 'DE89370400440532013000')).toBe(
      detectIban('de89 3704 0044 0532 0130 00'),
    );
    expect(normalizeIdentifier('us_ssn', '078051120')).toBe(detectUsSsn('078-05-1120'));
    expect(normalizeIdentifier('national_id', 'ab123456')).toBe(normalizeAs('national_id', 'AB-123.456'));
  });
});

describe('subjectToken', () => {
  it('is HMAC-SHA256(pepper, type:normalized) as hex', () => {
    const expected = createHmac('sha256', pepper).update('email:alice@example.com').digest('hex');
    expect(subjectToken(pepper, 'email', 'alice@example.com')).toBe(expected);
  });

  it('gives the same token for the same identifier written differently', () => {
    const token = (value: string) =>
      subjectToken(pepper, 'email', normalizeIdentifier('email', value) as string);
    expect(token('Alice@Example.com')).toBe(token(' alice@EXAMPLE.COM'));
  });

  it('gives different tokens for equal strings of different types', () => {
    expect(subjectToken(pepper, 'user_id', '078051120')).not.toBe(
      subjectToken(pepper, 'us_ssn', '078051120'),
    );
  });

  it('depends on the pepper', () => {
    expect(subjectToken(Buffer.alloc(32, 8), 'email', 'a@b.co')).not.toBe(
      subjectToken(pepper, 'email', 'a@b.co'),
    );
  });

  it('refuses a pepper shorter than 32 bytes, naming dsr.pepper', () => {
    expect(MIN_PEPPER_BYTES).toBe(32);
    let error: unknown;
    try {
      subjectToken(Buffer.alloc(31), 'email', 'a@b.co');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(DsrCdcError);
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', field: 'dsr.pepper' });
    expect((error as Error).message).toContain('dsr.pepper');
    expect(() => subjectToken(Buffer.alloc(0), 'email', 'a@b.co')).toThrow(DsrCdcError);
  });
});

describe('locationId', () => {
  const location = { source: 'app', schema: 'public', table: 'orders', primaryKey: { id: 42, region: 'eu' } };

  it('is a SHA-256 hex independent of key order and of other location fields', () => {
    const id = locationId(location);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(
      locationId({ primaryKey: { region: 'eu', id: 42 }, table: 'orders', schema: 'public', source: 'app' }),
    ).toBe(id);
    const full = { ...location, columns: ['email'], piiTypes: ['email'] };
    expect(locationId(full)).toBe(id);
  });

  it('differs for another row, table, schema or source, and for a key of another type', () => {
    const id = locationId(location);
    expect(locationId({ ...location, primaryKey: { id: 43, region: 'eu' } })).not.toBe(id);
    expect(locationId({ ...location, primaryKey: { id: '42', region: 'eu' } })).not.toBe(id);
    expect(locationId({ ...location, table: 'order' })).not.toBe(id);
    expect(locationId({ ...location, schema: 'sales' })).not.toBe(id);
    expect(locationId({ ...location, source: 'crm' })).not.toBe(id);
  });

  it('does not confuse parts that concatenate alike', () => {
    expect(locationId({ ...location, schema: 'a.b', table: 'c' })).not.toBe(
      locationId({ ...location, schema: 'a', table: 'b.c' }),
    );
  });
});
