import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { piiDiscoveryTopics } from '../../consumers/pii-discovery/index.js';
import {
  checkResult,
  describeResult,
  readAuditTrail,
  readResults,
  verifyAuditTrail,
} from '../../dsr/audit-trail.js';
import { DsrCdcError } from '../../errors.js';
import { createKafka } from '../../kafka/client.js';
import { createLogger } from '../../observability/logger.js';
import { CliExit } from '../exit.js';
import type { CliCommand, CliContext } from '../main.js';

/**
 * Exit status of `audit verify` and `audit show` when a chain is broken or disagrees with its
 * result. A request id the trail does not hold is a user mistake (2), not a failed check.
 */
export const AUDIT_FAILED_EXIT = 4;

function unknownRequest(topic: string, requestId: string, field: string): DsrCdcError {
  return new DsrCdcError(
    'CONFIG_INVALID',
    `${field}: ${topic} holds no audit entry for request ${requestId}; check the id (dsr-cdc dsr submit prints it)`,
    { field },
  );
}

async function trail(context: CliContext, configPath: string) {
  const config = loadConfig({ path: configPath, env: context.env });
  const kafka = createKafka(config.kafka, createLogger({ level: config.log.level, component: 'dsr-cdc' }));
  const topic = piiDiscoveryTopics().audit.name;
  return { kafka, topic, records: await readAuditTrail(kafka, topic) };
}

/** `audit verify [--request <id>]`: checks every hash chain of dsr.audit end to end. */
export const auditVerify: CliCommand = {
  group: 'audit',
  build: (context) =>
    new Command('verify')
      .description(
        `check every request's audit hash chain end to end; exits 0 when all hold, ${AUDIT_FAILED_EXIT} when one is broken`,
      )
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .option('--request <id>', 'check only this request')
      .action(async (options: { config: string; request?: string }) => {
        const { topic, records } = await trail(context, options.config);
        const verdict = verifyAuditTrail(records, options.request);
        if (options.request !== undefined && verdict.requests === 0) {
          throw unknownRequest(topic, options.request, '--request');
        }
        for (const broken of verdict.broken) {
          context.stdout(
            `BROKEN request ${broken.requestId}: ${broken.problem} at ${topic}/${broken.partition} offset ${broken.offset}\n`,
          );
        }
        context.stdout(
          `${verdict.requests - verdict.broken.length} of ${verdict.requests} request chains verified\n`,
        );
        if (verdict.broken.length > 0) throw new CliExit(AUDIT_FAILED_EXIT);
      }),
};

/**
 * `audit show <id>`: the timeline of one request, its result from dsr.discovery-results among the
 * steps, the chain check, and the check of the chain against the result (see checkResult).
 */
export const auditShow: CliCommand = {
  group: 'audit',
  build: (context) =>
    new Command('show')
      .description(
        'print the audit timeline of one request (received, rejected, answered, its result) with its chain check',
      )
      .argument('<requestId>', 'the request id')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (requestId: string, options: { config: string }) => {
        const { kafka, topic, records } = await trail(context, options.config);
        const mine = records.filter((r) => r.requestId === requestId);
        if (mine.length === 0) throw unknownRequest(topic, requestId, 'requestId');
        for (const { event, partition, offset } of mine) {
          const line = event
            ? `${event.at}  ${event.step.padEnd(8)}  ${JSON.stringify(event.detail)}`
            : '(unreadable entry)';
          context.stdout(`${line}  [${topic}/${partition}@${offset}]\n`);
        }
        const resultsTopic = piiDiscoveryTopics().results.name;
        const results = await readResults(kafka, resultsTopic, requestId);
        for (const { result, partition, offset } of results) {
          const line = result
            ? `${result.answeredAt}  ${'result'.padEnd(8)}  ${describeResult(result)}`
            : '(unreadable result)';
          context.stdout(`${line}  [${resultsTopic}/${partition}@${offset}]\n`);
        }
        const [broken] = verifyAuditTrail(mine).broken;
        context.stdout(
          broken ? `chain BROKEN: ${broken.problem} at offset ${broken.offset}\n` : 'chain verified\n',
        );
        const mismatch = checkResult(mine, results);
        if (mismatch) context.stdout(`result MISMATCH: ${mismatch}\n`);
        if (broken || mismatch) throw new CliExit(AUDIT_FAILED_EXIT);
      }),
};
