import { distModule } from '../util/paths.js';
import { errorMessage } from '../util/errors.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import type { ProvidersInfo } from './types.js';

/**
 * The provider probe in a child process (runIsolated): the same proof (a session per provider, nodes placed on
 * it), but a crashing GPU library or the sessions' memory stay out of the caller. Never rejects: a probe that
 * fails, hangs past `timeoutMs` (killed) or crashes leaves cpu only, with the reason.
 */
export async function probeProvidersIsolated(ortLibraryPath?: string, timeoutMs = 60_000): Promise<ProvidersInfo> {
  try {
    return await runIsolated<ProvidersInfo>(distModule('device/providers-child.js'), { ortLibraryPath: ortLibraryPath ?? null }, { timeoutMs });
  } catch (err) {
    const why = err instanceof IsolatedFailure ? [err.detail, err.lastLine].filter(Boolean).join(': ') : errorMessage(err).split('\n')[0]!;
    return { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: `the provider probe process failed (${why}); only cpu is assumed` };
  }
}
