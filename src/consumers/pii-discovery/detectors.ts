/**
 * PII detectors for decoded row images: pure functions over plain data, precision first.
 *
 * Contracts:
 * - A value detector takes one whole value and returns its normalised form, or null. It never
 *   throws and never logs: its inputs may be personal data.
 * - A value must carry evidence of its own kind (an '@' and a real-looking domain, phone
 *   formatting, a Luhn check, a mod-97 check …). Column names never create a finding for a type
 *   that has a validator; they only relax its shape rules (a phone or SSN stored as bare digits in
 *   a `phone` / `ssn` column). Types that cannot be validated from the value alone (names, dates
 *   of birth, postal addresses, national ids) come from column names only.
 * - Phones use libphonenumber-js' `max` metadata: its `isValid()` checks each country's number
 *   ranges, where the default metadata checks only lengths, which accepts far too many numbers.
 */
import { isIP, SocketAddress } from 'node:net';
import { type CountryCode, type PhoneNumber, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export type { CountryCode };

/** Every PII type, for schemas and iteration; PiiType is derived from it. */
export const PII_TYPES = [
  'email',
  'phone',
  'payment_card',
  'iban',
  'us_ssn',
  'ip_address',
  'person_name',
  'date_of_birth',
  'postal_address',
  'national_id',
] as const;

export type PiiType = (typeof PII_TYPES)[number];

export interface Finding {
  type: PiiType;
  /**
   * Normalised value: email lower-cased and trimmed, phone E.164, card digits only, IBAN upper
   * case without spaces, SSN digits only, ip canonical (IPv4-mapped IPv6 as IPv4), national id
   * upper case without separators, dates of birth YYYY-MM-DD when given so, other text trimmed
   * with runs of whitespace collapsed, a JSON object as its compact JSON text.
   */
  normalized: string;
  column: string;
  /**
   * Where inside the column's value: a JSON path such as '$.contacts[1].phone' for JSON
   * (json/jsonb columns, JSON text in text columns) and for array values ('$[2]'); undefined when
   * the finding is the whole column value.
   */
  jsonPath?: string;
  /**
   * value-pattern: the value alone proved it. column-name: the column (or JSON key) name was
   * needed, either as the only evidence or to accept bare digits. classification: configured.
   */
  reason: 'value-pattern' | 'column-name' | 'classification';
}

export type ColumnType = 'json' | 'text' | 'other';

export interface DetectOptions {
  /** Region for phone numbers written without a country code; without it only +CC numbers match. */
  defaultRegion?: CountryCode;
}

export interface PhoneOptions extends DetectOptions {
  /** Accept bare digits ('2025550143'); only when the column says it holds phone numbers. */
  allowPlainDigits?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Value detectors

const EMAIL_LOCAL = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const TLD = /^(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})$/;
/** File extensions that look like TLDs in asset names ('logo@2x.png'); none is a real TLD. */
const FILE_EXTENSIONS = new Set('png jpg jpeg gif svg webp bmp ico css js json'.split(' '));

/**
 * An email address: dot-atom local part (no quoted forms), an ASCII domain of at least two labels
 * whose last is alphabetic (or punycode). Rejects 'a@b', 'a@10.0.0.1', 'logo@2x.png'.
 */
export function detectEmail(text: string): string | null {
  const email = text.trim().toLowerCase();
  if (email.length > 254) return null;
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  const tld = labels[labels.length - 1] ?? '';
  if (at < 1 || local.length > 64 || !EMAIL_LOCAL.test(local) || labels.length < 2) return null;
  if (!labels.every((label) => DOMAIN_LABEL.test(label)) || !TLD.test(tld) || FILE_EXTENSIONS.has(tld)) {
    return null;
  }
  return email;
}

const PHONE_EXTENSION = /^(.*?)\s*(?:ext\.?|extension|x|#)\s*\d{1,6}$/i;
const PHONE_CHARACTERS = /^\+?[\d\s().\-/]+$/;
const DATE_LIKE = /^\d{4}[-./]\d{1,2}[-./]\d{1,2}|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$/;

/**
 * A phone number as E.164, only when libphonenumber calls it valid and it is written like a phone:
 * '+' and digits, or digit groups that are the library's own grouping for that number or all of
 * 2–4 digits (after a '+CC'). Bare digits need allowPlainDigits.
 * This rejects UUIDs, dates and timestamps, order numbers ('ORD-2024-000123', '2024-000123'),
 * version strings ('10.0.19045') and IPv4 addresses. An extension is accepted and dropped.
 */
export function detectPhone(text: string, options: PhoneOptions = {}): string | null {
  const trimmed = text.trim();
  // '+44 (0)20 …': the national trunk prefix written next to the country code is not dialled.
  const main = (PHONE_EXTENSION.exec(trimmed)?.[1] ?? trimmed).replace(/^(\+\d{1,3})\s*\(0\)\s*/, '$1 ');
  if (!PHONE_CHARACTERS.test(main) || DATE_LIKE.test(main) || isIP(main) !== 0) return null;
  const groups = main.match(/\d+/g) ?? [];
  const international = main.startsWith('+');
  if (groups.length === 1 && !international && !options.allowPlainDigits) return null;
  const phone = parsePhoneNumberFromString(main, { defaultCountry: options.defaultRegion, extract: false });
  if (!phone?.isValid()) return null;
  if (groups.length > 1 && !plausibleGrouping(groups, international, phone)) return null;
  return phone.number;
}

/** Digit groups as libphonenumber writes this number, or all of 2–4 digits after any '+CC'. */
function plausibleGrouping(groups: string[], international: boolean, phone: PhoneNumber): boolean {
  const shape = (text: string) => (text.match(/\d+/g) ?? []).map((group) => group.length).join(',');
  const canonical = [phone.formatNational(), phone.formatInternational()].map(shape);
  return (
    canonical.includes(shape(groups.join(' '))) ||
    groups.slice(international ? 1 : 0).every((group) => group.length >= 2 && group.length <= 4)
  );
}

/** Issuer ranges (prefixes compared at their own length) and the card lengths each issues. */
const CARD_RANGES: readonly { from: string; to: string; lengths: readonly number[] }[] = [
  { from: '4', to: '4', lengths: [13, 16, 19] }, // Visa
  { from: '51', to: '55', lengths: [16] }, // Mastercard
  { from: '2221', to: '2720', lengths: [16] }, // Mastercard 2-series
  { from: '34', to: '34', lengths: [15] }, // American Express
  { from: '37', to: '37', lengths: [15] },
  { from: '6011', to: '6011', lengths: [16, 17, 18, 19] }, // Discover
  { from: '644', to: '649', lengths: [16, 17, 18, 19] },
  { from: '65', to: '65', lengths: [16, 17, 18, 19] },
  { from: '62', to: '62', lengths: [16, 17, 18, 19] }, // UnionPay
  { from: '3528', to: '3589', lengths: [16, 17, 18, 19] }, // JCB
  { from: '300', to: '305', lengths: [14, 15, 16, 17, 18, 19] }, // Diners Club
  { from: '36', to: '36', lengths: [14, 15, 16, 17, 18, 19] },
  { from: '38', to: '39', lengths: [16, 17, 18, 19] },
];

/**
 * A payment card number as digits only: 13–19 digits with optional single spaces or dashes, a
 * known issuer range and length, and a valid Luhn check digit. (No number of one repeated digit
 * passes both the issuer ranges and Luhn, so '4444 4444 4444 4444' and the like are rejected.)
 */
export function detectPaymentCard(text: string): string | null {
  const trimmed = text.trim();
  if (!/^\d(?:[ -]?\d){12,18}$/.test(trimmed)) return null;
  const digits = trimmed.replace(/[ -]/g, '');
  if (!luhnValid(digits)) return null;
  const issued = CARD_RANGES.some((range) => {
    const prefix = digits.slice(0, range.from.length);
    return prefix >= range.from && prefix <= range.to && range.lengths.includes(digits.length);
  });
  return issued ? digits : null;
}

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return sum % 10 === 0;
}

/** IBAN length per country (SWIFT IBAN registry); other countries are not recognised. */
const IBAN_LENGTHS: ReadonlyMap<string, number> = new Map(
  (
    'AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 ' +
    'FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IS26 IT27 JO30 KW30 KZ20 LB28 LI21 ' +
    'LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 ' +
    'SE24 SI19 SK24 SM27 TN24 TR26 UA29 VG24 XK20'
  )
    .split(' ')
    .map((entry) => [entry.slice(0, 2), Number(entry.slice(2))] as const),
);

/**
 * An IBAN, upper case without spaces: a known country, its exact length, and the ISO 7064
 * mod-97 check (== 1). Single spaces between characters are allowed; case is not significant.
 */
export function detectIban(text: string): string | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}$/.test(trimmed)) return null;
  const iban = trimmed.replace(/ /g, '').toUpperCase();
  if (IBAN_LENGTHS.get(iban.slice(0, 2)) !== iban.length) return null;
  let remainder = 0;
  for (const char of iban.slice(4) + iban.slice(0, 4)) {
    const value = Number.parseInt(char, 36);
    remainder = (value > 9 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1 ? iban : null;
}

/**
 * A US social security number as nine digits: AAA-GG-SSSS, or bare digits with allowPlainDigits
 * (only for `ssn` columns: nine digits alone are anything). Area 000, 666 and 900–999, group 00
 * and serial 0000 are never issued.
 */
export function detectUsSsn(text: string, options: { allowPlainDigits?: boolean } = {}): string | null {
  const trimmed = text.trim();
  const parts =
    /^(\d{3})-(\d{2})-(\d{4})$/.exec(trimmed) ??
    (options.allowPlainDigits ? /^(\d{3})(\d{2})(\d{4})$/.exec(trimmed) : null);
  if (!parts) return null;
  const [, area = '', group = '', serial = ''] = parts;
  if (area === '000' || area === '666' || area >= '900' || group === '00' || serial === '0000') return null;
  return area + group + serial;
}

/**
 * An IPv4 or IPv6 address in canonical form (IPv6 compressed lower case, zone dropped,
 * IPv4-mapped IPv6 as IPv4). The unspecified, loopback and IPv4 broadcast addresses identify no
 * one and are rejected. Non-addresses such as version strings ('1.2.3', '10.0.19045') fail
 * node's isIP; a four-part version that is also a valid IPv4 address is reported as one.
 */
export function detectIpAddress(text: string): string | null {
  const trimmed = text.trim();
  const family = isIP(trimmed);
  if (family === 0) return null;
  let address = new SocketAddress({ address: trimmed, family: family === 4 ? 'ipv4' : 'ipv6' }).address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
  if (mapped !== undefined) address = mapped;
  if (address === '::' || address === '::1' || address === '0.0.0.0' || address === '255.255.255.255') {
    return null;
  }
  return address.startsWith('127.') ? null : address;
}

// ---------------------------------------------------------------------------------------------
// Free text

export interface TextMatch {
  type: PiiType;
  normalized: string;
  /** UTF-16 offsets of the match in the scanned text, end exclusive. */
  start: number;
  end: number;
}

const LOCAL_CHARS = "a-z0-9!#$%&'*+/=?^_`{|}~.-";
const EMAIL_CANDIDATE = new RegExp(`(?<![${LOCAL_CHARS}])[${LOCAL_CHARS}]+@[a-z0-9.-]+`, 'gi');
const IBAN_CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;
const CARD_CANDIDATE =
  /(?<![\d-])(?:\d{4}([ -]?)\d{4}\1\d{4}\1\d{1,4}(?:\1\d{3})?|\d{4}([ -])\d{6}\2\d{4,5}|\d{13,19})(?!\d|-\d)/g;
const SSN_CANDIDATE = /(?<![\d-])\d{3}-\d{2}-\d{4}(?!\d|-\d)/g;
const PHONE_CANDIDATE =
  /(?<![\w+#@/.-])(?:\+\d[\d ().\-/]{5,22}\d|\(\d{1,5}\)[ .-]?\d[\d .\-/]{3,16}\d|\d{1,5}[ .\-/]\d[\d .\-/]{3,16}\d)(?![\w@/]|[.-]\d)/g;

/**
 * Finds emails, IBANs, payment cards, SSNs (dashed only) and phones (formatted only) inside
 * free text such as a support ticket body: regex candidates, then the value detectors. Where
 * candidates overlap, the earlier type in that list wins (a card number is not also a phone).
 * IP addresses are not searched in free text: version strings and other dotted numbers in
 * prose make them too imprecise there. Matches are returned in text order.
 */
export function scanText(text: string, options: DetectOptions = {}): TextMatch[] {
  const accepted: TextMatch[] = [];
  const accept = (type: PiiType, normalized: string | null, start: number, end: number) => {
    if (normalized === null || accepted.some((m) => start < m.end && m.start < end)) return;
    accepted.push({ type, normalized, start, end });
  };
  for (const match of text.matchAll(EMAIL_CANDIDATE)) {
    const candidate = match[0].replace(/[.-]+$/, '');
    accept('email', detectEmail(candidate), match.index, match.index + candidate.length);
  }
  for (const match of text.matchAll(IBAN_CANDIDATE)) {
    // The candidate may run into following upper-case words: cut it at the country's length.
    const end = ibanEnd(match[0]);
    if (end !== undefined) accept('iban', detectIban(match[0].slice(0, end)), match.index, match.index + end);
  }
  for (const match of text.matchAll(CARD_CANDIDATE)) {
    accept('payment_card', detectPaymentCard(match[0]), match.index, match.index + match[0].length);
  }
  for (const match of text.matchAll(SSN_CANDIDATE)) {
    accept('us_ssn', detectUsSsn(match[0]), match.index, match.index + match[0].length);
  }
  for (const match of text.matchAll(PHONE_CANDIDATE)) {
    // A number followed by another (' … 0958 12 items') is retried without its trailing groups.
    let candidate = match[0];
    let phone = detectPhone(candidate, options);
    while (phone === null && /[ .\-/]\d+$/.test(candidate)) {
      candidate = candidate.replace(/[ .\-/()]+\d+$/, '');
      phone = detectPhone(candidate, options);
    }
    accept('phone', phone, match.index, match.index + candidate.length);
  }
  return accepted.sort((a, b) => a.start - b.start);
}

/** The end of the IBAN at the start of `candidate` (its country's length, ending on a word end). */
function ibanEnd(candidate: string): number | undefined {
  const length = IBAN_LENGTHS.get(candidate.slice(0, 2));
  if (length === undefined) return undefined;
  let seen = 0;
  for (let i = 0; i < candidate.length; i++) {
    if (candidate[i] !== ' ') seen++;
    if (seen === length) return /[A-Z0-9]/.test(candidate[i + 1] ?? '') ? undefined : i + 1;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Column semantics

/**
 * Name suffixes per type, in words. '#' is a required trailing number/no/num/nr word, '#?' an
 * optional one. Ordered: the first rule that ends the column name wins ('id card' before 'card').
 */
const NAME_RULES: readonly (readonly [PiiType, string])[] = [
  ['email', 'email | e mail | email address | mail address'],
  ['ip_address', 'ip | ip address | ip addr | ipv4 | ipv6 | remote addr | client addr | client ip'],
  [
    'phone',
    'phone #? | phonenumber | telephone #? | tel #? | mobile #? | cellphone #? | cell #? | fax #? | msisdn',
  ],
  [
    'national_id',
    'national id #? | national identifier | national insurance #? | nino | ni # | passport # | tax id #? | ' +
      'tax identification #? | tin | social insurance #? | sin # | identity card #? | id card #? | ' +
      'driver license #? | drivers license #? | driving licence #? | driving license #? | personnummer | ' +
      'bsn | cpf | aadhaar #? | pesel | nric | curp',
  ],
  ['payment_card', 'card # | credit card #? | cc # | pan | primary account #'],
  ['iban', 'iban #?'],
  ['us_ssn', 'ssn | social security #?'],
  ['date_of_birth', 'dob | birth date | birthdate | date of birth | dateofbirth | birthday'],
  [
    'person_name',
    'first name | last name | middle name | full name | given name | family name | maiden name | firstname | ' +
      'lastname | fullname | givenname | familyname | surname | forename | customer name | contact name | ' +
      'person name | cardholder name | holder name | recipient name | patient name | employee name',
  ],
  ['postal_address', 'street #? | street address | address line | addr line | house #'],
];
const NAME_SUFFIXES = suffixes(NAME_RULES);
/** 'address' alone is postal unless one of these words precedes it ('mac_address'). */
const NON_POSTAL = new Set(
  (
    'email mail e ip ipv4 ipv6 mac wallet web url server host remote client local ' +
    'bitcoin btc eth contract memory return'
  ).split(' '),
);
/** A postcode is an address part only after one of these words ('billing_zip'); alone it is a region. */
const ADDRESS_CONTEXT = new Set('address addr billing shipping home mailing residential delivery'.split(' '));
const POSTCODES = suffixes([
  ['postal_address', 'postal code | post code | postcode | zip | zip code | zipcode'],
]);
const QUALIFIERS = new Set(['number', 'no', 'num', 'nr']);
const SINGULAR: Readonly<Record<string, string>> = {
  emails: 'email',
  phones: 'phone',
  addresses: 'address',
  numbers: 'number',
  names: 'name',
};

/**
 * What a column (or JSON key) name says it holds, from its words (snake_case, camelCase,
 * kebab-case; a trailing index such as address_line1 or phone2 is ignored). Only names that say
 * so clearly: 'name' or 'city' alone say nothing, 'phone_id' is a key, a postcode is an address
 * part only with an address word before it, and 'ip_address' / 'email_address' are not postal.
 */
export function columnSemantics(columnName: string): PiiType | null {
  const tokens = nameTokens(columnName);
  for (const [type, suffix] of NAME_SUFFIXES) {
    if (endsWith(tokens, suffix)) return type;
  }
  const last = tokens.at(-1);
  if ((last === 'address' || last === 'addr') && !NON_POSTAL.has(tokens.at(-2) ?? '')) {
    return 'postal_address';
  }
  for (const [type, suffix] of POSTCODES) {
    if (endsWith(tokens, suffix) && ADDRESS_CONTEXT.has(tokens.at(-suffix.length - 1) ?? '')) return type;
  }
  return null;
}

function suffixes(rules: readonly (readonly [PiiType, string])[]): (readonly [PiiType, readonly string[]])[] {
  return rules.flatMap(([type, text]) => text.split(' | ').map((rule) => [type, rule.split(' ')] as const));
}

function nameTokens(name: string): string[] {
  const tokens = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Za-z])(\d)/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((token) => token !== '');
  while (tokens.length > 0 && /^\d+$/.test(tokens.at(-1) ?? '')) tokens.pop();
  return tokens.map((token) => SINGULAR[token] ?? token);
}

/** Whether `tokens` end with `suffix`, whose last word may be '#' (required) or '#?' (optional). */
function endsWith(tokens: readonly string[], suffix: readonly string[]): boolean {
  const last = suffix.at(-1);
  if (last === '#?')
    return endsWith(tokens, suffix.slice(0, -1)) || endsWith(tokens, [...suffix.slice(0, -1), '#']);
  const offset = tokens.length - suffix.length;
  return (
    offset >= 0 &&
    suffix.every((word, i) =>
      word === '#' ? QUALIFIERS.has(tokens[offset + i] ?? '') : tokens[offset + i] === word,
    )
  );
}

// ---------------------------------------------------------------------------------------------
// Normalisation by type

/**
 * Normalises a value already known to be of `type` (a column-name or classification finding).
 * Validating types use their detector (bare digits allowed) and fall back to a plain form when it
 * fails, so a configured identifier column still yields a stable key. Null for blank values.
 */
export function normalizeAs(type: PiiType, text: string, options: DetectOptions = {}): string | null {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (!/[\p{L}\p{N}]/u.test(trimmed)) return null;
  switch (type) {
    case 'email':
      return detectEmail(trimmed) ?? trimmed.toLowerCase();
    case 'phone':
      return detectPhone(trimmed, { ...options, allowPlainDigits: true }) ?? trimmed.replace(/[^\d+]/g, '');
    case 'payment_card':
      return detectPaymentCard(trimmed) ?? trimmed.replace(/\D/g, '');
    case 'iban':
      return trimmed.replace(/ /g, '').toUpperCase();
    case 'us_ssn':
      return detectUsSsn(trimmed, { allowPlainDigits: true }) ?? trimmed.replace(/\D/g, '');
    case 'ip_address':
      return detectIpAddress(trimmed) ?? trimmed.toLowerCase();
    case 'national_id':
      return trimmed.replace(/[\s./-]/g, '').toUpperCase();
    case 'date_of_birth':
      return /^\d{4}-\d{2}-\d{2}(?![\d])/.exec(trimmed)?.[0] ?? trimmed;
    case 'person_name':
    case 'postal_address':
      return trimmed;
  }
}

// ---------------------------------------------------------------------------------------------
// Rows

/** Types with a value detector; for the others the column name is the only evidence. */
const VALIDATED: ReadonlySet<PiiType> = new Set([
  'email',
  'phone',
  'payment_card',
  'iban',
  'us_ssn',
  'ip_address',
]);
/** Whole-value detectors, most specific first: the first that accepts a value names its type. */
const WHOLE_VALUE: readonly (readonly [PiiType, (text: string, options: DetectOptions) => string | null])[] =
  [
    ['email', detectEmail],
    ['iban', detectIban],
    ['payment_card', detectPaymentCard],
    ['us_ssn', (text) => detectUsSsn(text)],
    ['ip_address', detectIpAddress],
    ['phone', detectPhone],
  ];
/** Deeper JSON is not walked: it bounds the work and the stack for hostile input. */
const MAX_DEPTH = 64;

type Emit = (
  type: PiiType,
  normalized: string,
  jsonPath: string | undefined,
  reason: Finding['reason'],
) => void;

/**
 * Finds PII in one row image. Strings are checked whole (by every value detector, with the
 * column's semantics relaxing phone/SSN shapes), then searched as free text; JSON (json columns,
 * or text that parses as a JSON object/array) and arrays are walked, each value judged by its
 * nearest key's name. Numbers and bigints count only where the name says what they are;
 * booleans, Buffers and other objects are ignored. Columns come in name order, duplicates
 * (same type, value and place) once. Never throws.
 */
export function detectRow(
  row: Record<string, unknown>,
  columnTypes: Record<string, ColumnType>,
  options: DetectOptions = {},
): Finding[] {
  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const column of Object.keys(row).sort()) {
    const emit: Emit = (type, normalized, jsonPath, reason) => {
      const key = JSON.stringify([column, type, normalized, jsonPath ?? null]);
      if (seen.has(key)) return;
      seen.add(key);
      findings.push(
        jsonPath === undefined
          ? { type, normalized, column, reason }
          : { type, normalized, column, jsonPath, reason },
      );
    };
    const value = row[column];
    const semantics = columnSemantics(column);
    const columnType = columnTypes[column] ?? 'text';
    const json =
      typeof value === 'string' && columnType !== 'other'
        ? parseJson(value, columnType === 'json')
        : undefined;
    if (json !== undefined) walk(json.value, '$', semantics, emit, options, 0);
    else if (Array.isArray(value)) walk(value, '$', semantics, emit, options, 0);
    else detectScalar(value, undefined, semantics, emit, options);
  }
  return findings;
}

/** JSON text as a value; outside json columns only an object or array counts. */
function parseJson(text: string, jsonColumn: boolean): { value: unknown } | undefined {
  const trimmed = text.trim();
  if (!jsonColumn && !/^(?:\{[\s\S]*\}|\[[\s\S]*\])$/.test(trimmed)) return undefined;
  try {
    return { value: JSON.parse(trimmed) };
  } catch {
    return undefined;
  }
}

function walk(
  value: unknown,
  path: string,
  semantics: PiiType | null,
  emit: Emit,
  options: DetectOptions,
  depth: number,
): void {
  if (depth > MAX_DEPTH) return;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries())
      walk(item, `${path}[${index}]`, semantics, emit, options, depth + 1);
    return;
  }
  if (!isPlainObject(value)) {
    detectScalar(value, path, semantics, emit, options);
    return;
  }
  // An object under an unvalidated semantic key (an address object) is that PII as a whole.
  if (semantics !== null && !VALIDATED.has(semantics)) {
    const text = compactJson(value);
    if (text !== undefined && text !== '{}') emit(semantics, text, path, 'column-name');
  }
  for (const [key, item] of Object.entries(value)) {
    walk(item, childPath(path, key), columnSemantics(key), emit, options, depth + 1);
  }
}

