/**
 * The pii-discovery stage (discovery + DSR answers) as a runtime Component. Hosted when the config
 * has a `dsr` section; a crash of its consumers restarts it after a backoff (supervise).
 */
import { piiDiscoverySettings, runPiiDiscovery } from '../consumers/pii-discovery/index.js';
import { child } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { supervise } from '../sources/supervise.js';
import type { GroupFactory } from './components.js';

export const piiDiscoveryGroup: GroupFactory = {
  configured: (config) => config.dsr !== undefined,
  create: ({ config, logger }) => {
    // validates now (dsr section, classification file), so `dsr-cdc run` fails before starting
    const settings = piiDiscoverySettings(config);
    return {
      id: 'group:pii-discovery',
      run: (signal) =>
        supervise(() => runPiiDiscovery(config, logger, signal), child(logger, 'pii-discovery'), signal),
      status: async () => ({
        groups: [settings.discovery.groupId, settings.answerer.groupId],
        // messages behind each cdc partition's end, as of discovery's last batch there
        lag: Object.fromEntries(
          (await metrics.consumerLag.get()).values
            .filter((v) => v.labels.group === settings.discovery.groupId)
            .map((v) => [`${v.labels.topic}/${v.labels.partition}`, v.value]),
        ),
        topics: {
          index: settings.discovery.indexTopic,
          requests: settings.answerer.requestsTopic,
          results: settings.answerer.resultsTopic,
        },
      }),
    };
  },
};
