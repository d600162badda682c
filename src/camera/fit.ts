import type { Variant } from '../types/model.js';
import type { FrameFit } from './source.js';

/** The frame fit a model's card asks for: detectors take the whole frame stretched, classifiers a centre crop. */
export function frameFit(v: Pick<Variant, 'detection'>): FrameFit {
  return v.detection?.resize === 'stretch' ? 'stretch' : 'crop';
}
