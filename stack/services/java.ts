/** What the JVM services (Kafka, the registry) share: their prerequisites and download stamps. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Prerequisite } from '../service.js';

export const JAVA: Prerequisite = {
  command: 'java',
  install: 'install a Java 17+ runtime, e.g. `apt-get install openjdk-17-jre-headless`',
};

export const MAVEN: Prerequisite = {
  command: 'mvn',
  install: 'install Apache Maven (it fetches the Kafka and registry jars), e.g. `apt-get install maven`',
};

/** A short hash of a file, stored beside a download so a changed pin triggers a new download. */
export function fingerprint(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
}
