import type { Command } from 'commander';
import { loadConfig, parseSetFlags, collect, type LoadedConfig } from '../config/index.js';

/** The flags every command that reads the configuration takes. */
export interface ConfigFlags { config?: string; set?: string[]; stateDir?: string }

/** Adds --config, --set and --state-dir, so every command that reads the configuration takes the same ones. */
export function withConfig(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'YAML or JSON configuration file (default: $EDGEFIT_CONFIG)')
    .option('--set <path=value>', 'override one setting, e.g. --set budget.latencyMs=50 (repeatable)', collect)
    .option('--state-dir <dir>', 'where models, the profile cache and the outbox live (stateDir)');
}

/**
 * The configuration of a command: defaults < file < EDGEFIT_* < --set < the command's own flags (`overrides`,
 * --state-dir among them). A bad configuration ends here, before anything is touched.
 */
export function loadConfigFrom(flags: ConfigFlags, overrides: Record<string, unknown> = {}): LoadedConfig {
  return loadConfig({
    file: flags.config,
    env: process.env,
    overrides: { ...parseSetFlags(flags.set), ...(flags.stateDir !== undefined ? { stateDir: flags.stateDir } : {}), ...overrides },
  });
}

/** The effective configuration of a command (see loadConfigFrom). */
export function configFrom(flags: ConfigFlags, overrides: Record<string, unknown> = {}): LoadedConfig['config'] {
  return loadConfigFrom(flags, overrides).config;
}
