import { EdgefitError } from '../../util/errors.js';
import type { DetectionPostprocess } from '../../types/detection.js';
import { readFlexMap, type FlexValue } from './flexbuffers.js';
import { Op, TensorType, tensorInts, type TflModel, type TflOperator } from './schema.js';

/** The custom op an SSD exported for TFLite ends in (TF Object Detection API, `add_postprocessing_op=true`). */
export const POSTPROCESS_OP = 'TFLite_Detection_PostProcess';

/** Bounds the options must keep: what the op accepts, and sizes a small board can hold (max detections x classes). */
const LIMITS = { maxDetections: 1000, detectionsPerClass: 10000, classes: 10000, anchors: 1_000_000 };

/** What the importer takes from a detector's post-process op: its options, anchors and the shapes around it. */
export interface DetectionOp {
  op: TflOperator;
  postprocess: DetectionPostprocess;
  /** (cy, cx, h, w) per anchor, dequantized exactly as the op does ((q - zp) * scale in float32) */
  anchors: Float32Array;
  anchorCount: number;
  /** class-score columns of the scores input (numClasses, or numClasses + 1 with a background column first) */
  columns: number;
  background: boolean;
}

function refuse(source: string, msg: string): EdgefitError {
  return new EdgefitError('E_TFLITE_DETECTION', `${source}: ${msg}`);
}

/**
 * Finds and checks a detector's post-process op. Returns null for a model without one; refuses a detector
 * exported without it (two outputs shaped like box encodings and class scores) and any other custom op, since
 * the anchors and NMS options would be missing.
 */
