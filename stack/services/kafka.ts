/**
 * Apache Kafka 3.9, one KRaft node (broker + controller), from Maven Central jars resolved by
 * stack/kafka/pom.xml. Single-node settings: replication factor 1 for internal topics, no topic
 * auto-creation (topics come from topics/), a bounded heap.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { LOCAL_PORTS } from '../../src/config/connections.js';
import { run, runningPid, startDaemon, stopDaemon } from '../process.js';
import { type Health, PROJECT_ROOT, type Service, stateDir } from '../service.js';
import { fingerprint, JAVA, MAVEN } from './java.js';

const POM = join(PROJECT_ROOT, 'stack', 'kafka', 'pom.xml');

export function kafkaService(): Service {
  const port = LOCAL_PORTS.kafka;
  const controllerPort = LOCAL_PORTS.kafkaController;
  const libs = stateDir('kafka', 'libs');
  const dataDir = stateDir('kafka', 'data');
  const config = stateDir('kafka', 'server.properties');
  const log4j = stateDir('kafka', 'log4j.properties');
  const pidFile = stateDir('kafka', 'kafka.pid');
  const logFile = stateDir('kafka', 'kafka.log');
  const libsStamp = join(libs, '.pom-fingerprint');

  const javaArgs = (mainClass: string, ...args: string[]) => [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${log4j}`,
    `-Dkafka.logs.dir=${stateDir('kafka', 'logs')}`,
    '-cp',
    `${libs}/*`,
    mainClass,
    ...args,
  ];

  function writeConfig(): void {
    writeFileSync(
      config,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
        'controller.listener.names=CONTROLLER',
        'inter.broker.listener.name=PLAINTEXT',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        `log.dirs=${dataDir}`,
        'num.partitions=1',
        'auto.create.topics.enable=false',
        'delete.topic.enable=true',
        // one node: internal topics cannot have more replicas than that, or groups stall
        'offsets.topic.replication.factor=1',
        'transaction.state.log.replication.factor=1',
        'transaction.state.log.min.isr=1',
        'group.initial.rebalance.delay.ms=0',
        // a small heap needs a small cleaner buffer (the default is 128 MB)
        'log.cleaner.dedupe.buffer.size=33554432',
        'log.segment.bytes=104857600',
        '',
      ].join('\n'),
    );
    writeFileSync(
      log4j,
      [
        'log4j.rootLogger=INFO, stdout',
        'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
        'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
        'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
        'log4j.logger.kafka=INFO',
        'log4j.logger.org.apache.kafka=INFO',
        'log4j.logger.kafka.request.logger=WARN',
        'log4j.logger.state.change.logger=WARN',
        'log4j.logger.kafka.controller=WARN',
        'log4j.logger.kafka.log.LogCleaner=WARN',
        '',
      ].join('\n'),
    );
  }

  return {
    name: 'kafka',
    port,
    address: `127.0.0.1:${port}`,
    logFile,
    prerequisites: () => [JAVA, MAVEN],
    async prepare() {
      mkdirSync(libs, { recursive: true });
      const wanted = fingerprint(POM);
      if (!existsSync(libsStamp) || readFileSync(libsStamp, 'utf8') !== wanted) {
        await run('mvn', [
          '-q',
          '-B',
          '-f',
          POM,
          'dependency:copy-dependencies',
          '-DincludeScope=runtime',
          `-DoutputDirectory=${libs}`,
        ]);
        writeFileSync(libsStamp, wanted);
      }
      writeConfig();
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        const clusterId = randomBytes(16).toString('base64url');
        // `--cluster-id=<id>` in one argument: a base64url id may start with '-' (1 run in 64),
        // which as a separate argument the tool's parser takes for an option
        await run(
          'java',
          javaArgs('kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', config),
        );
      }
    },
    running: async () => runningPid(pidFile) !== undefined,
    async start() {
      startDaemon('java', javaArgs('kafka.Kafka', config), { logFile, pidFile });
    },
    async health(): Promise<Health> {
      const admin = new Kafka({
        clientId: 'dsr-cdc-stack',
        brokers: [`127.0.0.1:${port}`],
        connectionTimeout: 1_000,
        requestTimeout: 2_000,
        retry: { retries: 0 },
        logLevel: logLevel.NOTHING,
      }).admin();
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        return {
          healthy: true,
          detail: `KRaft cluster ${cluster.clusterId}, ${cluster.brokers.length} broker`,
        };
      } catch (error) {
        return { healthy: false, detail: (error as Error).message };
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    stop: () => stopDaemon(pidFile, 30_000),
  };
}
