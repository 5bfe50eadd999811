import { Command } from 'commander';
import { stringify } from 'yaml';
import { loadConfig, maskSecrets } from '../../config/load.js';
import type { CliCommand } from '../main.js';

/** `config check --config <file>`: validates the config and prints it resolved, secrets masked. */
export const configCheck: CliCommand = {
  group: 'config',
  build: (context) =>
    new Command('check')
      .description('validate a config file and print it resolved as YAML, secrets masked')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action((options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        context.stdout(stringify(maskSecrets(config)));
      }),
};
