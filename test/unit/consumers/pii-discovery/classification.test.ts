import { describe, expect, it } from 'vitest';
import {
  type ClassifiedFinding,
  classify,
  parseClassification,
  ruleFor,
} from '../../../../src/consumers/pii-discovery/classification.js';
import { detectRow, type Finding } from '../../../../src/consumers/pii-discovery/detectors.js';
import { DsrCdcError } from '../../../../src/errors.js';

const customers = { source: 'crm', schema: 'public', table: 'customers' };

function parseError(document: unknown): DsrCdcError {
  try {
    parseClassification(document);
  } catch (error) {
    if (error instanceof DsrCdcError) return error;
    throw error;
  }
  throw new Error('expected parseClassification to throw');
}

describe('parseClassification', () => {
  it('accepts rules and freezes the result; an empty document has no rules', () => {
    const classification = parseClassification({
      columns: [
        { match: 'crm.public.customers.email', role: 'identifier' },
        { match: 'crm.public.customers.name', role: 'attribute', type: 'person_name' },
        { match: '*.*.*.internal_notes', role: 'ignore' },
        { match: 'crm.*.customers.login', role: 'identifier', type: 'email' },
      ],
    });
    expect(classification.rules).toHaveLength(4);
    expect(Object.isFrozen(classification)).toBe(true);
    expect(Object.isFrozen(classification.rules)).toBe(true);
    expect(parseClassification(null).rules).toEqual([]);
    expect(parseClassification({}).rules).toEqual([]);
  });

  it.each<[string, unknown, string, string]>([
    ['a non-mapping', 'columns', '(root)', 'expected a mapping, got a string'],
    ['an unknown top-level field', { rules: [] }, 'rules', 'unknown field'],
    [
      'an unknown rule field',
      { columns: [{ match: 'a.b.c.d', role: 'ignore', kind: 'x' }] },
      'columns[0].kind',
      'unknown field',
    ],
    ['a missing role', { columns: [{ match: 'a.b.c.email' }] }, 'columns[0].role', 'identifier'],
    ['a bad role', { columns: [{ match: 'a.b.c.email', role: 'subject' }] }, 'columns[0].role', 'identifier'],
    [
      'a bad type',
      { columns: [{ match: 'a.b.c.d', role: 'attribute', type: 'name' }] },
      'columns[0].type',
      'person_name',
    ],
    [
      'three parts',
      { columns: [{ match: 'public.customers.email', role: 'identifier' }] },
      'columns[0].match',
      'source.schema.table.column',
    ],
    [
      'an empty part',
      { columns: [{ match: 'crm..customers.email', role: 'identifier' }] },
      'columns[0].match',
      'source.schema.table.column',
    ],
    [
      'a type on ignore',
      { columns: [{ match: 'a.b.c.d', role: 'ignore', type: 'email' }] },
      'columns[0].type',
      'ignore',
    ],
    [
      'an identifier of unknown type',
      { columns: [{ match: 'a.b.c.login', role: 'identifier' }] },
      'columns[0].type',
      'required for an identifier',
    ],
    [
      'a wildcard identifier without type',
      { columns: [{ match: 'a.b.c.*_email', role: 'identifier' }] },
      'columns[0].type',
      'required',
    ],
    [
      'a duplicate pattern',
      {
        columns: [
          { match: 'a.b.c.email', role: 'identifier' },
          { match: 'a.b.c.phone', role: 'identifier' },
          { match: 'a.b.c.email', role: 'ignore' },
        ],
      },
      'columns[2].match',
      'duplicates columns[0].match',
    ],
  ])('refuses %s, naming the field', (_case, document, field, text) => {
    const error = parseError(document);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.field).toBe(field);
    expect(error.message).toContain(`${field}: `);
    expect(error.message).toContain(text);
  });

  it('lists every problem, and the first as the field', () => {
    const error = parseError({
      columns: [
        { match: 'x', role: 'ignore' },
        { match: 'a.b.c.d', role: 'bad' },
      ],
    });
    expect(error.field).toBe('columns[0].match');
    expect(error.message).toMatch(/columns\[0\]\.match: .*\n\s+columns\[1\]\.role: /);
  });
});

