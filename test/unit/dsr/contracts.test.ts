import { describe, expect, it } from 'vitest';
import {
  type DsrResult,
  dsrJsonSchemas,
  parseAuditEvent,
  parseDsrRequest,
  parseDsrResult,
} from '../../../src/dsr/contracts.js';
import { DsrCdcError } from '../../../src/errors.js';

const valid = {
  requestId: 'req-2025.03:0001_a',
  type: 'erasure',
  identifiers: [
    { type: 'email', value: 'Alice@Example.com' },
    { type: 'phone', value: '+44 20 7946 0958' },
  ],
  submittedAt: '2025-03-01T10:00:00Z',
  deadline: '2025-03-31T10:00:00.000+02:00',
};

/** The DsrCdcError `parse` throws for `input`. */
function failure(parse: (input: unknown) => unknown, input: unknown): DsrCdcError {
  try {
    parse(input);
  } catch (error) {
    if (error instanceof DsrCdcError) return error;
    throw error;
  }
  throw new Error('expected the input to be refused');
}

describe('parseDsrRequest', () => {
  it('accepts a valid request and returns it unchanged', () => {
    expect(parseDsrRequest(valid)).toEqual(valid);
    const { deadline: _deadline, ...withoutDeadline } = valid;
    expect(parseDsrRequest(withoutDeadline)).toEqual(withoutDeadline);
  });

  it('accepts every identifier type', () => {
    for (const type of ['email', 'phone', 'user_id', 'payment_card', 'iban', 'us_ssn', 'national_id']) {
      expect(parseDsrRequest({ ...valid, identifiers: [{ type, value: 'x' }] }).identifiers[0]?.type).toBe(
        type,
      );
    }
  });

  it.each([
    [
      'a request id with a space',
      { requestId: 'req 1' },
      'requestId: expected only letters, digits and . _ : -',
    ],
    ['a long request id', { requestId: 'r'.repeat(129) }, 'requestId: expected at most 128 character(s)'],
    ['an unknown type', { type: 'rectify' }, 'type: expected one of "access", "erasure"'],
    ['no identifiers', { identifiers: [] }, 'identifiers: expected at least 1 item(s)'],
    [
      'too many identifiers',
      { identifiers: Array.from({ length: 21 }, () => ({ type: 'email', value: 'a@b.co' })) },
      'identifiers: expected at most 20 item(s)',
    ],
    [
      'an unknown identifier type',
      { identifiers: [{ type: 'name', value: 'Alice' }] },
      'identifiers[0].type: expected one of "email", "phone", "user_id", "payment_card", "iban", "us_ssn", "national_id"',
    ],
    [
      'an empty value',
      { identifiers: [{ type: 'email', value: '' }] },
      'identifiers[0].value: expected a non-empty string',
    ],
    [
      'a long value',
      { identifiers: [{ type: 'user_id', value: 'u'.repeat(513) }] },
      'identifiers[0].value: expected at most 512 character(s)',
    ],
    [
      'a number as value',
      { identifiers: [{ type: 'phone', value: 2025550143 }] },
      'identifiers[0].value: expected a string, got a number',
    ],
    [
      'a datetime without a time zone',
      { submittedAt: '2025-03-01T10:00:00' },
      'submittedAt: expected an ISO-8601 date-time with a time zone',
    ],
    [
      'a date as deadline',
      { deadline: '2025-03-31' },
      'deadline: expected an ISO-8601 date-time with a time zone',
    ],
    ['an unknown field', { note: 'x' }, 'note: unknown field'],
    [
      'an unknown identifier field',
      { identifiers: [{ type: 'email', value: 'a@b.co', verified: true }] },
      'identifiers[0].verified: unknown field',
    ],
  ])('refuses %s, naming the field and what was expected', (_name, change, line) => {
    const error = failure(parseDsrRequest, { ...valid, ...change });
    expect(error.code).toBe('EVENT_INVALID');
    expect(error.message).toContain(line);
  });

  it('names a missing field as required', () => {
    const { submittedAt: _submittedAt, ...missing } = valid;
    expect(failure(parseDsrRequest, missing).message).toContain('submittedAt: required, expected a string');
  });

  it('refuses a value that is not an object without quoting it', () => {
    const error = failure(parseDsrRequest, 'alice@example.com');
    expect(error.message).toBe('invalid DSR request:\n  (root): expected an object, got a string');
    expect(failure(parseDsrRequest, null).message).toContain('(root): expected an object, got null');
  });

  it('lists every problem, one line each, and names the first as the field', () => {
    const error = failure(parseDsrRequest, { ...valid, type: 'x', submittedAt: 'now' });
    expect(error.message.split('\n')).toHaveLength(3);
    expect(error.field).toBe('type');
  });

  it('never includes submitted values in the message', () => {
    const secrets = [
      'alice.secret@example.com',
      '+1 202 555 0143',
      '4111111111111111',
      'DE89370400440532013000',
      '078-05-1120',
      'Alice Smith',
    ];
    const inputs: unknown[] = [
      {
        ...valid,
        requestId: secrets[0],
        type: secrets[5],
        submittedAt: secrets[1],
        deadline: secrets[2],
        identifiers: [
          { type: secrets[3], value: secrets[4] },
          { type: 'email', value: secrets[0], extra: secrets[5] },
          { type: 'email', value: `${secrets[0]} `.repeat(40) },
        ],
        [secrets[0] as string]: secrets[1],
        [secrets[2] as string]: true,
      },
      { ...valid, identifiers: secrets.map((value) => ({ type: value, value })) },
      secrets[0],
      secrets,
    ];
    for (const input of inputs) {
      const message = failure(parseDsrRequest, input).message;
      for (const secret of secrets) expect(message).not.toContain(secret);
      expect(message).not.toMatch(/alice|example|4111|0143|1120|DE89/i);
    }
  });

  it('shows an unknown key that does not look like a field name as <key>', () => {
    const error = failure(parseDsrRequest, { ...valid, 'bob@example.com': 1 });
    expect(error.message).toContain('<key>: unknown field');
    expect(error.message).not.toContain('bob');
  });
});

