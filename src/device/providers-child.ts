import { loadOrt, probeProviders, type OrtBindingLike } from './providers.js';
import { loadOrtBinding } from '../engine/ort-binding.js';
import type { ProvidersInfo } from './types.js';

// Child-process entry: proves the providers and prints ProvidersInfo as JSON on stdout. The daemon runs the
// probe here so the probe sessions' native memory (tens of MB that malloc keeps) never lands in its own RSS.
async function main(): Promise<void> {
  const path = process.argv[2];
  let info: ProvidersInfo;
  try {
    let ort: OrtBindingLike | null;
    let error: string | null = null;
    if (path) {
      ort = (await loadOrtBinding(path)).ort as unknown as OrtBindingLike;
      ort.env.logLevel = 'fatal';
    } else {
      ({ ort, error } = await loadOrt({ quiet: true }));
    }
    info = ort ? await probeProviders(ort) : { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error };
  } catch (err) {
    info = { status: 'unavailable', ortVersion: null, listed: [], checks: [], usable: [], error: err instanceof Error ? err.message : String(err) };
  }
  process.stdout.write(JSON.stringify(info));
}

await main();
