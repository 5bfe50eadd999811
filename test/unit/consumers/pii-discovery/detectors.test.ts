import { describe, expect, it } from 'vitest';
import {
  type ColumnType,
  type CountryCode,
  columnSemantics,
  detectEmail,
  detectIban,
  detectIpAddress,
  detectPaymentCard,
  detectPhone,
  detectRow,
  detectUsSsn,
  type Finding,
  normalizeAs,
  PII_TYPES,
  type PiiType,
  scanText,
} from '../../../../src/consumers/pii-discovery/detectors.js';

describe('detectEmail', () => {
  it.each([
    ['jane.doe@example.com', 'jane.doe@example.com'],
    ['  Jane.Doe@Example.COM \n', 'jane.doe@example.com'],
    ['a+tag@sub.example.co.uk', 'a+tag@sub.example.co.uk'],
    ["o'brien@example.ie", "o'brien@example.ie"],
    ['user@example.xn--p1ai', 'user@example.xn--p1ai'],
    ['x@my-host.example.org', 'x@my-host.example.org'],
  ])('accepts %j as %j', (text, normalized) => {
    expect(detectEmail(text)).toBe(normalized);
  });

  it.each([
    'a@b',
    'a@b.c',
    'a@example.c0m',
    'a@10.0.0.1',
    'logo@2x.png',
    'bundle@3.1.js',
    'a..b@example.com',
    '.a@example.com',
    'a.@example.com',
    'a@-example.com',
    'a@example-.com',
    'a@example..com',
    '@example.com',
    'example.com',
    'a b@example.com',
    'Jane <jane@example.com>',
    'jané@example.com',
    `${'a'.repeat(65)}@example.com`,
    `a@${'b'.repeat(250)}.com`,
    '',
  ])('rejects %j', (text) => {
    expect(detectEmail(text)).toBeNull();
  });
});

describe('detectPhone', () => {
  it.each<[string, CountryCode | undefined, string]>([
    ['+44 20 7946 0958', undefined, '+442079460958'],
    ['+44 20 7946 0958', 'US', '+442079460958'],
    ['+44 (0)20 7946 0958', undefined, '+442079460958'],
    ['+7 495 123 4567', undefined, '+74951234567'],
    ['(202) 555-0143', 'US', '+12025550143'],
    ['202-555-0143', 'US', '+12025550143'],
    ['202.555.0143', 'US', '+12025550143'],
    ['1-800-555-0199', 'US', '+18005550199'],
    ['+1 (415) 555-2671 ext. 12', undefined, '+14155552671'],
    ['+1 415 555 2671 x12', undefined, '+14155552671'],
    ['+4915123456789', undefined, '+4915123456789'],
    ['020 7946 0958', 'GB', '+442079460958'],
    ['0207 946 0958', 'GB', '+442079460958'],
    ['030 12345678', 'DE', '+493012345678'],
    ['01.23.45.67.89', 'FR', '+33123456789'],
    ['+33 1 23 45 67 89', undefined, '+33123456789'],
  ])('accepts %j (region %s) as %s', (text, defaultRegion, e164) => {
    expect(detectPhone(text, { defaultRegion })).toBe(e164);
  });

  it.each<[string, CountryCode | undefined]>([
    // national formats need a region, and must be valid in it
    ['(202) 555-0143', undefined],
    ['(202) 555-0143', 'GB'],
    ['020 7946 0958', 'US'],
    // bare digits need phone column semantics
    ['2025550143', 'US'],
    ['1700000000', 'GB'],
    // identifiers, dates, versions and other numbers
    ['550e8400-e29b-41d4-a716-446655440000', 'US'],
    ['2024-01-15', 'US'],
    ['2024-01-15', 'DK'], // a valid Danish number, but a date
    ['31.12.2023', 'NO'],
    ['2024/03/21', 'DE'],
    ['2024-01-15T10:20:30Z', 'US'],
    ['15.01.2024', 'DE'],
    ['12/31/2024', 'US'],
    ['ORD-2024-000123', 'US'],
    ['2024-000123', 'US'],
    ['1.2.3', 'US'],
    ['10.0.19045', 'US'],
    ['2.10.1045', 'US'],
    ['192.168.10.100', 'US'],
    ['212.58.244.22', 'US'], // a valid US number, but an IPv4 address
    ['31.13.72.36', 'DK'],
    ['4111 1111 1111 1111', 'US'],
    ['123-45-6789', 'US'],
    ['+1 555', undefined],
    ['+999 1234 5678', undefined],
    ['call 202-555-0143', 'US'],
    ['1-800-FLOWERS', 'US'],
    ['', 'US'],
  ])('rejects %j (region %s)', (text, defaultRegion) => {
    expect(detectPhone(text, { defaultRegion })).toBeNull();
  });

  it('accepts bare digits only with allowPlainDigits, and still only valid numbers', () => {
    expect(detectPhone('2025550143', { defaultRegion: 'US', allowPlainDigits: true })).toBe('+12025550143');
    expect(detectPhone('2025550143', { allowPlainDigits: true })).toBeNull();
    expect(detectPhone('1234567890', { defaultRegion: 'US', allowPlainDigits: true })).toBeNull();
    expect(detectPhone('20240115', { defaultRegion: 'US', allowPlainDigits: true })).toBeNull();
  });
});

