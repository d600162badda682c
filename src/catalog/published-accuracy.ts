import type { Family } from '../zoo/graph.js';
import type { Precision } from './types.js';

/**
 * Published ImageNet top-1 of the MobileNets by (family, alpha, resolution, precision), copied from the official
 * model-zoo documentation, with the file and commit they were read from. Single centre crop, as published.
 */

export interface PublishedSource {
  repository: string;
  path: string;
  commit: string;
  /** what the numbers are */
  what: string;
}

export const SOURCES = {
  slimV1: {
    repository: 'tensorflow/models',
    path: 'research/slim/nets/mobilenet_v1.md',
    commit: '10cf1c0adfc8a7adaa476bf4ebb7e6c576526a5f',
    what: 'MobileNet_v1 table, float and _quant (the mobilenet_v1_2018_08_02 release, TFLite-evaluated quantized models)',
  },
  slimV2: {
    repository: 'tensorflow/models',
    path: 'research/slim/nets/mobilenet/README.md',
    commit: '0ba83cf0211401a8505505276c59418f15338d31',
    what: 'Mobilenet V2 Imagenet Checkpoints table (float)',
  },
  tfliteHosted: {
    repository: 'tensorflow/tensorflow',
    path: 'tensorflow/lite/g3doc/guide/hosted_models.md',
    commit: '0406598a59a78fd428b74fdd5e1ee704d17ce05a',
    what: 'Hosted models, quantized image classification (Mobilenet_V2_1.0_224_quant)',
  },
} as const satisfies Record<string, PublishedSource>;

export type SourceId = keyof typeof SOURCES;

export interface PublishedTop1 {
  family: Family;
  alpha: number;
  resolution: number;
  precision: Precision;
  /** 0..1 */
  top1: number;
  source: SourceId;
}

// [alpha, resolution, float top-1 %, quant top-1 %] as the slim MobileNet_v1 table lists them
const V1: ReadonlyArray<readonly [number, number, number, number]> = [
  [1.0, 224, 70.9, 70.1], [1.0, 192, 70.0, 69.2], [1.0, 160, 68.0, 67.2], [1.0, 128, 65.2, 63.4],
  [0.75, 224, 68.4, 66.8], [0.75, 192, 67.2, 66.1], [0.75, 160, 65.3, 62.3], [0.75, 128, 62.1, 55.8],
  [0.5, 224, 63.3, 60.7], [0.5, 192, 61.7, 60.0], [0.5, 160, 59.1, 57.7], [0.5, 128, 56.3, 54.5],
  [0.25, 224, 49.8, 48.0], [0.25, 192, 47.7, 46.0], [0.25, 160, 45.5, 43.4], [0.25, 128, 41.5, 39.5],
];

// [alpha, resolution, float top-1 %] as the slim Mobilenet V2 table lists them
const V2: ReadonlyArray<readonly [number, number, number]> = [
  [1.4, 224, 75.0], [1.3, 224, 74.4],
  [1.0, 224, 71.8], [1.0, 192, 70.7], [1.0, 160, 68.8], [1.0, 128, 65.3], [1.0, 96, 60.3],
  [0.75, 224, 69.8], [0.75, 192, 68.7], [0.75, 160, 66.4], [0.75, 128, 63.2], [0.75, 96, 58.8],
  [0.5, 224, 65.4], [0.5, 192, 63.9], [0.5, 160, 61.0], [0.5, 128, 57.7], [0.5, 96, 51.2],
  [0.35, 224, 60.3], [0.35, 192, 58.2], [0.35, 160, 55.7], [0.35, 128, 50.8], [0.35, 96, 45.5],
];

const pct = (x: number) => Math.round(x * 10) / 1000;

export const PUBLISHED_TOP1: readonly PublishedTop1[] = [
  ...V1.flatMap(([alpha, resolution, f, q]) => [
    { family: 'mobilenet_v1' as Family, alpha, resolution, precision: 'fp32' as Precision, top1: pct(f), source: 'slimV1' as SourceId },
    { family: 'mobilenet_v1' as Family, alpha, resolution, precision: 'int8' as Precision, top1: pct(q), source: 'slimV1' as SourceId },
  ]),
  ...V2.map(([alpha, resolution, f]) => ({ family: 'mobilenet_v2' as Family, alpha, resolution, precision: 'fp32' as Precision, top1: pct(f), source: 'slimV2' as SourceId })),
  { family: 'mobilenet_v2', alpha: 1.0, resolution: 224, precision: 'int8', top1: 0.708, source: 'tfliteHosted' },
];

