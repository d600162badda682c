import type { Detection, DetectionSpec } from '../types/detection.js';
import { EdgefitError } from '../util/errors.js';

// PLACEHOLDER until h17-import lands the real module (same signature); replaced at merge, never shipped.
export function postprocessDetections(_raw: Float32Array, _spec: DetectionSpec, _anchors: Float32Array, _labels: readonly string[] | undefined, _opts?: { minScore?: number }): Detection[] {
  throw new EdgefitError('E_NOT_IMPLEMENTED', 'detection post-processing is not in this build');
}
