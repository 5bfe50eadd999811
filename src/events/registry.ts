/** The one place that builds the schema registry client, with exact Avro longs (see pg-types.ts). */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config/schema.js';
import { avroTypeOptions } from './pg-types.js';

export function createRegistry(config: Config['registry']): SchemaRegistry {
  const auth = config.auth && { username: config.auth.username, password: config.auth.password.reveal() };
  return new SchemaRegistry(
    { host: config.url, ...(auth ? { auth } : {}), clientId: 'dsr-cdc' },
    { [SchemaType.AVRO]: avroTypeOptions() },
  );
}