export function publishedTop1(family: Family, alpha: number, resolution: number, precision: Precision): PublishedTop1 | undefined {
  return PUBLISHED_TOP1.find((e) => e.family === family && e.alpha === alpha && e.resolution === resolution && e.precision === precision);
}

/**
 * Weights trained at one resolution and run at a smaller one lose more than the published drop, which compares
 * models each trained at its own resolution (the objects the network learned are now smaller than it saw in
 * training). The published drop is multiplied by this to stay conservative; the agreement measured on the
 * device (src/profile/agreement.ts) checks the rung for real.
 */
export const RESOLUTION_MISMATCH_FACTOR = 1.5;

/**
 * Below the smallest published resolution the curve is extended by its last step scaled to the gap, times this:
 * the published curves steepen as the resolution falls (MobileNet-v2's 128 -> 96 step is 1.1-2x its 160 -> 128 step).
 */
export const EXTRAPOLATION_STEEPENING = 1.5;

export interface AccuracyEstimate {
  /** 0..1, rounded to 0.1 point */
  value: number;
  /** how it was obtained, in a sentence with the numbers */
  basis: string;
}

/** The published curve of one (family, alpha, precision) by resolution, or undefined when it has < 2 points. */
function curve(family: Family, alpha: number, precision: Precision): PublishedTop1[] | undefined {
  const pts = PUBLISHED_TOP1.filter((e) => e.family === family && e.alpha === alpha && e.precision === precision).sort((a, b) => a.resolution - b.resolution);
  return pts.length >= 2 ? pts : undefined;
}

/** Top-1 on a curve at a resolution: linear between published points, extended (steepened) below the smallest. */
function onCurve(c: PublishedTop1[], r: number): { top1: number; extrapolated: boolean } | undefined {
  const lo = c[0]!, hi = c[c.length - 1]!;
  if (r > hi.resolution) return undefined;
  if (r < lo.resolution) {
    const next = c[1]!;
    const step = (next.top1 - lo.top1) * ((lo.resolution - r) / (next.resolution - lo.resolution)) * EXTRAPOLATION_STEEPENING;
    return { top1: lo.top1 - step, extrapolated: true };
  }
  for (let i = 1; i < c.length; i++) {
    const a = c[i - 1]!, b = c[i]!;
    if (r <= b.resolution) return { top1: a.top1 + ((b.top1 - a.top1) * (r - a.resolution)) / (b.resolution - a.resolution), extrapolated: false };
  }
  return { top1: lo.top1, extrapolated: false };
}

const p1 = (x: number) => (x * 100).toFixed(1);

/**
 * Top-1 of a model whose own accuracy at its native resolution is `nativeTop1`, run at the smaller `resolution`:
 * its own figure minus RESOLUTION_MISMATCH_FACTOR times the published drop between the two resolutions for its
 * family and alpha (the curve of its precision when published at both resolutions, else the float curve).
 * Undefined when the tables do not cover the family/alpha or the native resolution.
 */
export function estimateAtResolution(family: Family, alpha: number, precision: Precision, nativeResolution: number, nativeTop1: number, resolution: number): AccuracyEstimate | undefined {
  if (!(resolution < nativeResolution) || !(nativeTop1 > 0 && nativeTop1 <= 1)) return undefined;
  for (const prec of precision === 'fp32' ? ['fp32'] as const : [precision, 'fp32'] as const) {
    const c = curve(family, alpha, prec);
    if (!c) continue;
    const at = onCurve(c, nativeResolution), to = onCurve(c, resolution);
    if (!at || !to || at.extrapolated) continue;
    const drop = Math.max(0, at.top1 - to.top1);
    const value = Math.max(0, Math.round((nativeTop1 - RESOLUTION_MISMATCH_FACTOR * drop) * 1000) / 1000);
    const src = SOURCES[c[0]!.source];
    return {
      value,
      basis: `${p1(nativeTop1)}% at ${nativeResolution} minus ${RESOLUTION_MISMATCH_FACTOR} x the published ${nativeResolution}->${resolution} drop of ${family} ${alpha} ${prec === 'int8' ? 'quantized' : 'float'} (${p1(at.top1)}% -> ${p1(to.top1)}%${to.extrapolated ? `, ${resolution} extended below the table` : ''}; ${src.repository}/${src.path})`,
    };
  }
  return undefined;
}