const result: DsrResult = {
  requestId: 'req-1',
  type: 'access',
  status: 'complete',
  locations: [
    {
      source: 'app',
      schema: 'public',
      table: 'orders',
      primaryKey: { id: 42, region: 'eu', archived: false, note: null },
      columns: ['shipping_address'],
      piiTypes: ['postal_address'],
      matchedBy: {
        kind: 'foreign-key',
        via: { schema: 'public', table: 'customers', primaryKey: { id: 7 } },
      },
      lastPosition: { commitLsn: '24023128', seq: '3' },
    },
    {
      source: 'crm',
      schema: 'crm',
      table: 'contacts',
      primaryKey: { id: 'c-1' },
      columns: ['email'],
      piiTypes: ['email'],
      matchedBy: { kind: 'identifier', identifierType: 'email' },
      lastPosition: { commitLsn: null, seq: '18446744073709551615' },
    },
  ],
  consistentAsOf: { 'cdc.app.public.customers/0': '120', 'cdc.app.public.orders/5': '0' },
  caughtUp: true,
  answeredAt: '2025-03-01T10:00:02.123Z',
};

describe('parseDsrResult', () => {
  it('accepts a result with locations of each kind', () => {
    expect(parseDsrResult(result)).toEqual(result);
    expect(
      parseDsrResult({ ...result, status: 'rejected', locations: [], consistentAsOf: {}, reason: 'x' })
        .status,
    ).toBe('rejected');
  });

  it.each([
    ['an offset as a number', { consistentAsOf: { 'cdc.app.public.customers/0': 120 } }],
    ['a consistentAsOf key without a partition', { consistentAsOf: { 'cdc.app.public.customers': '1' } }],
    ['an unknown status', { status: 'done' }],
    ['a row value in a location', { locations: [{ ...result.locations[0], values: { email: 'a@b.co' } }] }],
    [
      'a position as a number',
      { locations: [{ ...result.locations[0], lastPosition: { commitLsn: 1, seq: '1' } }] },
    ],
    ['a nested primary key value', { locations: [{ ...result.locations[0], primaryKey: { id: { a: 1 } } }] }],
  ])('refuses %s', (_name, change) => {
    expect(failure(parseDsrResult, { ...result, ...change }).code).toBe('EVENT_INVALID');
  });
});

describe('parseAuditEvent', () => {
  const event = {
    requestId: 'req-1',
    step: 'received',
    at: '2025-03-01T10:00:00Z',
    detail: { identifiers: 2, types: 'email,phone', valid: true },
    prevHash: '0'.repeat(64),
    hash: 'ab'.repeat(32),
  };

  it('accepts an event', () => {
    expect(parseAuditEvent(event)).toEqual(event);
  });

  it.each([
    ['an upper-case hash', { hash: 'AB'.repeat(32) }, 'hash: expected 64 lower-case hex digits'],
    ['a short prevHash', { prevHash: '00' }, 'prevHash: expected 64 lower-case hex digits'],
    [
      'a nested detail',
      { detail: { identifiers: ['a'] } },
      'detail.identifiers: expected a string, number or boolean',
    ],
    ['an unknown step', { step: 'erased' }, 'step: expected one of "received", "rejected", "answered"'],
  ])('refuses %s', (_name, change, line) => {
    expect(failure(parseAuditEvent, { ...event, ...change }).message).toContain(line);
  });
});

describe('dsrJsonSchemas', () => {
  it('has a strict draft-07 JSON Schema per DSR topic family', () => {
    expect(Object.keys(dsrJsonSchemas).sort()).toEqual([
      'dsr-audit',
      'dsr-discovery-results',
      'dsr-requests',
    ]);
    for (const schema of Object.values(dsrJsonSchemas)) {
      expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
      expect(schema.type).toBe('object');
      expect(schema.additionalProperties).toBe(false);
    }
  });

  it('states the request contract: required fields, enums and bounds', () => {
    const schema = dsrJsonSchemas['dsr-requests'];
    expect(schema.required).toEqual(['requestId', 'type', 'identifiers', 'submittedAt']);
    expect(schema.properties?.identifiers).toMatchObject({
      type: 'array',
      minItems: 1,
      maxItems: 20,
      items: {
        additionalProperties: false,
        properties: { value: { type: 'string', minLength: 1, maxLength: 512 } },
      },
    });
    expect(schema.properties?.submittedAt).toMatchObject({ type: 'string', format: 'date-time' });
  });

  it('serialises to JSON, as a registry takes it', () => {
    for (const schema of Object.values(dsrJsonSchemas))
      expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });
});
