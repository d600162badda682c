import type { Command } from 'commander';
import { loadConfig, formatConfig, publishedSchema, parseSetFlags, collect } from '../config/index.js';

export function register(program: Command): void {
  program
    .command('config')
    .description('show the effective configuration (with the source of each value) or its JSON Schema')
    .option('--print', 'print the effective configuration and where each value came from (default action)')
    .option('--schema', 'print the JSON Schema of the configuration')
    .option('--config <file>', 'YAML or JSON configuration file (default: $EDGEFIT_CONFIG)')
    .option('--set <path=value>', 'override one setting, e.g. --set mqtt.url=mqtt://broker:1883 (repeatable)', collect)
    .option('--json', 'print JSON instead of text')
    .action((opts: { print?: boolean; schema?: boolean; config?: string; set?: string[]; json?: boolean }) => {
      if (opts.schema) {
        process.stdout.write(JSON.stringify(publishedSchema(), null, 2) + '\n');
        return;
      }
      const loaded = loadConfig({ file: opts.config, env: process.env, overrides: parseSetFlags(opts.set) });
      process.stdout.write(formatConfig(loaded, { json: opts.json }) + '\n');
    });
}