export function findDetectionOp(m: TflModel, source: string): DetectionOp | null {
  const custom = m.operators.filter((op) => op.code === Op.CUSTOM);
  const other = custom.find((op) => op.customCode !== POSTPROCESS_OP);
  if (other) {
    throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${source}: operator ${other.index} is the custom op "${other.customCode ?? '(unnamed)'}", which edgefit cannot run; the only custom op edgefit converts is ${POSTPROCESS_OP} (SSD detectors). Export the model with builtin operators only`);
  }
  if (custom.length === 0) {
    if (looksLikeRawSsd(m)) {
      throw refuse(source, `this looks like an SSD detector exported without its ${POSTPROCESS_OP} op (a "no NMS" export: outputs are raw box encodings and class scores); the anchors and the NMS options live in that op, so re-export with add_postprocessing_op=true (TF Object Detection API export_tflite_ssd_graph / export_tflite_graph_tf2)`);
    }
    return null;
  }
  if (custom.length > 1) throw refuse(source, `the model has ${custom.length} ${POSTPROCESS_OP} ops; edgefit imports detectors with one`);
  const op = custom[0]!;
  const where = `operator ${op.index} (${POSTPROCESS_OP})`;
  if (op !== m.operators[m.operators.length - 1]) throw refuse(source, `${where} is not the last operator; edgefit imports detectors whose post-process ends the graph`);
  if (op.inputs.length !== 3) throw refuse(source, `${where} has ${op.inputs.length} inputs; it takes box encodings, class scores and anchors`);
  if (op.outputs.length !== 4 || m.outputs.length !== 4 || !m.outputs.every((o) => op.outputs.includes(o))) {
    throw refuse(source, `${where}: the graph's outputs must be the op's four outputs (boxes, classes, scores, count)`);
  }
  const [boxT, scoreT, anchorT] = op.inputs.map((i) => m.tensors[i]!);
  if (!boxT || !scoreT || !anchorT) throw refuse(source, `${where} has a missing input`);
  if (boxT.shape.length !== 3 || boxT.shape[0] !== 1 || boxT.shape[2] !== 4) {
    throw refuse(source, `${where}: box encodings have shape [${boxT.shape.join(',')}]; edgefit converts [1, anchors, 4] (no keypoints)`);
  }
  const anchorCount = boxT.shape[1]!;
  if (!(anchorCount > 0 && anchorCount <= LIMITS.anchors)) throw refuse(source, `${where}: ${anchorCount} anchors`);
  if (scoreT.shape.length !== 3 || scoreT.shape[0] !== 1 || scoreT.shape[1] !== anchorCount) {
    throw refuse(source, `${where}: class scores have shape [${scoreT.shape.join(',')}], expected [1, ${anchorCount}, classes]`);
  }
  const columns = scoreT.shape[2]!;
  const anchors = anchorValues(anchorT, anchorCount, source, where);
  const postprocess = parseOptions(op, columns, source, where);
  return { op, postprocess, anchors, anchorCount, columns, background: columns === postprocess.numClasses + 1 };
}

function looksLikeRawSsd(m: TflModel): boolean {
  const shapes = m.outputs.map((i) => m.tensors[i]?.shape ?? []);
  const boxes = shapes.find((s) => s.length === 3 && s[2] === 4);
  return !!boxes && shapes.some((s) => s !== boxes && s.length === 3 && s[1] === boxes[1] && s[2]! > 1);
}

function anchorValues(t: NonNullable<TflModel['tensors'][number]>, count: number, source: string, where: string): Float32Array {
  if (!t.data) throw refuse(source, `${where}: the anchors (tensor ${t.index}, ${t.name}) are computed at run time; edgefit needs them constant`);
  if (t.shape.length !== 2 || t.shape[0] !== count || t.shape[1] !== 4) {
    throw refuse(source, `${where}: the anchors tensor ${t.name} has shape [${t.shape.join(',')}], expected [${count}, 4] (one (y, x, h, w) per box encoding); the file is corrupt or not an SSD`);
  }
  const v = tensorInts(t);
  let out: Float32Array;
  if (t.type === TensorType.FLOAT32) out = v as Float32Array;
  else if (t.type === TensorType.UINT8 && t.quant && t.quant.scale.length === 1) {
    const scale = Math.fround(t.quant.scale[0]!);
    const zp = t.quant.zeroPoint[0]!;
    out = Float32Array.from(v as Uint8Array, (q) => Math.fround((q - zp) * scale));
  } else {
    throw refuse(source, `${where}: the anchors are ${t.typeName}${t.quant ? '' : ' without quantization'}; the op takes float32 or per-tensor quantized uint8 anchors`);
  }
  for (let i = 0; i < out.length; i += 4) {
    if (!Number.isFinite(out[i]!) || !Number.isFinite(out[i + 1]!) || !(out[i + 2]! > 0) || !(out[i + 3]! > 0) || !Number.isFinite(out[i + 2]!) || !Number.isFinite(out[i + 3]!)) {
      throw refuse(source, `${where}: anchor ${i / 4} is (${Array.from(out.subarray(i, i + 4)).join(', ')}); anchors need a finite centre and a positive size`);
    }
  }
  return out;
}

function parseOptions(op: TflOperator, columns: number, source: string, where: string): DetectionPostprocess {
  if (!op.customOptions || op.customOptions.length === 0) throw refuse(source, `${where} has no options (max_detections, num_classes, ...)`);
  if (op.customOptionsFormat !== 0) throw refuse(source, `${where} stores its options in format ${op.customOptionsFormat}; TFLite writes FlexBuffers (0)`);
  const map = readFlexMap(op.customOptions, `${source}: ${where}`);
  const num = (key: string, dflt?: number): number => {
    const v: FlexValue | undefined = map.get(key);
    if (v === undefined || v === null) {
      if (dflt !== undefined) return dflt;
      throw refuse(source, `${where} lacks the option ${key}`);
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw refuse(source, `${where}: option ${key} is ${JSON.stringify(v)}, not a number`);
    return v;
  };
  const int = (key: string, lo: number, hi: number, dflt?: number): number => {
    const v = num(key, dflt);
    if (!Number.isInteger(v) || v < lo || v > hi) throw refuse(source, `${where}: option ${key} = ${v} is outside ${lo}..${hi}`);
    return v;
  };
  const numClasses = int('num_classes', 1, LIMITS.classes);
  if (columns !== numClasses && columns !== numClasses + 1) {
    throw refuse(source, `${where}: num_classes is ${numClasses} but the class scores have ${columns} columns (expected ${numClasses} or ${numClasses + 1} with background)`);
  }
  const maxDetections = int('max_detections', 1, LIMITS.maxDetections);
  const maxClassesPerDetection = int('max_classes_per_detection', 1, numClasses);
  const useRegularNms = num('use_regular_nms', 0) !== 0;
  // the op's own default when the key is absent (kNumDetectionsPerClass); only regular NMS reads it (fast-NMS exports write 0)
  const detectionsPerClass = int('detections_per_class', useRegularNms ? 1 : 0, LIMITS.detectionsPerClass, 100);
  const nmsIouThreshold = num('nms_iou_threshold');
  if (!(nmsIouThreshold > 0 && nmsIouThreshold <= 1)) throw refuse(source, `${where}: nms_iou_threshold = ${nmsIouThreshold} is outside (0, 1]`);
  const nmsScoreThreshold = num('nms_score_threshold');
  if (!(nmsScoreThreshold >= 0 && nmsScoreThreshold < 1)) throw refuse(source, `${where}: nms_score_threshold = ${nmsScoreThreshold} is outside [0, 1)`);
  const scale = (key: string): number => {
    const v = num(key);
    if (!(v > 0 && v <= 1e6)) throw refuse(source, `${where}: box coder scale ${key} = ${v} must be positive`);
    return v;
  };
  return {
    maxDetections, maxClassesPerDetection, detectionsPerClass, useRegularNms, nmsIouThreshold, nmsScoreThreshold, numClasses,
    scales: { y: scale('y_scale'), x: scale('x_scale'), h: scale('h_scale'), w: scale('w_scale') },
  };
}
