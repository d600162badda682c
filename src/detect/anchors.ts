import type { DetectionSpec } from '../types/detection.js';
import { EdgefitError } from '../util/errors.js';

// PLACEHOLDER until h17-anchors lands the real module (same signature); replaced at merge, never shipped.
export function anchorsFor(_spec: DetectionSpec, _resolution: number): Float32Array {
  throw new EdgefitError('E_NOT_IMPLEMENTED', 'SSD anchors are not in this build');
}