describe('detectPaymentCard', () => {
  it.each([
    ['4111 1111 1111 1111', '4111111111111111'], // Visa
    ['4111-1111-1111-1111', '4111111111111111'],
    ['4222222222222', '4222222222222'], // Visa, 13 digits
    ['5555555555554444', '5555555555554444'], // Mastercard
    ['2223003122003222', '2223003122003222'], // Mastercard 2-series
    ['3782 822463 10005', '378282246310005'], // Amex
    ['6011111111111117', '6011111111111117'], // Discover
    ['3530111333300000', '3530111333300000'], // JCB
    ['30569309025904', '30569309025904'], // Diners, 14 digits
    ['6200000000000005', '6200000000000005'], // UnionPay
    [' 4012888888881881 ', '4012888888881881'],
  ])('accepts %j as %s', (text, digits) => {
    expect(detectPaymentCard(text)).toBe(digits);
  });

  it.each([
    '4111 1111 1111 1112', // Luhn
    '5555555555554445', // Luhn
    '1234567812345670', // Luhn-valid, no issuer starts with 1
    '7992739871300000', // no issuer
    '411111111111111', // Visa prefix, 15 digits: not a Visa length
    '378282246310005000', // Amex prefix, wrong length
    '4111  1111 1111 1111', // double separator
    '4111_1111_1111_1111',
    '411111111111', // 12 digits
    '41111111111111111111', // 20 digits
    '550e8400-e29b-41d4-a716-446655440000',
    '2024-01-15T10:20:30Z',
    '',
  ])('rejects %j', (text) => {
    expect(detectPaymentCard(text)).toBeNull();
  });

  it('rejects every number of one repeated digit', () => {
    for (let digit = 0; digit <= 9; digit++) {
      for (let length = 13; length <= 19; length++) {
        expect(detectPaymentCard(String(digit).repeat(length))).toBeNull();
      }
    }
  });
});

describe('detectIban', () => {
  it.each([
    ['DE89 3704 0044 0532 0130 00', 'DE89370400440532013000'],
    ['de89370400440532013000', 'DE89370400440532013000'],
    ['GB82WEST12345698765432', 'GB82WEST12345698765432'],
    ['GB82 WEST 1234 5698 7654 32', 'GB82WEST12345698765432'],
    ['FR1420041010050500013M02606', 'FR1420041010050500013M02606'],
    ['NL91ABNA0417164300', 'NL91ABNA0417164300'],
    ['NO9386011117947', 'NO9386011117947'],
    ['MT84MALT011000012345MTLCAST001S', 'MT84MALT011000012345MTLCAST001S'],
  ])('accepts %j as %s', (text, iban) => {
    expect(detectIban(text)).toBe(iban);
  });

  it.each([
    'DE88 3704 0044 0532 0130 00', // check digits
    'DE89 3704 0044 0532 0130 01', // check digits
    'DE89 3704 0044 0532 0130 0', // length for DE
    'DE5137040044053201300', // check digits valid, one short for DE
    'GB88WEST1234569876543', // check digits valid, one short for GB
    'XX46370400440532013000', // check digits valid, unknown country
    'DE89  3704 0044 0532 0130 00', // double space
    'DE89-3704-0044-0532-0130-00',
    '89DE370400440532013000',
    '',
  ])('rejects %j', (text) => {
    expect(detectIban(text)).toBeNull();
  });
});