function detectScalar(
  value: unknown,
  jsonPath: string | undefined,
  semantics: PiiType | null,
  emit: Emit,
  options: DetectOptions,
): void {
  if (typeof value === 'string') {
    detectString(value, jsonPath, semantics, emit, options);
  } else if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint') {
    if (semantics !== null) detectNumber(value, jsonPath, semantics, emit, options);
  }
}

function detectString(
  text: string,
  jsonPath: string | undefined,
  semantics: PiiType | null,
  emit: Emit,
  options: DetectOptions,
): void {
  for (const [type, detect] of WHOLE_VALUE) {
    const normalized = detect(text, options);
    if (normalized !== null) {
      emit(type, normalized, jsonPath, 'value-pattern');
      return;
    }
  }
  // Shapes only the column name makes PII: bare-digit phones and SSNs.
  const relaxed =
    semantics === 'phone'
      ? detectPhone(text, { ...options, allowPlainDigits: true })
      : semantics === 'us_ssn'
        ? detectUsSsn(text, { allowPlainDigits: true })
        : null;
  if (relaxed !== null && semantics !== null) {
    emit(semantics, relaxed, jsonPath, 'column-name');
    return;
  }
  if (semantics !== null && !VALIDATED.has(semantics)) {
    const normalized = namedValue(semantics, text);
    if (normalized !== null) emit(semantics, normalized, jsonPath, 'column-name');
  }
  for (const match of scanText(text, options)) emit(match.type, match.normalized, jsonPath, 'value-pattern');
}

