import type { Command } from 'commander';
import { formatConfig, publishedSchema } from '../config/index.js';
import { loadConfigFrom, withConfig, type ConfigFlags } from './config-flags.js';

export function register(program: Command): void {
  withConfig(program
    .command('config')
    .description('show the effective configuration (with the source of each value) or its JSON Schema')
    .option('--print', 'print the effective configuration and where each value came from (default action)')
    .option('--schema', 'print the JSON Schema of the configuration')
    .option('--json', 'print JSON instead of text'))
    .action((opts: ConfigFlags & { print?: boolean; schema?: boolean; json?: boolean }) => {
      if (opts.schema) {
        process.stdout.write(JSON.stringify(publishedSchema(), null, 2) + '\n');
        return;
      }
      const loaded = loadConfigFrom(opts);
      process.stdout.write(formatConfig(loaded, { json: opts.json }) + '\n');
    });
}
