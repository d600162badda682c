import { pullModels, type PullOptions } from './pull.js';
import type { Config } from '../config/types.js';
import { serveIsolated } from '../util/isolated-main.js';

// Runs in a child process of the daemon (src/catalog/pull-isolated.ts): downloads and converts models, so that a
// transfer that hangs or a converter that crashes or balloons on a hostile file takes down this process, not the
// daemon. Progress goes to stderr.
serveIsolated(({ config, opts }: { config: Config; opts: Omit<PullOptions, 'catalog' | 'log'> }) =>
  pullModels(config, { ...opts, log: (line) => process.stderr.write(`${line}\n`) }), 'E_PULL');