describe('ruleFor', () => {
  const classification = parseClassification({
    columns: [
      { match: '*.*.*.notes', role: 'ignore' },
      { match: 'crm.*.*.notes', role: 'attribute' },
      { match: 'crm.public.tickets.notes', role: 'attribute', type: 'postal_address' },
      { match: 'crm.public.*.*_email', role: 'identifier', type: 'email' },
      { match: 'crm.public.*.work_e*', role: 'attribute' },
    ],
  });
  const rule = (source: string, schema: string, table: string, column: string) =>
    ruleFor(classification, { source, schema, table, column })?.match;

  it.each([
    [['crm', 'public', 'tickets', 'notes'], 'crm.public.tickets.notes'],
    [['crm', 'sales', 'orders', 'notes'], 'crm.*.*.notes'],
    [['erp', 'public', 'orders', 'notes'], '*.*.*.notes'],
    [['crm', 'public', 'users', 'billing_email'], 'crm.public.*.*_email'],
    [['crm', 'public', 'users', '_email'], 'crm.public.*.*_email'],
    // equal literal characters: the rule listed first
    [['crm', 'public', 'users', 'work_email'], 'crm.public.*.*_email'],
  ])('%j → %s', (location, match) => {
    expect(rule(...(location as [string, string, string, string]))).toBe(match);
  });

  it.each([
    ['crm', 'public', 'users', 'email'],
    ['crm', 'public', 'users', 'billing_EMAIL'],
    ['crm', 'public', 'users', 'notes_old'],
    ['crm', 'Public', 'tickets', 'notes_old'],
  ])('%s.%s.%s.%s matches no rule (names compare exactly)', (source, schema, table, column) => {
    expect(rule(source, schema, table, column)).toBeUndefined();
  });

  it('treats regex characters in a pattern literally', () => {
    const literal = parseClassification({ columns: [{ match: 'crm.public.t+.a(b)', role: 'ignore' }] });
    expect(ruleFor(literal, { ...customers, table: 't+', column: 'a(b)' })?.role).toBe('ignore');
    expect(ruleFor(literal, { ...customers, table: 'tt', column: 'ab' })).toBeUndefined();
  });
});

