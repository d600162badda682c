import type { DetectionSpec } from './detection.js';

/**
 * The names every layer shares about a model: its family, a runnable rung (Variant) and what an importer knows
 * (ModelCard). They live at the bottom so that the catalog, importers, profiler and selector import them
 * from here instead of from each other.
 */
export type Family = 'mobilenet_v1' | 'mobilenet_v2' | 'shufflenet_v1' | 'squeezenet' | 'xception';

export type Precision = 'int8' | 'fp32';

/** How the model's input wants its pixels; edgefit's own models take uint8 RGB NHWC straight from the camera. */
export interface InputFormat {
  layout: 'NHWC' | 'NCHW';
  dtype: 'uint8' | 'float32';
  /** float input = pixel * scale + offset (documented, for models that do not fold it in) */
  scale?: number;
  offset?: number;
}

/** One runnable model file: a rung of the ladder the selector climbs. */
export interface Variant {
  /** stable id, e.g. "mobilenet_v1-0.5-160-int8" */
  id: string;
  family: Family;
  alpha: number;
  resolution: number;
  precision: Precision;
  /** published ImageNet top-1 (0..1) of this model at this resolution, where known */
  referenceAccuracy?: number;
  /**
   * top-1 (0..1) estimated for a rung that runs a model below the resolution it was trained at (its published
   * figure minus the published drop, made conservative); see src/catalog/published-accuracy.ts
   */
  estimatedAccuracy?: number;
  /** where the accuracy figure comes from, in words (the table and numbers behind it) */
  accuracyBasis?: string;
  /** the resolution the weights were trained at, when this rung runs them at a smaller one (or at it) */
  nativeResolution?: number;
  macs: number;
  params: number;
  /** absolute path of the .onnx file */
  modelPath: string;
  /** sha256 of the .onnx file */
  sha256: string;
  labelsPath?: string;
  /** true when the weights are real (imported/pulled), false for seeded zoo weights */
  pretrained: boolean;
  input: InputFormat;
  /** where it came from: "zoo", "tflite:<sha>", "keras:<sha>" */
  source: string;
  /** what the output means (from the model card); absent = classification */
  task?: 'classification' | 'detection';
  /** detectors: the card's post-process, anchors and resize rule, read by the pipeline when the model is loaded */
  detection?: DetectionSpec;
}

/** What an importer knows about a model; written beside the .onnx as `<name>.card.json`. */
export interface ModelCard {
  name: string;
  /** what the output means; absent = classification (cards written before detection existed) */
  task?: 'classification' | 'detection';
  /** detectors only: the post-process, anchors and resize rule (src/types/detection.ts) */
  detection?: DetectionSpec;
  family?: Family;
  alpha?: number;
  /** native input resolution; imported GAP models also run at other resolutions */
  resolution?: number;
  /** true when the model accepts any H, W (global average pooling, symbolic dims) */
  anyResolution: boolean;
  precision: Precision;
  input: InputFormat;
  /** output is probabilities (softmax inside) or logits */
  output: 'probabilities' | 'logits';
  classes: number;
  /** first class is "background" (TFLite ImageNet models: 1001 classes) */
  background: boolean;
  labels?: string[];
  source: { format: 'tflite' | 'keras' | 'onnx' | 'zoo'; file: string; sha256: string };
  /** for quantized models: what was done, e.g. "tflite-qat-uint8", "ptq-percentile-w8" */
  quantization?: string;
  /** imported int8 models: the weight form this device runs, decided by measurement on it (src/catalog/weight-form.ts) */
  weights?: WeightFormRecord;
}

/**
 * How an imported model's int8 weights are stored. 'u8': uint8, run by onnxruntime's u8u8 kernels (exact on every
 * CPU). 's8-exact': int8 with the same values (zero point 0 where they fit), run by the u8s8 kernels, fast where
 * the CPU multiplies u8 x s8 exactly. 's8-requant': int8 symmetric per channel, re-rounded, accepted only by a
 * fidelity check against 'u8'.
 */
export type WeightForm = 'u8' | 's8-exact' | 's8-requant';

/** Which convs a requantized form re-rounds: all, or only the depthwise ones (the others exact). */
export type RequantScope = 'all' | 'depthwise';

export interface WeightFormCandidate {
  form: WeightForm;
  /** s8-requant: the symmetric range [-qmax, qmax] */
  qmax?: number;
  scope?: RequantScope;
  /** the narrow convs widened to 16 channels with zero channels (src/catalog/pad-channels.ts): same integers, other kernels */
  padded?: boolean;
  /** the first conv reads 4 adjacent pixels as 12 channels (src/catalog/stem-s2d.ts): same integers, the fast kernel */
  stemS2d?: boolean;
  /** median latency, 1 intra-op thread, interleaved with the other forms */
  p50Ms: number;
  /** outputs identical (dequantized) to the u8 form's on every frame */
  bitExact: boolean;
  /** frames whose top-1 equals the u8 form's (a detector: every detection scoring >= 0.5 in either is made by the other, same class, box IoU >= 0.8) */
  agree: number;
  frames: number;
  minCosine: number;
  accepted: boolean;
  why: string;
}

export interface WeightFormRecord {
  form: WeightForm;
  qmax?: number;
  scope?: RequantScope;
  padded?: boolean;
  stemS2d?: boolean;
  reason: string;
  candidates: WeightFormCandidate[];
  /** what the decision is valid for: source file, CPU, runtime, decision version */
  key: string;
  decidedAt: string;
}
