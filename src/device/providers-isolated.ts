import { execFile } from 'node:child_process';
import { distModule } from '../util/paths.js';
import type { ProvidersInfo } from './types.js';

/**
 * The provider probe in a child process: the same proof (a session per provider, nodes placed on it), but a
 * crashing GPU library or the sessions' memory stay out of the caller.
 */
export function probeProvidersIsolated(ortLibraryPath?: string, timeoutMs = 60_000): Promise<ProvidersInfo> {
  return new Promise((resolve) => {
    execFile(process.execPath, [distModule('device/providers-child.js'), ...(ortLibraryPath ? [ortLibraryPath] : [])], { timeout: timeoutMs, maxBuffer: 1 << 22 }, (err, stdout) => {
      try {
        resolve(JSON.parse(stdout) as ProvidersInfo);
      } catch {
        const why = err ? err.message.split('\n')[0]! : 'no answer';
        resolve({ status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: `the provider probe process failed (${why}); only cpu is assumed` });
      }
    });
  });
}
