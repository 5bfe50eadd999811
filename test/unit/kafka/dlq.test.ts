import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import { deadLetter } from '../../../src/kafka/dlq.js';

const poison = {
  topic: 'cdc.app.public.customers',
  partition: 2,
  offset: '41',
  key: Buffer.from('k'),
  value: Buffer.from('ada@example.test'),
};

describe('deadLetter', () => {
  it('keeps the original bytes and says where they came from and why', () => {
    const letter = deadLetter(
      'pii-discovery',
      poison,
      new DsrCdcError('EVENT_INVALID', 'not in the wire format'),
    );
    expect(letter.key).toBe(poison.key);
    expect(letter.value).toBe(poison.value);
    expect(letter.headers).toEqual({
      'dsr-cdc.topic': 'cdc.app.public.customers',
      'dsr-cdc.partition': '2',
      'dsr-cdc.offset': '41',
      'dsr-cdc.stage': 'pii-discovery',
      'dsr-cdc.error-class': 'EVENT_INVALID',
      'dsr-cdc.error': 'not in the wire format',
    });
  });

  it('never copies a foreign error message, which may quote row values', () => {
    const letter = deadLetter('pii-discovery', poison, new TypeError('bad value ada@example.test'));
    expect(JSON.stringify(letter.headers)).not.toContain('ada@example.test');
    expect(letter.headers?.['dsr-cdc.error-class']).toBe('TypeError');
  });
});
