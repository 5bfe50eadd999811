import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configJsonSchemaText } from '../../../src/config/json-schema.js';

describe('schema/dsr-cdc.schema.json', () => {
  it('is the JSON Schema generated from the config schema (regenerate with `npm run schema`)', () => {
    const committed = readFileSync(new URL('../../../schema/dsr-cdc.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(configJsonSchemaText());
  });

  it('describes secrets as references and the admin and runtime sections', () => {
    const schema = JSON.parse(configJsonSchemaText()) as {
      properties: Record<string, { properties?: Record<string, { pattern?: string }> }>;
    };
    expect(schema.properties.admin?.properties?.token?.pattern).toContain('env');
    expect(Object.keys(schema.properties.runtime?.properties ?? {})).toEqual([
      'shutdownTimeoutMs',
      'breaker',
    ]);
  });
});
