/**
 * A Postgres replication source as a runtime Component: runs it (runPostgresSource), reports its
 * counters and slot lag, and tests its connection and prerequisites without changing anything.
 */
import pg from 'pg';
import { metrics } from '../observability/metrics.js';
import { postgresSourceSettings, runPostgresSource } from '../sources/postgres/index.js';
import { formatLsn } from '../sources/postgres/pgoutput.js';
import { readSlot } from '../sources/postgres/setup.js';
import type { PostgresSource } from '../sources/postgres/source.js';
import type { Component, TestReport } from './component.js';
import type { RuntimeContext } from './components.js';
import type { ReadinessCheck } from './readiness.js';

/** How often the slot lag gauge is refreshed while the source runs. */
export const SLOT_LAG_INTERVAL_MS = 15_000;

export function postgresSourceComponent({ config, logger }: RuntimeContext, name: string): Component {
  // validates now, so a bad source fails `dsr-cdc run` before anything starts
  const settings = postgresSourceSettings(config, name);
  let current: PostgresSource | undefined;
  let slotLagBytes: number | undefined;
  const refreshLag = async () => {
    slotLagBytes = await current?.slotLagBytes().catch(() => slotLagBytes);
    if (slotLagBytes !== undefined) metrics.slotLagBytes.set({ source: name }, slotLagBytes);
  };
  return {
    id: `source:${name}`,
    run: async (signal) => {
      const timer = setInterval(() => void refreshLag(), SLOT_LAG_INTERVAL_MS);
      try {
        await runPostgresSource(config, name, logger, signal, (source) => {
          current = source;
        });
      } finally {
        clearInterval(timer);
      }
    },
    status: () => ({
      kind: 'postgres',
      slot: settings.slot,
      publication: settings.publication,
      events: current?.stats.events ?? 0,
      transactions: current?.stats.transactions ?? 0,
      ackedLsn: current ? formatLsn(current.stats.ackedLsn) : null,
      slotLagBytes: slotLagBytes ?? null,
    }),
    test: async () => {
      const checks: TestReport['checks'] = [];
      const client = new pg.Client({ ...settings.connection, statement_timeout: 10_000 });
      try {
        await client.connect();
        checks.push({ name: 'connect', ok: true });
        const { rows } = await client.query<{
          wal_level: string;
          replication: boolean;
          publication: boolean;
        }>(
          `SELECT current_setting('wal_level') AS wal_level,
                  (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replication,
                  EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1) AS publication`,
          [settings.publication],
        );
        const row = rows[0] as { wal_level: string; replication: boolean; publication: boolean };
        checks.push(
          { name: 'wal_level', ok: row.wal_level === 'logical', detail: `wal_level is ${row.wal_level}` },
          { name: 'replication role', ok: row.replication },
          {
            name: 'publication',
            ok: row.publication,
            ...(row.publication ? {} : { detail: `publication ${settings.publication} does not exist` }),
          },
        );
        const slot = await readSlot(client, settings).then(
          (s) => ({ ok: true, detail: s.exists ? 'exists' : 'will be created at start' }),
          (error: Error) => ({ ok: false, detail: error.message }),
        );
        checks.push({ name: 'slot', ...slot });
      } catch (error) {
        checks.push({
          name: checks.length === 0 ? 'connect' : 'query',
          ok: false,
          detail: (error as Error).message,
        });
      } finally {
        await client.end().catch(() => undefined);
      }
      return { ok: checks.every((c) => c.ok), checks };
    },
  };
}

export function postgresSourceReadiness({ config }: RuntimeContext, name: string): ReadinessCheck[] {
  const settings = postgresSourceSettings(config, name);
  return [
    {
      name: `postgres:${name}`,
      check: async () => {
        const client = new pg.Client({ ...settings.connection, statement_timeout: 5_000 });
        try {
          await client.connect();
          await client.query('SELECT 1');
        } finally {
          await client.end().catch(() => undefined);
        }
      },
    },
  ];
}
