import type { Family } from '../zoo/graph.js';
import type { Precision } from './types.js';

/**
 * Published COCO mAP of the MobileNet SSD / SSDLite detectors, by (backbone family, head, alpha, resolution,
 * precision), with where each figure was read. The selector ranks detectors by this where a figure is known and
 * by MACs otherwise (`compareDetectors`). The figures belong to the trained weights they were published for: a
 * zoo detector with seeded weights has none.
 *
 * mAP is COCO's mAP@[.5:.95] (0..1). The TF model zoo reports it on its COCO minival subset rounded to a whole
 * point; the MobileNet-v2 paper on COCO test-dev to a tenth, at 320x320.
 */

export interface DetectionSource {
  what: string;
  /** a repository file at a commit ... */
  repository?: string;
  path?: string;
  commit?: string;
  /** ... or a paper */
  paper?: string;
  url?: string;
}

export const DETECTION_SOURCES = {
  tfOdZoo: {
    repository: 'tensorflow/models',
    path: 'research/object_detection/g3doc/tf1_detection_zoo.md',
    commit: '5a2cf36faf2c8e090d271c6789fb04e1f27b116f',
    what: 'TensorFlow 1 Detection Model Zoo, COCO-trained models table, "COCO mAP" column (COCO minival subset, rounded to the nearest integer)',
  },
  mobilenetV2Paper: {
    paper: 'Sandler, Howard, Zhu, Zhmoginov, Chen: MobileNetV2: Inverted Residuals and Linear Bottlenecks (CVPR 2018)',
    url: 'https://arxiv.org/abs/1801.04381',
    what: 'Table 6, SSDLite with MobileNetV1 / MobileNetV2 on COCO test-dev at 320x320 (22.2 / 22.1 mAP, 5.1M / 4.3M params, 1.3B / 0.8B MAdds)',
  },
} as const satisfies Record<string, DetectionSource>;

export type DetectionSourceId = keyof typeof DETECTION_SOURCES;
export type DetectorHead = 'ssd' | 'ssdlite';

export interface PublishedCocoMap {
  /** the backbone */
  family: Family;
  head: DetectorHead;
  alpha: number;
  resolution: number;
  precision: Precision;
  /** COCO mAP@[.5:.95], 0..1 */
  map: number;
  /** the published model's name */
  model: string;
  source: DetectionSourceId;
}

const e = (family: Family, head: DetectorHead, alpha: number, resolution: number, precision: Precision, mapPct: number, model: string, source: DetectionSourceId): PublishedCocoMap =>
  ({ family, head, alpha, resolution, precision, map: Math.round(mapPct * 10) / 1000, model, source });

export const PUBLISHED_COCO_MAP: readonly PublishedCocoMap[] = [
  e('mobilenet_v1', 'ssd', 1.0, 300, 'fp32', 21, 'ssd_mobilenet_v1_coco', 'tfOdZoo'),
  e('mobilenet_v1', 'ssd', 0.75, 300, 'fp32', 18, 'ssd_mobilenet_v1_0.75_depth_coco', 'tfOdZoo'),
  e('mobilenet_v1', 'ssd', 1.0, 300, 'int8', 18, 'ssd_mobilenet_v1_quantized_coco', 'tfOdZoo'),
  e('mobilenet_v1', 'ssd', 0.75, 300, 'int8', 16, 'ssd_mobilenet_v1_0.75_depth_quantized_coco', 'tfOdZoo'),
  e('mobilenet_v2', 'ssd', 1.0, 300, 'fp32', 22, 'ssd_mobilenet_v2_coco', 'tfOdZoo'),
  // the int8 COCO detector of the test data (google-coral's mobilenet_ssd_v2_coco_quant_postprocess) is this model
  e('mobilenet_v2', 'ssd', 1.0, 300, 'int8', 22, 'ssd_mobilenet_v2_quantized_coco', 'tfOdZoo'),
  e('mobilenet_v2', 'ssdlite', 1.0, 300, 'fp32', 22, 'ssdlite_mobilenet_v2_coco', 'tfOdZoo'),
  e('mobilenet_v1', 'ssdlite', 1.0, 320, 'fp32', 22.2, 'MNet V1 + SSDLite (paper)', 'mobilenetV2Paper'),
  e('mobilenet_v2', 'ssdlite', 1.0, 320, 'fp32', 22.1, 'MNet V2 + SSDLite (paper)', 'mobilenetV2Paper'),
];

export interface DetectorKey {
  family: Family;
  head: DetectorHead;
  alpha: number;
  resolution: number;
  precision: Precision;
}

/** The published COCO mAP of exactly this detector, if there is one. */
export function publishedCocoMap(k: DetectorKey): PublishedCocoMap | undefined {
  return PUBLISHED_COCO_MAP.find((p) => p.family === k.family && p.head === k.head && Math.abs(p.alpha - k.alpha) < 1e-9 &&
    p.resolution === k.resolution && p.precision === k.precision);
}

/**
 * Order of preference between two detectors that both fit the budget (negative: `a` first). Both with a
 * published mAP: the higher mAP; a tie in mAP, or either unknown: the larger MACs (the rule: mAP where
 * known, else MACs). A running variant's mAP is its model's at its native resolution; a reduced rung has none.
 */
export function compareDetectors(a: { cocoMap?: number; macs: number }, b: { cocoMap?: number; macs: number }): number {
  if (a.cocoMap !== undefined && b.cocoMap !== undefined && a.cocoMap !== b.cocoMap) return b.cocoMap - a.cocoMap;
  return b.macs - a.macs;
}
