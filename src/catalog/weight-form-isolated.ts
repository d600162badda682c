import { EdgefitError } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import { readDeviceForm, type DeviceForm, type DeviceFormRequest } from './weight-form.js';

/** Three forms converted, run on the frames and timed: a few seconds here, a minute or more on a Pi Zero. */
export const WEIGHT_FORM_TIMEOUT_MS = 600_000;

/** deviceWeightForm in a child process; a cached decision is returned without one. */
export async function deviceWeightFormIsolated(r: DeviceFormRequest, signal?: AbortSignal): Promise<DeviceForm> {
  const cached = await readDeviceForm(r.stateDir, r.sourceSha256, r.labelsPath);
  if (cached) return cached;
  try {
    return await runIsolated<DeviceForm>(distModule('catalog/weight-form-child.js'), r, { timeoutMs: WEIGHT_FORM_TIMEOUT_MS, maxRssMb: 1024, ...(signal ? { signal } : {}) });
  } catch (err) {
    const why = err instanceof IsolatedFailure ? `${err.detail}${err.lastLine ? `: ${err.lastLine}` : ''}` : (err as Error).message;
    throw new EdgefitError('E_WEIGHT_FORM', `choosing the int8 weight form of ${r.sourcePath} on this device failed (${why}); the model runs with its exact uint8 weights. Run \`edgefit models pull\` to try again`, { cause: err });
  }
}
