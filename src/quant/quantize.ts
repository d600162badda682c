import { onnx } from '../onnx/proto.js';
import { readOnnx } from '../onnx/reader.js';
import { EdgefitError } from '../util/errors.js';
import { GraphIndex } from './model.js';
import { foldBatchNormOnnx } from './fold-bn.js';
import { classifierToGemm } from './classifier.js';
import { planQuantization, type QTensor } from './plan.js';
import { calibrate, inputChannelMeans, PERCENTILE, type CalibMethod, type TensorStats } from './calibrate.js';
import { insertQdq, actParams, type ActParams, type WeightQuant } from './qdq.js';
import { resolveFrames } from './frames.js';
import { inputAsDequantize } from './input-dq.js';

export type WeightBits = 8 | 7;

export interface QuantizeOptions {
  /** calibration frames (uint8 RGB HWC at `resolution`) or a folder of photos */
  calib: Uint8Array[] | string;
  method: CalibMethod;
  /** 8: weights in [-127,127]; 7: [-63,63], which x86 u8s8 GEMM kernels without VNNI multiply without int16 saturation */
  weightBits: WeightBits;
  /** depthwise convs run on another kernel in onnxruntime; default: weightBits */
  depthwiseBits?: WeightBits;
  resolution: number;
  /** default true: correct each bias for the mean shift its weights' rounding causes */
  biasCorrection?: boolean;
}

export interface TensorRange {
  name: string;
  kind: QTensor['kind'];
  op?: string;
  /** observed on the calibration frames (absent for static ranges) */
  observed?: { min: number; max: number; absPercentile?: number };
  /** the range the uint8 grid covers */
  lo: number;
  hi: number;
  scale: number;
  zeroPoint: number;
}

export interface QuantReport {
  method: CalibMethod;
  percentile?: number;
  weightBits: WeightBits;
  depthwiseBits: WeightBits;
  biasCorrection: boolean;
  calibFrames: number;
  foldedBatchNorms: number;
  /** the classifier that was rewritten to a Gemm so the logits leave the integer kernel in float */
  floatLogitsFrom?: string;
  tensors: TensorRange[];
  weights: WeightQuant[];
  /** e.g. "ptq-percentile-w8" for the model card */
  tag: string;
}

/** Post-training quantization of a float ONNX model (uint8 NHWC input) into QDQ form onnxruntime fuses. */
export async function quantizeModel(floatOnnx: Uint8Array, opts: QuantizeOptions): Promise<{ onnx: Uint8Array; report: QuantReport }> {
  if (opts.method !== 'minmax' && opts.method !== 'percentile') throw new EdgefitError('E_OPTIONS', `calibration method must be minmax or percentile, got ${String(opts.method)}`);
  const dwBits = opts.depthwiseBits ?? opts.weightBits;
  for (const b of [opts.weightBits, dwBits]) if (b !== 8 && b !== 7) throw new EdgefitError('E_OPTIONS', `weight bits must be 8 or 7, got ${String(b)}`);
  if (!(Number.isInteger(opts.resolution) && opts.resolution >= 8 && opts.resolution <= 4096)) throw new EdgefitError('E_OPTIONS', `resolution must be an integer in 8..4096, got ${opts.resolution}`);
  const frames = await resolveFrames(opts.calib, opts.resolution);
  const bnFold = foldBatchNormOnnx(readOnnx(floatOnnx, 'float model'));
  const cls = classifierToGemm(bnFold.model);
  const pixelsIn = inputAsDequantize(cls.model);
  const model = pixelsIn?.model ?? cls.model;
  const plan = planQuantization(new GraphIndex(model));
  if (pixelsIn) {
    // the pixels are the first conv's quantized input: a static grid (no calibration) with the pixels' own scale
    const { scale, zeroPoint } = pixelsIn;
    plan.tensors.set(pixelsIn.tensor, { name: pixelsIn.tensor, kind: 'input', bounds: [-zeroPoint * scale, (255 - zeroPoint) * scale], op: 'DequantizeLinear' });
  }
  if (plan.weighted.length === 0) throw new EdgefitError('E_QUANT', 'the model has no Conv/Gemm/MatMul with constant weights: nothing to quantize');
  const toCalibrate = [...plan.tensors.values()].filter((t) => t.kind !== 'alias' && t.kind !== 'clip' && t.kind !== 'input').map((t) => t.name);
  const stats = await calibrate(model, toCalibrate, frames, opts.resolution, opts.method);
  const params = new Map<string, ActParams>();
  const tensors: TensorRange[] = [];
  for (const t of plan.tensors.values()) {
    if (t.kind === 'alias') continue;
    const s = stats.get(t.name);
    const [lo, hi] = chooseRange(t, s, opts.method);
    const p = actParams(lo, hi);
    params.set(t.name, p);
    tensors.push({ name: t.name, kind: t.kind, ...(t.op ? { op: t.op } : {}), ...(s ? { observed: { ...s } } : {}), lo: p.lo, hi: p.hi, scale: p.scale, zeroPoint: p.zeroPoint });
  }
  const biasCorrection = opts.biasCorrection ?? true;
  const means = biasCorrection ? await inputChannelMeans(model, plan.weighted, frames, opts.resolution) : undefined;
  const qmax = (b: WeightBits) => (b === 8 ? 127 : 63);
  const q = insertQdq(model, plan, params, qmax(opts.weightBits), qmax(dwBits), means);
  const tag = `ptq-${opts.method}-w${opts.weightBits}${dwBits !== opts.weightBits ? `-dw${dwBits}` : ''}`;
  q.model.metadataProps = [...(q.model.metadataProps ?? []).filter((p) => p.key !== 'edgefit.quantization'), { key: 'edgefit.quantization', value: tag }];
  return {
    onnx: onnx.ModelProto.encode(q.model).finish(),
    report: {
      method: opts.method, ...(opts.method === 'percentile' ? { percentile: PERCENTILE } : {}), weightBits: opts.weightBits, depthwiseBits: dwBits,
      biasCorrection, calibFrames: frames.length, foldedBatchNorms: bnFold.folded, ...(cls.rewritten ? { floatLogitsFrom: cls.rewritten } : {}),
      tensors, weights: q.weights, tag,
    },
  };
}

function chooseRange(t: QTensor, s: TensorStats | undefined, method: CalibMethod): [number, number] {
  // ReLU6 (or any Clip) bounds its output: a fixed grid needs no calibration and never saturates early
  if (t.kind === 'clip' || t.kind === 'input') return t.bounds!;
  if (!s || !Number.isFinite(s.min)) throw new Error(`quantization: tensor ${t.name} was not calibrated`);
  const lo = t.kind === 'relu' ? 0 : s.min;
  // requantized logits keep their whole observed range: saturating them makes the leading classes equal
  if (method === 'minmax' || t.kind === 'logits' || s.absPercentile === undefined) return [lo, s.max];
  const T = s.absPercentile;
  return [Math.max(lo, -T), Math.min(s.max, T)];
}
