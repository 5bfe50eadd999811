/**
 * The warehouse half of the pipeline in this process, for tests: type coercion and the Snowflake
 * loader narrowed to one fixture's topics, loading into a fresh Snowflake schema.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import { loadConnections } from '../../src/config/connections.js';
import { Secret } from '../../src/config/schema.js';
import { type LoaderOptions, SnowflakeLoader } from '../../src/consumers/snowflake-loader/loader.js';
import {
  connectWarehouse,
  type SnowflakeSettings,
  type Warehouse,
} from '../../src/consumers/snowflake-loader/snowflake.js';
import { TypeCoercion } from '../../src/consumers/type-coercion/coercion.js';
import { contractById } from '../../src/events/registry.js';
import { createProducer } from '../../src/kafka/client.js';
import { loadTopicFamilies } from '../../src/kafka/topics.js';
import { createLogger } from '../../src/observability/logger.js';
import { type CdcFixture, registryClient } from './cdc.js';
import { createTopicsAndWait } from './kafka.js';
import { uniqueName } from './names.js';

const logger = createLogger({
  level: process.env.DSR_CDC_TEST_LOG === 'debug' ? 'debug' : 'warn',
  component: 'test-warehouse',
});

/** Loader settings for the local emulator (or whatever DSR_CDC_SNOWFLAKE_* name), in `schema`. */
export function snowflakeTestSettings(schema: string): SnowflakeSettings {
  const c = loadConnections().snowflake;
  return {
    account: c.account,
    topics: '^warehouse\\.',
    accessUrl: c.accessUrl,
    insecure: c.accessUrl.startsWith('http://'),
    username: c.username,
    password: new Secret('${env:DSR_CDC_SNOWFLAKE_PASSWORD}', c.password),
    warehouse: c.warehouse,
    database: c.database.toUpperCase(),
    schema,
    deletes: 'hard',
    onDrift: 'stop',
    loginTimeoutMs: 20_000,
    statementTimeoutSeconds: 300,
    batch: { maxWaitMs: 200, minBytes: 1, maxBytes: 1024 * 1024 },
  };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class WarehouseFixture {
  readonly schema: string;
  /** A fixture opened on another's schema leaves it in place when it closes. */
  private readonly ownsSchema: boolean;
  readonly run = uniqueName('wh');
  readonly kafka: Kafka;
  /** The loader's session. */
  warehouse!: Warehouse;
  /** The test's own session: a query on the loader's would run inside its open transaction. */
  reader!: Warehouse;
  private producer!: Producer;
  coercion!: TypeCoercion;
  loader: SnowflakeLoader | undefined;
  fatal: Error[] = [];

  constructor(
    readonly fx: CdcFixture,
    readonly options: Partial<LoaderOptions> = {},
    schema?: string,
  ) {
    this.kafka = fx.kafka;
    this.ownsSchema = schema === undefined;
    this.schema = schema ?? `T_${randomBytes(5).toString('hex').toUpperCase()}`;
  }

  get settings(): SnowflakeSettings {
    return snowflakeTestSettings(this.schema);
  }

  /** The Snowflake table of a fixture table. */
  table(name: string): string {
    return `"${this.settings.database}"."${this.schema}"."${`${this.fx.source}__public__${name}`.toUpperCase()}"`;
  }

  async open(): Promise<void> {
    this.warehouse = await connectWarehouse(this.settings);
    this.reader = await connectWarehouse(this.settings);
    this.producer = createProducer(this.kafka);
    await this.producer.connect();
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const dlq = [`dlq.${this.run}.coercion`, `dlq.${this.run}.loader`];
      await createTopicsAndWait(
        admin,
        dlq.map((topic) => ({ topic, numPartitions: 1 })),
      );
    } finally {
      await admin.disconnect();
    }
  }

  async startCoercion(): Promise<void> {
    const contracts = contractById({ url: loadConnections().registry.url });
    this.coercion = new TypeCoercion(
      this.kafka,
      registryClient(),
      this.producer,
      contracts,
      loadTopicFamilies(),
      {
        groupId: `${this.run}.coercion`,
        dlqTopic: `dlq.${this.run}.coercion`,
        topics: new RegExp(`^${escapeRegExp(`cdc.${this.fx.source}.`)}`),
        topicRefreshMs: 1_000,
        onOutOfRange: 'null',
        settingsFor: () => ({ unconstrainedNumericScale: 9, columns: {} }),
      },
      logger,
    );
    this.coercion.onFatal = (error) => this.fatal.push(error);
    await this.coercion.start();
  }

  async startLoader(groupSuffix = 'loader'): Promise<SnowflakeLoader> {
    const loader = new SnowflakeLoader(
      this.kafka,
      registryClient(),
      this.producer,
      this.warehouse,
      contractById({ url: loadConnections().registry.url }),
      {
        groupId: `${this.run}.${groupSuffix}`,
        dlqTopic: `dlq.${this.run}.loader`,
        database: this.settings.database,
        schema: this.schema,
        deletes: 'hard',
        onDrift: 'stop',
        topics: new RegExp(`^${escapeRegExp(`warehouse.${this.fx.source}.`)}`),
        topicRefreshMs: 1_000,
        fetch: { maxWaitTimeInMs: 200, minBytes: 1, maxBytesPerPartition: 1024 * 1024 },
        ...this.options,
      },
      logger,
    );
    loader.onFatal = (error) => this.fatal.push(error);
    this.loader = loader;
    await loader.start();
    return loader;
  }

  async close(): Promise<void> {
    await this.loader?.stop().catch(() => undefined);
    await this.coercion?.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    if (this.ownsSchema)
      await this.warehouse
        ?.execute(`DROP SCHEMA IF EXISTS "${this.settings.database}"."${this.schema}"`)
        .catch(() => undefined);
    await this.warehouse?.destroy();
    await this.reader?.destroy();
  }
}
