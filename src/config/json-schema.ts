/** The config's JSON Schema as the text of schema/dsr-cdc.schema.json (shipped for editors). */
import { configJsonSchema } from './schema.js';

export const CONFIG_SCHEMA_ID = 'https://dsr-cdc.dev/schema/dsr-cdc.schema.json';

export function configJsonSchemaText(): string {
  const schema = { $id: CONFIG_SCHEMA_ID, title: 'dsr-cdc pipeline config', ...configJsonSchema() };
  return `${JSON.stringify(schema, null, 2)}\n`;
}