describe('detectUsSsn', () => {
  it.each([
    ['123-45-6789', '123456789'],
    [' 078-05-1120 ', '078051120'],
    ['899-99-9999', '899999999'],
    ['665-01-0001', '665010001'],
  ])('accepts %j as %s', (text, digits) => {
    expect(detectUsSsn(text)).toBe(digits);
  });

  it.each([
    '000-12-3456',
    '666-12-3456',
    '900-12-3456',
    '999-12-3456',
    '123-00-4567',
    '123-45-0000',
    '123456789', // bare digits need ssn column semantics
    '123 45 6789',
    '123-456-789',
    '1234-56-789',
    '',
  ])('rejects %j', (text) => {
    expect(detectUsSsn(text)).toBeNull();
  });

  it('accepts nine bare digits only with allowPlainDigits, with the same exclusions', () => {
    expect(detectUsSsn('123456789', { allowPlainDigits: true })).toBe('123456789');
    expect(detectUsSsn('666123456', { allowPlainDigits: true })).toBeNull();
    expect(detectUsSsn('12345678', { allowPlainDigits: true })).toBeNull();
  });
});

describe('detectIpAddress', () => {
  it.each([
    ['203.0.113.7', '203.0.113.7'],
    [' 10.1.2.3 ', '10.1.2.3'],
    ['1.2.3.4', '1.2.3.4'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    ['::ffff:198.51.100.7', '198.51.100.7'],
    ['fe80::1%eth0', 'fe80::1'],
  ])('accepts %j as %s', (text, canonical) => {
    expect(detectIpAddress(text)).toBe(canonical);
  });

  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '::ffff:127.0.0.1',
    '0.0.0.0',
    '::',
    '255.255.255.255',
    '1.2.3',
    '10.0.19045',
    '10.0.19045.2965',
    '256.1.1.1',
    '010.0.0.1',
    '2001:db8::g',
    '',
  ])('rejects %j', (text) => {
    expect(detectIpAddress(text)).toBeNull();
  });
});

describe('scanText', () => {
  const ticket = [
    'Hi support, this is Jane (JANE.Doe@Example.COM, alt: jd+billing@example.co.uk.)',
    'Call me on +44 20 7946 0958 or (202) 555-0143 x12 after 5pm.',
    'My card 4111 1111 1111 1111 was charged twice for ORD-2024-000123 on 2024-01-15T10:20:30Z.',
    'Refund to IBAN DE89 3704 0044 0532 0130 00 THANKS. SSN 123-45-6789 if needed.',
    'Not mine: 4111 1111 1111 1112, GB00WEST12345698765432, 000-12-3456, 666-12-3456.',
    'Device 550e8400-e29b-41d4-a716-446655440000, Windows 10.0.19045, app 1.2.3, logo@2x.png, me@localhost.',
  ].join('\n');

  it('finds every identifier in a support ticket and none of the decoys, in text order', () => {
    const matches = scanText(ticket, { defaultRegion: 'US' });
    expect(matches.map(({ type, normalized }) => [type, normalized])).toEqual([
      ['email', 'jane.doe@example.com'],
      ['email', 'jd+billing@example.co.uk'],
      ['phone', '+442079460958'],
      ['phone', '+12025550143'],
      ['payment_card', '4111111111111111'],
      ['iban', 'DE89370400440532013000'],
      ['us_ssn', '123456789'],
    ]);
    for (const match of matches) {
      expect(match.end).toBeGreaterThan(match.start);
    }
    expect(ticket.slice(matches[5]?.start, matches[5]?.end)).toBe('DE89 3704 0044 0532 0130 00');
  });

  it('needs a region for national phone formats', () => {
    expect(scanText('call (202) 555-0143').map((match) => match.type)).toEqual([]);
  });

  it('reports a card number or IBAN as such, not parts of it as phones', () => {
    // '5555 5555 5555' is a valid German number and '3704 0044 0532' a valid Italian one
    expect(scanText('pay with 5555-5555-5555-4444 now', { defaultRegion: 'DE' })).toEqual([
      { type: 'payment_card', normalized: '5555555555554444', start: 9, end: 28 },
    ]);
    expect(scanText('to DE89 3704 0044 0532 0130 00', { defaultRegion: 'IT' })).toEqual([
      { type: 'iban', normalized: 'DE89370400440532013000', start: 3, end: 30 },
    ]);
  });

  it('does not take digits glued to letters or dashes as phones', () => {
    expect(
      scanText('ref ORD-2024-000123 and INV2024000123 and #202-555-0143', { defaultRegion: 'US' }),
    ).toEqual([]);
  });

  it('separates a phone from a trailing number', () => {
    expect(scanText('ring +44 20 7946 0958 12 times').map((match) => match.normalized)).toEqual([
      '+442079460958',
    ]);
  });

  it('finds nothing in text without PII, and copes with long input', () => {
    expect(scanText('Thanks, all good now! Version 2.3.4 fixed it.')).toEqual([]);
    expect(scanText(`${'a'.repeat(200_000)}@`)).toEqual([]);
  });
});