describe('classify', () => {
  const brief = (findings: ClassifiedFinding[]) =>
    findings.map(({ type, normalized, column, jsonPath, reason, role }) => [
      type,
      normalized,
      column,
      jsonPath,
      reason,
      role,
    ]);

  it('marks detected findings with their default role when no rule applies', () => {
    const row = {
      email: 'Jane@Example.com',
      last_ip: '203.0.113.9',
      first_name: 'Jane',
      card: '4111 1111 1111 1111',
    };
    const findings = detectRow(row, {}, { defaultRegion: 'US' });
    expect(brief(classify(findings, { ...customers, row }, parseClassification({})))).toEqual([
      ['payment_card', '4111111111111111', 'card', undefined, 'value-pattern', 'identifier'],
      ['email', 'jane@example.com', 'email', undefined, 'value-pattern', 'identifier'],
      ['person_name', 'Jane', 'first_name', undefined, 'column-name', 'attribute'],
      ['ip_address', '203.0.113.9', 'last_ip', undefined, 'value-pattern', 'attribute'],
    ]);
  });

  it('drops ignored columns, forces types and roles, and adds classified columns detection missed', () => {
    const classification = parseClassification({
      columns: [
        { match: 'crm.public.customers.test_email', role: 'ignore' },
        { match: 'crm.public.customers.notes', role: 'attribute' },
        { match: 'crm.public.customers.contact', role: 'identifier', type: 'phone' },
        { match: 'crm.public.customers.login', role: 'identifier', type: 'email' },
        { match: 'crm.public.customers.name', role: 'attribute', type: 'person_name' },
        { match: 'crm.public.customers.account_no', role: 'identifier', type: 'national_id' },
        { match: 'crm.public.customers.email', role: 'identifier' },
        { match: 'crm.public.customers.nickname', role: 'attribute' },
        { match: 'crm.public.customers.blank', role: 'identifier', type: 'email' },
        { match: 'crm.public.customers.photo', role: 'identifier', type: 'email' },
        { match: 'crm.public.customers.support_contact', role: 'identifier', type: 'email' },
      ],
    });
    const row = {
      test_email: 'qa@example.com',
      notes: 'reach me at jane@example.com',
      contact: '+44 20 7946 0958',
      login: ' Bob ',
      name: 'Jane  Doe',
      account_no: 'ab-1234',
      email: 'not-an-address',
      nickname: 'JD',
      blank: '   ',
      photo: Buffer.from('x'),
      other_email: 'x@example.com',
      support_contact: 'Jane <jane@example.com>',
    };
    const findings = detectRow(row, {}, { defaultRegion: 'US' });
    expect(brief(classify(findings, { ...customers, row }, classification, { defaultRegion: 'US' }))).toEqual(
      [
        ['phone', '+442079460958', 'contact', undefined, 'value-pattern', 'identifier'],
        ['email', 'jane@example.com', 'notes', undefined, 'value-pattern', 'attribute'],
        ['email', 'x@example.com', 'other_email', undefined, 'value-pattern', 'identifier'],
        ['email', 'jane@example.com', 'support_contact', undefined, 'value-pattern', 'identifier'],
        ['national_id', 'AB1234', 'account_no', undefined, 'classification', 'identifier'],
        ['email', 'not-an-address', 'email', undefined, 'classification', 'identifier'],
        ['email', 'bob', 'login', undefined, 'classification', 'identifier'],
        ['person_name', 'Jane Doe', 'name', undefined, 'classification', 'attribute'],
      ],
    );
  });

  it('forces a type onto every finding of the column, keeping JSON paths, and merges what becomes equal', () => {
    const classification = parseClassification({
      columns: [{ match: 'crm.public.customers.payload', role: 'attribute', type: 'phone' }],
    });
    const findings: Finding[] = [
      {
        type: 'phone',
        normalized: '+12025550143',
        column: 'payload',
        jsonPath: '$.a',
        reason: 'value-pattern',
      },
      {
        type: 'us_ssn',
        normalized: '+12025550143',
        column: 'payload',
        jsonPath: '$.a',
        reason: 'value-pattern',
      },
      {
        type: 'email',
        normalized: 'a@example.com',
        column: 'payload',
        jsonPath: '$.b[0]',
        reason: 'value-pattern',
      },
    ];
    expect(brief(classify(findings, { ...customers, row: {} }, classification))).toEqual([
      ['phone', '+12025550143', 'payload', '$.a', 'value-pattern', 'attribute'],
      ['phone', 'a@example.com', 'payload', '$.b[0]', 'value-pattern', 'attribute'],
    ]);
  });

  it('applies rules only to their own source, schema and table', () => {
    const classification = parseClassification({
      columns: [{ match: 'crm.public.customers.email', role: 'ignore' }],
    });
    const row = { email: 'a@example.com' };
    const findings = detectRow(row, {});
    expect(classify(findings, { ...customers, row }, classification)).toEqual([]);
    expect(classify(findings, { ...customers, table: 'leads', row }, classification)).toHaveLength(1);
    expect(classify(findings, { ...customers, source: 'erp', row }, classification)).toHaveLength(1);
  });

  it('adds numbers of classified identifier columns, normalised by type', () => {
    const classification = parseClassification({
      columns: [
        { match: 'crm.public.customers.phone', role: 'identifier' },
        { match: 'crm.public.customers.member_id', role: 'identifier', type: 'national_id' },
      ],
    });
    const row = { phone: 44207946095n, member_id: 12 };
    expect(brief(classify(detectRow(row, {}), { ...customers, row }, classification))).toEqual([
      ['national_id', '12', 'member_id', undefined, 'classification', 'identifier'],
      ['phone', '44207946095', 'phone', undefined, 'classification', 'identifier'],
    ]);
  });
});
