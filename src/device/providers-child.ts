import { loadOrt, probeProviders, type OrtBindingLike } from './providers.js';
import { withTfjsProviders } from './providers-tfjs.js';
import { loadOrtBinding } from '../engine/ort-binding.js';
import { serveIsolated } from '../util/isolated-main.js';
import type { ProvidersInfo } from './types.js';

// Child-process entry (runIsolated): proves the providers (onnxruntime's, then TensorFlow.js's) and answers ProvidersInfo. The daemon runs the probe
// here so the probe sessions' native memory (tens of MB that malloc keeps) never lands in its own RSS.
serveIsolated<{ ortLibraryPath: string | null }, ProvidersInfo>(async ({ ortLibraryPath: path }) => withTfjsProviders(await probeOrt(path)));

async function probeOrt(path: string | null): Promise<ProvidersInfo> {
  try {
    let ort: OrtBindingLike | null;
    let error: string | null = null;
    if (path) {
      ort = (await loadOrtBinding(path)).ort as unknown as OrtBindingLike;
      ort.env.logLevel = 'fatal';
    } else {
      ({ ort, error } = await loadOrt({ quiet: true }));
    }
    return ort ? await probeProviders(ort) : { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error };
  } catch (err) {
    return { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: err instanceof Error ? err.message : String(err) };
  }
}