describe('columnSemantics', () => {
  it.each<[string, PiiType | null]>([
    ['email', 'email'],
    ['billing_email', 'email'],
    ['emailAddress', 'email'],
    ['e_mail', 'email'],
    ['emails', 'email'],
    ['email_verified', null],
    ['phone', 'phone'],
    ['phone_number', 'phone'],
    ['mobilePhone', 'phone'],
    ['phone2', 'phone'],
    ['contact_phones', 'phone'],
    ['phone_id', null],
    ['phone_verified_at', null],
    ['first_name', 'person_name'],
    ['lastName', 'person_name'],
    ['full_name', 'person_name'],
    ['surname', 'person_name'],
    ['name', null],
    ['company_name', null],
    ['user_name', null],
    ['dob', 'date_of_birth'],
    ['birth_date', 'date_of_birth'],
    ['date_of_birth', 'date_of_birth'],
    ['birthday', 'date_of_birth'],
    ['address', 'postal_address'],
    ['home_address', 'postal_address'],
    ['address_line1', 'postal_address'],
    ['street', 'postal_address'],
    ['billing_zip', 'postal_address'],
    ['shipping_postal_code', 'postal_address'],
    ['zip', null],
    ['postal_code', null],
    ['city', null],
    ['address_id', null],
    ['email_address', 'email'],
    ['ip_address', 'ip_address'],
    ['remote_addr', 'ip_address'],
    ['mac_address', null],
    ['wallet_address', null],
    ['national_id', 'national_id'],
    ['passport_number', 'national_id'],
    ['has_passport', null],
    ['tax_id', 'national_id'],
    ['nino', 'national_id'],
    ['id_card_number', 'national_id'],
    ['drivers_license_no', 'national_id'],
    ['ssn', 'us_ssn'],
    ['social_security_number', 'us_ssn'],
    ['card_number', 'payment_card'],
    ['credit_card', 'payment_card'],
    ['card', null],
    ['iban', 'iban'],
    ['status', null],
    ['', null],
  ])('%j → %s', (name, type) => {
    expect(columnSemantics(name)).toBe(type);
  });
});

describe('normalizeAs', () => {
  it.each<[PiiType, string, string | null]>([
    ['email', ' Bob@Example.COM ', 'bob@example.com'],
    ['email', ' Not An Email ', 'not an email'],
    ['phone', '202 555 0143', '+12025550143'],
    ['phone', 'ext 12', '12'],
    ['payment_card', '4111-1111-1111-1111', '4111111111111111'],
    ['iban', 'de89 3704 0044 0532 0130 00', 'DE89370400440532013000'],
    ['us_ssn', '123-45-6789', '123456789'],
    ['ip_address', '2001:DB8::1', '2001:db8::1'],
    ['national_id', 'ab 12-34.56 c', 'AB123456C'],
    ['date_of_birth', '1990-02-03T00:00:00Z', '1990-02-03'],
    ['date_of_birth', '03/02/1990', '03/02/1990'],
    ['person_name', '  Jane \t  Doe ', 'Jane Doe'],
    ['postal_address', '1 Main St,\n Springfield', '1 Main St, Springfield'],
    ['person_name', '  ', null],
    ['postal_address', '--', null],
  ])('%s %j → %j', (type, text, normalized) => {
    expect(normalizeAs(type, text, { defaultRegion: 'US' })).toBe(normalized);
  });
});

