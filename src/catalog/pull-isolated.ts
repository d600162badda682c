import { EdgefitError } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import type { Config } from '../config/types.js';
import type { PullOptions, PullReport } from './pull.js';

export interface IsolatedPullOptions {
  log?: (line: string) => void;
  /** aborting kills the pull (the daemon stopping) */
  signal?: AbortSignal;
  /** default: models.pullTimeoutSeconds */
  timeoutMs?: number;
  /** the child's script; tests give one that dies or hangs */
  childScript?: string;
}

/**
 * pullModels in a child process (src/catalog/pull-child.ts): what the daemon runs for the `pull-model` command.
 * A transfer that hangs past models.pullTimeoutSeconds, a crash or a runaway allocation while converting ends
 * the child (and its own children), and the daemon answers with an error and keeps running its current model.
 * Errors the pull reports (bad mirror, unknown id, sha256 mismatch) come back with their codes.
 */
export async function pullModelsIsolated(config: Config, opts: Omit<PullOptions, 'catalog' | 'log'> = {}, o: IsolatedPullOptions = {}): Promise<PullReport> {
  const timeoutMs = o.timeoutMs ?? config.models.pullTimeoutSeconds * 1000;
  try {
    return await runIsolated<PullReport>(o.childScript ?? distModule('catalog/pull-child.js'), { config, opts }, {
      timeoutMs, ...(o.signal ? { signal: o.signal } : {}), ...(o.log ? { onStderrLine: o.log } : {}),
    });
  } catch (err) {
    if (!(err instanceof IsolatedFailure)) throw err;
    const why = err.lastLine ? ` (${err.lastLine})` : '';
    switch (err.end) {
      case 'timeout':
        throw new EdgefitError('E_PULL', `the model pull did not finish within ${Math.round(timeoutMs / 1000)} s (models.pullTimeoutSeconds) and was killed${why}; the running model is unchanged: retry, or raise models.pullTimeoutSeconds for a slow link`, { cause: err });
      case 'aborted':
        throw new EdgefitError('E_STOPPING', 'the model pull was stopped: the daemon is stopping; the running model is unchanged', { cause: err });
      case 'spawn':
        throw new EdgefitError('E_PULL', `cannot start the model pull process (${err.detail}); the running model is unchanged`, { cause: err });
      default:
        throw new EdgefitError('E_PULL', `the model pull process ${err.detail}${why}; the running model is unchanged, and a model file that crashes the converter is not used`, { cause: err });
    }
  }
}
