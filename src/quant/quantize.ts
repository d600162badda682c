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
import { equalizeModel, type EqualizeReport } from './equalize.js';
import { adaptiveRounding, ADAROUND_DEFAULTS, type AdaRoundLayer, type AdaRoundOptions } from './adaround.js';
import { isDepthwise } from './qdq.js';

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
  /** default true: cross-layer equalization of conv pairs before quantizing (exact in float; see equalize.ts) */
  equalize?: boolean;
  /** default true: choose each weight's rounding against the layer's output on the calibration frames */
  adaround?: boolean | Partial<AdaRoundOptions>;
  /** mse method only, default false: also narrow the fixed [0, 6] grids of ReLU6 outputs to their MSE range */
  calibrateClips?: boolean;
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
  equalization?: EqualizeReport;
  adaround?: { seed: number; passes: number; layers: AdaRoundLayer[] };
  /** the classifier that was rewritten to a Gemm so the logits leave the integer kernel in float */
  floatLogitsFrom?: string;
  tensors: TensorRange[];
  weights: WeightQuant[];
  /** e.g. "ptq-percentile-w8" for the model card */
  tag: string;
}

/** Post-training quantization of a float ONNX model (uint8 NHWC input) into QDQ form onnxruntime fuses. */
export async function quantizeModel(floatOnnx: Uint8Array, opts: QuantizeOptions): Promise<{ onnx: Uint8Array; report: QuantReport }> {
  if (opts.method !== 'minmax' && opts.method !== 'percentile' && opts.method !== 'mse') throw new EdgefitError('E_ARG', `calibration method must be minmax, percentile or mse, got ${String(opts.method)}`);
  const dwBits = opts.depthwiseBits ?? opts.weightBits;
  for (const b of [opts.weightBits, dwBits]) if (b !== 8 && b !== 7) throw new EdgefitError('E_ARG', `weight bits must be 8 or 7, got ${String(b)}`);
  if (!(Number.isInteger(opts.resolution) && opts.resolution >= 8 && opts.resolution <= 4096)) throw new EdgefitError('E_ARG', `resolution must be an integer in 8..4096, got ${opts.resolution}`);
  const frames = await resolveFrames(opts.calib, opts.resolution);
  const bnFold = foldBatchNormOnnx(readOnnx(floatOnnx, 'float model'));
  const cls = classifierToGemm(bnFold.model);
  const pixelsIn = inputAsDequantize(cls.model);
  const eq = opts.equalize ?? true ? equalizeModel(pixelsIn?.model ?? cls.model) : undefined;
  const model = eq?.model ?? pixelsIn?.model ?? cls.model;
  const plan = planQuantization(new GraphIndex(model));
  if (pixelsIn) {
    // the pixels are the first conv's quantized input: a static grid (no calibration) with the pixels' own scale
    const { scale, zeroPoint } = pixelsIn;
    plan.tensors.set(pixelsIn.tensor, { name: pixelsIn.tensor, kind: 'input', bounds: [-zeroPoint * scale, (255 - zeroPoint) * scale], op: 'DequantizeLinear' });
  }
  if (plan.weighted.length === 0) throw new EdgefitError('E_QUANT', 'the model has no Conv/Gemm/MatMul with constant weights: nothing to quantize');
  const clipsToo = opts.method === 'mse' && opts.calibrateClips === true;
  const toCalibrate = [...plan.tensors.values()].filter((t) => t.kind !== 'alias' && (t.kind !== 'clip' || clipsToo) && t.kind !== 'input').map((t) => t.name);
  const stats = await calibrate(model, toCalibrate, frames, opts.resolution, opts.method);
  const params = new Map<string, ActParams>();
  const tensors: TensorRange[] = [];
  for (const t of plan.tensors.values()) {
    if (t.kind === 'alias') continue;
    const s = stats.get(t.name);
    const [lo, hi] = chooseRange(t, s, opts.method, clipsToo);
    const p = actParams(lo, hi);
    params.set(t.name, p);
    tensors.push({ name: t.name, kind: t.kind, ...(t.op ? { op: t.op } : {}), ...(s ? { observed: { ...s } } : {}), lo: p.lo, hi: p.hi, scale: p.scale, zeroPoint: p.zeroPoint });
  }
  const biasCorrection = opts.biasCorrection ?? true;
  const means = biasCorrection ? await inputChannelMeans(model, plan.weighted, frames, opts.resolution) : undefined;
  const qmax = (b: WeightBits) => (b === 8 ? 127 : 63);
  const ar = opts.adaround ?? true ? { ...ADAROUND_DEFAULTS, ...(typeof opts.adaround === 'object' ? opts.adaround : {}) } : undefined;
  const rounded = ar ? await adaptiveRounding(model, plan.weighted, frames, opts.resolution, (n, dims) => qmax(isDepthwise(n, dims) ? dwBits : opts.weightBits), ar) : undefined;
  const q = insertQdq(model, plan, params, qmax(opts.weightBits), qmax(dwBits), means, rounded?.rounded);
  const tag = `ptq-${opts.method}-w${opts.weightBits}${dwBits !== opts.weightBits ? `-dw${dwBits}` : ''}${eq ? '-cle' : ''}${ar ? '-ar' : ''}`;
  q.model.metadataProps = [...(q.model.metadataProps ?? []).filter((p) => p.key !== 'edgefit.quantization'), { key: 'edgefit.quantization', value: tag }];
  return {
    onnx: onnx.ModelProto.encode(q.model).finish(),
    report: {
      method: opts.method, ...(opts.method === 'percentile' ? { percentile: PERCENTILE } : {}), weightBits: opts.weightBits, depthwiseBits: dwBits,
      biasCorrection, calibFrames: frames.length, foldedBatchNorms: bnFold.folded,
      ...(eq ? { equalization: eq.report } : {}), ...(ar && rounded ? { adaround: { seed: ar.seed, passes: ar.passes, layers: rounded.layers } } : {}), ...(cls.rewritten ? { floatLogitsFrom: cls.rewritten } : {}),
      tensors, weights: q.weights, tag,
    },
  };
}

function chooseRange(t: QTensor, s: TensorStats | undefined, method: CalibMethod, clipsToo: boolean): [number, number] {
  // ReLU6 (or any Clip) bounds its output: a fixed grid needs no calibration and never saturates early
  if (t.kind === 'input' || (t.kind === 'clip' && !(clipsToo && s?.absMse !== undefined))) return t.bounds!;
  if (t.kind === 'clip') return [t.bounds![0], Math.min(t.bounds![1], Math.max(s!.absMse!, 1e-6))];
  if (!s || !Number.isFinite(s.min)) throw new Error(`quantization: tensor ${t.name} was not calibrated`);
  const lo = t.kind === 'relu' ? 0 : s.min;
  // requantized logits keep their whole observed range: saturating them makes the leading classes equal
  const T = method === 'mse' ? s.absMse : s.absPercentile;
  if (method === 'minmax' || t.kind === 'logits' || T === undefined) return [lo, s.max];
  return [Math.max(lo, -T), Math.min(s.max, T)];
}
