import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import type { ImportResult, ModelCard } from '../types.js';
import type { SsdAnchorSpec } from '../../types/detection.js';
import { EdgefitError } from '../../util/errors.js';
import { parseTflite, Op, TensorType } from './schema.js';
import { emitOnnx, type EmitMode, type EmitOptions } from './emit.js';
import { guessFromName, loadLabels, fitLabels, fitDetectionLabels } from './card.js';
import { findDetectionOp, type DetectionOp } from './detection.js';
import { encodeAnchors, fitSsdAnchorSpec } from '../../detect/anchors.js';

/** QDQ measured faster than QLinear on onnxruntime-node 1.30 x64 (scripts/bench-tflite-emit.ts). */
export const DEFAULT_EMIT: EmitMode = 'qdq';

export interface TfliteImportOptions extends Pick<EmitOptions, 'weightForm' | 'requantQmax' | 'requantScope'> {
  labelsPath?: string;
  /** 'qdq' (default), 'qlinear', or 'float' (weights dequantized to float32: a fidelity reference) */
  emit?: EmitMode;
}

/**
 * Converts a quantized TFLite image classifier (or an SSD detector ending in TFLite_Detection_PostProcess) into an ONNX model that takes raw uint8 RGB NHWC pixels, keeping
 * the file's own integer weights, zero points, scales and int32 biases. Models that end in global average
 * pooling get symbolic H, W input dims and run at any resolution.
 */
export async function importTflite(path: string, opts: TfliteImportOptions = {}): Promise<ImportResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new EdgefitError('E_IMPORT_READ', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const labels = opts.labelsPath ? await loadLabels(opts.labelsPath) : undefined;
  return convertTflite(bytes, path, { ...opts, labels });
}

/**
 * A detector's card: `classes` counts the classes without background (labels are indexed like Detection.index),
 * `background` says the scores in `raw` start with a background column.
 */
function detectionCard(d: DetectionOp, labels: string[] | undefined, anchorGenerator: SsdAnchorSpec | undefined): Partial<ModelCard> {
  return {
    task: 'detection',
    output: 'probabilities',
    classes: d.postprocess.numClasses,
    background: d.background,
    labels,
    detection: {
      postprocess: d.postprocess, background: d.background, anchorsBase64: encodeAnchors(d.anchors), anchorCount: d.anchorCount,
      ...(anchorGenerator ? { anchorGenerator } : {}),
      resize: 'stretch',
    },
  };
}

/** The conversion itself, on bytes already read (also used by the fuzz test). */
export function convertTflite(bytes: Uint8Array, path: string, opts: { emit?: EmitMode; labels?: string[] } & EmitOptions = {}): ImportResult {
  const mode = opts.emit ?? DEFAULT_EMIT;
  if (mode !== 'qdq' && mode !== 'qlinear' && mode !== 'float') throw new EdgefitError('E_OPTIONS', `unknown emission mode "${String(mode)}"; use qdq, qlinear or float`);
  const name = basename(path, extname(path));
  try {
    const model = parseTflite(bytes, path);
    const detection = findDetectionOp(model, path);
    // labels are checked before the (slower) emission: a wrong file is refused at once
    const detectionLabels = detection ? fitDetectionLabels(opts.labels, detection.postprocess.numClasses, path) : undefined;
    const emitted = emitOnnx(model, mode, name, { uint8Weights: opts.uint8Weights, weightForm: opts.weightForm, requantQmax: opts.requantQmax, requantScope: opts.requantScope, inputMeans: opts.inputMeans, requantRounding: opts.requantRounding, detectionOp: detection?.op });
    const guess = guessFromName(path);
    const { height, width } = emitted.input;
    const inT = model.tensors[model.inputs[0]!]!;
    // the standard SSD generator, when it reproduces the embedded anchors exactly: other resolutions regenerate them
    const anchorGenerator = detection && height === width ? fitSsdAnchorSpec(detection.anchors, height, detection.anchorQuant) : undefined;
    const fitted = detection ? { labels: detectionLabels, background: detection.background } : fitLabels(opts.labels, emitted.output.classes, path);
    const q = inT.quant!;
    // int8 inputs see p - 128, so as a function of the uint8 pixel: (p - 128 - zp) * scale
    const pixelZp = inT.type === TensorType.INT8 ? q.zeroPoint[0]! + 128 : q.zeroPoint[0]!;
    const perChannel = model.tensors.some((t) => t.data && t.quant && t.quant.scale.length > 1);
    const int8 = model.tensors.some((t) => t.type === TensorType.INT8 && t.quant);
    const card: ModelCard = {
      name,
      family: guess.family,
      alpha: guess.alpha,
      resolution: height === width ? height : guess.resolution,
      // a detector runs at other sizes only with anchors regenerated for them
      anyResolution: emitted.anyResolution && (!detection || anchorGenerator !== undefined),
      precision: mode === 'float' ? 'fp32' : 'int8',
      input: { layout: 'NHWC', dtype: 'uint8', scale: q.scale[0]!, offset: -pixelZp * q.scale[0]! },
      output: emitted.output.softmax ? 'probabilities' : 'logits',
      classes: emitted.output.classes,
      background: fitted.background || (!fitted.labels && emitted.output.classes === 1001),
      labels: fitted.labels,
      source: { format: 'tflite', file: basename(path), sha256: createHash('sha256').update(bytes).digest('hex') },
      quantization: mode === 'float'
        ? 'tflite-dequantized-float'
        : `tflite-${int8 ? 'int8' : 'uint8'}-${perChannel ? 'per-channel' : 'per-tensor'}${model.operators.some((o) => o.code === Op.QUANTIZE) ? '-ptq' : ''}`,
    };
    if (detection) Object.assign(card, detectionCard(detection, fitted.labels, anchorGenerator));
    return { onnx: emitted.bytes, card, convInputs: emitted.convInputs };
  } catch (err) {
    if (err instanceof EdgefitError) throw err;
    // Anything else is a consistency check we do not have yet, hit by a corrupt file: refuse it, keep the cause.
    throw new EdgefitError('E_TFLITE_INVALID', `${path}: cannot convert this TFLite file (${(err as Error).message}); it is corrupt or uses a layout edgefit does not read`, { cause: err });
  }
}