const PLACEHOLDERS = new Set(['n/a', 'na', 'none', 'null', 'nil', 'unknown']);

/** A column-name finding's value, normalised, if it can be that PII at all ('N/A' is no name). */
function namedValue(type: PiiType, text: string): string | null {
  const normalized = normalizeAs(type, text);
  if (normalized === null) return null;
  switch (type) {
    case 'national_id':
      return normalized.length >= 5 && /\d/.test(normalized) ? normalized : null;
    case 'date_of_birth':
      return /\d/.test(normalized) ? normalized : null;
    case 'person_name':
      return /\p{L}/u.test(normalized) && !PLACEHOLDERS.has(normalized.toLowerCase()) ? normalized : null;
    default:
      return normalized;
  }
}

function detectNumber(
  value: number | bigint,
  jsonPath: string | undefined,
  semantics: PiiType,
  emit: Emit,
  options: DetectOptions,
): void {
  if (!VALIDATED.has(semantics)) {
    const normalized = namedValue(semantics, String(value));
    if (normalized !== null) emit(semantics, normalized, jsonPath, 'column-name');
    return;
  }
  // Identifiers stored as numbers: only exact integers (a float has lost digits already).
  if (typeof value === 'number' && !Number.isSafeInteger(value)) return;
  const digits = String(value);
  const normalized =
    semantics === 'phone'
      ? detectPhone(digits, { ...options, allowPlainDigits: true })
      : semantics === 'us_ssn'
        ? detectUsSsn(digits.padStart(9, '0'), { allowPlainDigits: true }) // leading zeros are lost in numbers
        : semantics === 'payment_card'
          ? detectPaymentCard(digits)
          : null;
  if (normalized !== null) emit(semantics, normalized, jsonPath, 'column-name');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}['${key.replace(/[\\']/g, '\\$&')}']`;
}

/** JSON text of a walked object; bigints as strings; undefined if it cannot be serialised. */
function compactJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, item: unknown) =>
      typeof item === 'bigint' ? item.toString() : item,
    );
  } catch {
    return undefined;
  }
}