describe('detectRow', () => {
  const none: Record<string, ColumnType> = {};
  const brief = (findings: Finding[]) =>
    findings.map(({ type, normalized, column, jsonPath, reason }) => [
      type,
      normalized,
      column,
      jsonPath,
      reason,
    ]);

  it('checks whole values, then free text, and reports what proved each finding', () => {
    const row = {
      id: 42,
      email: '  Jane.Doe@Example.com ',
      notes: 'Call 202-555-0143 or mail jane@example.org',
      phone: '2025550143',
      fax: '2025550143',
      ssn: '123456789',
      tax_ref: '123456789',
      card: '4111 1111 1111 1111',
      created_at: '2024-01-15T10:20:30Z',
      order_ref: 'ORD-2024-000123',
      device: '550e8400-e29b-41d4-a716-446655440000',
      last_ip: '203.0.113.9',
      agent_version: '10.0.19045',
    };
    expect(brief(detectRow(row, none, { defaultRegion: 'US' }))).toEqual([
      ['payment_card', '4111111111111111', 'card', undefined, 'value-pattern'],
      ['email', 'jane.doe@example.com', 'email', undefined, 'value-pattern'],
      ['phone', '+12025550143', 'fax', undefined, 'column-name'],
      ['ip_address', '203.0.113.9', 'last_ip', undefined, 'value-pattern'],
      ['phone', '+12025550143', 'notes', undefined, 'value-pattern'],
      ['email', 'jane@example.org', 'notes', undefined, 'value-pattern'],
      ['phone', '+12025550143', 'phone', undefined, 'column-name'],
      ['us_ssn', '123456789', 'ssn', undefined, 'column-name'],
    ]);
  });

  it('needs the default region for bare-digit phones', () => {
    expect(detectRow({ phone: '2025550143' }, none, {})).toEqual([]);
  });

  it('reports names, dates of birth, addresses and national ids from column names only', () => {
    const row = {
      first_name: ' Jane ',
      last_name: 'N/A',
      middle_name: 'unknown',
      given_name: '李',
      name: 'Widget Pro',
      dob: '1990-02-03',
      billing_address: '1 Main St\nSpringfield',
      city: 'Springfield',
      passport_number: 'ab 123 456 c',
      tax_id: 3,
    };
    expect(brief(detectRow(row, none))).toEqual([
      ['postal_address', '1 Main St Springfield', 'billing_address', undefined, 'column-name'],
      ['date_of_birth', '1990-02-03', 'dob', undefined, 'column-name'],
      ['person_name', 'Jane', 'first_name', undefined, 'column-name'],
      ['person_name', '李', 'given_name', undefined, 'column-name'],
      ['national_id', 'AB123456C', 'passport_number', undefined, 'column-name'],
    ]);
  });

  it('counts numbers and bigints only where the column name says what they are', () => {
    const row = {
      amount: 2025550143,
      external_id: 4111111111111111n,
      phone: 2025550143n,
      ssn: 78051120, // 078-05-1120 stored as an integer: the leading zero is gone
      card_number: 4111111111111111n,
      dob: 7338, // Avro date: days since 1970
      first_name: 12,
      mobile: 1.5,
      // a float beyond 2^53 prints as '4000000000000003000', a Luhn-valid Visa number it is not
      credit_card: 4e18 + 3072,
    };
    expect(brief(detectRow(row, none, { defaultRegion: 'US' }))).toEqual([
      ['payment_card', '4111111111111111', 'card_number', undefined, 'column-name'],
      ['date_of_birth', '7338', 'dob', undefined, 'column-name'],
      ['phone', '+12025550143', 'phone', undefined, 'column-name'],
      ['us_ssn', '078051120', 'ssn', undefined, 'column-name'],
    ]);
  });

  it('walks json columns and reports JSON paths, judging each value by its nearest key', () => {
    const profile = JSON.stringify({
      contact: { email: 'Jane@Example.com' },
      contacts: [{ phone: '+1 415 555 2671' }, { phone: '2025550143', label: 'home' }],
      address: { street: '1 Main St', city: 'Springfield' },
      'first name': 'Jane',
      tags: ['vip', 'jd@example.net'],
      version: '1.2.3',
      count: 2025550143,
    });
    expect(brief(detectRow({ profile }, { profile: 'json' }, { defaultRegion: 'US' }))).toEqual([
      ['email', 'jane@example.com', 'profile', '$.contact.email', 'value-pattern'],
      ['phone', '+14155552671', 'profile', '$.contacts[0].phone', 'value-pattern'],
      ['phone', '+12025550143', 'profile', '$.contacts[1].phone', 'column-name'],
      [
        'postal_address',
        '{"street":"1 Main St","city":"Springfield"}',
        'profile',
        '$.address',
        'column-name',
      ],
      ['postal_address', '1 Main St', 'profile', '$.address.street', 'column-name'],
      ['person_name', 'Jane', 'profile', "$['first name']", 'column-name'],
      ['email', 'jd@example.net', 'profile', '$.tags[1]', 'value-pattern'],
    ]);
  });

  it('walks JSON text in text columns, arrays, and scalar JSON in json columns', () => {
    const row = {
      payload: ' [{"who": {"emails": ["a@example.com", "b@example.com"]}}] ',
      phones: ['+44 20 7946 0958', null, ['+33 1 23 45 67 89']],
      doc: '"c@example.com"',
      quoted: '"d@example.com"',
    };
    const types: Record<string, ColumnType> = { doc: 'json', payload: 'text' };
    expect(brief(detectRow(row, types))).toEqual([
      ['email', 'c@example.com', 'doc', '$', 'value-pattern'],
      ['email', 'a@example.com', 'payload', '$[0].who.emails[0]', 'value-pattern'],
      ['email', 'b@example.com', 'payload', '$[0].who.emails[1]', 'value-pattern'],
      ['phone', '+442079460958', 'phones', '$[0]', 'value-pattern'],
      ['phone', '+33123456789', 'phones', '$[2][0]', 'value-pattern'],
      ['email', 'd@example.com', 'quoted', undefined, 'value-pattern'],
    ]);
  });

  it('treats broken JSON as text, and does not parse JSON in other columns', () => {
    const row = { data: '{"email": "e@example.com"', raw: '{"email": "f@example.com"}' };
    expect(brief(detectRow(row, { data: 'json', raw: 'other' }))).toEqual([
      ['email', 'e@example.com', 'data', undefined, 'value-pattern'],
      ['email', 'f@example.com', 'raw', undefined, 'value-pattern'],
    ]);
  });

  it('reports a repeated value at one place once', () => {
    const findings = detectRow({ body: 'a@example.com, again A@EXAMPLE.COM' }, none);
    expect(brief(findings)).toEqual([['email', 'a@example.com', 'body', undefined, 'value-pattern']]);
  });

  it('is deterministic: columns in name order whatever the row key order', () => {
    const a = detectRow({ z_email: 'z@example.com', a_email: 'a@example.com' }, none);
    const b = detectRow({ a_email: 'a@example.com', z_email: 'z@example.com' }, none);
    expect(a).toEqual(b);
    expect(a.map((finding) => finding.column)).toEqual(['a_email', 'z_email']);
  });

  it('ignores booleans, nulls, Buffers and other objects, and never throws on odd input', () => {
    const circular: unknown[] = ['g@example.com'];
    circular.push(circular);
    let deep: unknown = 'h@example.com';
    for (let i = 0; i < 10_000; i++) deep = [deep];
    const row = {
      flag: true,
      nothing: null,
      missing: undefined,
      blob: Buffer.from('i@example.com'),
      when: new Date(),
      map: new Map([['email', 'j@example.com']]),
      symbol: Symbol('x'),
      fn: () => 'k@example.com',
      nan: Number.NaN,
      phone: Number.POSITIVE_INFINITY,
      circular,
      deep,
      deepJson: `${'['.repeat(5000)}"l@example.com"${']'.repeat(5000)}`,
    };
    const findings = detectRow(row, { deepJson: 'json' });
    expect(findings.filter((finding) => finding.column !== 'circular')).toEqual([]);
    expect(
      findings.some((finding) => finding.jsonPath === '$[0]' && finding.normalized === 'g@example.com'),
    ).toBe(true);
  });
});

describe('PII_TYPES', () => {
  it('lists every type once', () => {
    expect(new Set(PII_TYPES).size).toBe(10);
  });
});
