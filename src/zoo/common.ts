import type { GraphMeta } from './graph.js';
import type { ResolvedOptions } from './options.js';

export function metaOf(o: ResolvedOptions): GraphMeta {
  return { family: o.family, alpha: o.alpha, resolution: o.resolution, classes: o.classes, options: { ...o.options } };
}

/** Keras-style int(c * alpha); the epsilon guards products like 0.7*10 = 6.999... */
export function scaleChannels(c: number, alpha: number): number {
  return Math.max(1, Math.floor(c * alpha + 1e-6));
}

/**
 * The usual _make_divisible of the TF/Keras MobileNet-v2 code: round to the nearest multiple of `divisor`
 * (at least `divisor`), and never go more than 10% below the requested value.
 */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let n = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}
