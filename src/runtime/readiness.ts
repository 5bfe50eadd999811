/**
 * What `GET /readyz` checks: every external system a hosted component needs is reachable. Each
 * check opens its own short-lived connection under a timeout and changes nothing.
 */
import type { Config } from '../config/schema.js';
import { createKafka } from '../kafka/client.js';
import type { Logger } from '../observability/logger.js';

export interface ReadinessCheck {
  /** `kafka`, `registry`, `postgres:<source>` … */
  name: string;
  /** Resolves when the system answered; rejects with why not. */
  check(): Promise<void>;
}

export interface Readiness {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

export const READINESS_TIMEOUT_MS = 5_000;

/** Runs every check at once, each bounded by `timeoutMs`. */
export async function checkReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = READINESS_TIMEOUT_MS,
): Promise<Readiness> {
  const results = await Promise.all(
    checks.map(async ({ name, check }) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([check(), timeout]);
        return [name, { ok: true }] as const;
      } catch (error) {
        return [name, { ok: false, error: (error as Error).message }] as const;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every(([, r]) => r.ok), checks: Object.fromEntries(results) };
}

export function kafkaReadiness(config: Config, logger: Logger): ReadinessCheck {
  return {
    name: 'kafka',
    check: async () => {
      const admin = createKafka(config.kafka, logger).admin({ retry: { retries: 0 } });
      try {
        await admin.connect();
        await admin.describeCluster();
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
  };
}

/** Asks the registry for its subjects: the cheapest authenticated call of the Confluent API. */
export function registryReadiness(config: Config): ReadinessCheck {
  const { url, auth } = config.registry;
  const headers: Record<string, string> = auth
    ? {
        authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password.reveal()}`).toString('base64')}`,
      }
    : {};
  return {
    name: 'registry',
    check: async () => {
      const response = await fetch(`${url}/subjects`, {
        headers,
        signal: AbortSignal.timeout(READINESS_TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the registry answered ${response.status}`);
    },
  };
}
