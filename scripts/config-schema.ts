/**
 * Writes schema/dsr-cdc.schema.json, the JSON Schema of the config file generated from the zod
 * schema (configJsonSchema), for editor completion. Run after changing the config schema:
 * `npm run schema`; a unit test fails while the committed file differs from the generated one.
 */
import { writeFileSync } from 'node:fs';
import { configJsonSchemaText } from '../src/config/json-schema.js';

const path = new URL('../schema/dsr-cdc.schema.json', import.meta.url);
writeFileSync(path, configJsonSchemaText());
process.stdout.write(`wrote ${path.pathname}\n`);
