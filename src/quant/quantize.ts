import { onnx, type ModelProto } from '../onnx/proto.js';
import { readOnnx } from '../onnx/reader.js';
import { EdgefitError } from '../util/errors.js';
import { GraphIndex } from './model.js';
import { foldBatchNormOnnx } from './fold-bn.js';
import { classifierToGemm } from './classifier.js';
import { planQuantization, type QPlan, type QTensor } from './plan.js';
import { calibrate, channelMaxima, inputChannelMeans, PERCENTILE, type CalibMethod, type TensorStats } from './calibrate.js';
import { insertQdq, actParams, type ActParams, type WeightQuant } from './qdq.js';
import { resolveFrames } from './frames.js';
import { inputAsDequantize } from './input-dq.js';
import { equalizablePairs, equalizeModel, type EqualizeReport, type EqualizeTarget } from './equalize.js';
import { collectLayerInputs, roundAdaptively, ADAROUND_DEFAULTS, type AdaRoundLayer, type AdaRoundOptions, type LayerInputs } from './adaround.js';
import { isDepthwise } from './qdq.js';
import { augmentedFrames, VIEWS, type View } from './augment.js';

export type WeightBits = 8 | 7;

/** Model metadata: the nodes left in float by design (comma-separated), which the integer-kernel check allows. */
export const FLOAT_NODES_KEY = 'edgefit.quantization.float_nodes';

export interface QuantizeOptions {
  /** calibration frames (uint8 RGB HWC at `resolution`), a folder of photos, or a list of photo files */
  calib: Uint8Array[] | string | { files: string[] };
  /**
   * the views each calibration photo is rendered in (crops, mirror, exposure; augment.ts), default VIEWS: a few
   * photos then cover more of the ranges and patches unseen frames produce. Frames given as arrays are used as is.
   */
  calibViews?: readonly View[];
  method: CalibMethod;
  /** 8: weights in [-127,127]; 7: [-63,63], which x86 u8s8 GEMM kernels without VNNI multiply without int16 saturation */
  weightBits: WeightBits;
  /** depthwise convs run on another kernel in onnxruntime; default: weightBits */
  depthwiseBits?: WeightBits;
  resolution: number;
  /** default true: correct each bias for the mean shift its weights' rounding causes */
  biasCorrection?: boolean;
  /**
   * cross-layer equalization of conv pairs before quantizing (exact in float; see equalize.ts): 'weights' (or
   * true) is Nagel's weight-range equalization, 'activations' balances the calibrated activation ranges against
   * the next conv's weights; default false: with per-channel weight scales neither helped on the measured models
   * and 'weights' hurt the plain-ReLU person detector (docs/quantization.md)
   */
  equalize?: boolean | EqualizeTarget;
  /** default true: choose each weight's rounding against the layer's output on the calibration frames */
  adaround?: boolean | Partial<AdaRoundOptions>;
  /**
   * default true: the classifier (the Gemm classifier.ts makes of the last 1x1 conv) keeps float weights and
   * bias; its input stays quantized. It is one small layer (MobileNet 0.25: 256 x 1000) that adaptive rounding
   * cannot help (too few pooled samples); on the Keras MobileNet-v1 0.25 it keeps float's top-1 on one more
   * clear-margin test view (122/125 against 121) and ties on the calibration hold-out (docs/quantization.md).
   */
  floatClassifier?: boolean;
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
  /** that classifier's weights were kept in float (QuantizeOptions.floatClassifier) */
  floatClassifier?: boolean;
  tensors: TensorRange[];
  weights: WeightQuant[];
  /** e.g. "ptq-percentile-w8" for the model card */
  tag: string;
}

/** Post-training quantization of a float ONNX model (uint8 NHWC input) into QDQ form onnxruntime fuses. */
export async function quantizeModel(floatOnnx: Uint8Array, opts: QuantizeOptions): Promise<{ onnx: Uint8Array; report: QuantReport }> {
  checkMethod(opts.method);
  checkBits(opts);
  return emitQuantized(await prepareQuantization(floatOnnx, opts), opts);
}

/**
 * Everything about a quantization that does not depend on the range method or the weight width: the rewritten
 * float graph, the plan, the calibration statistics of every method (one histogram serves percentile and mse),
 * input means for bias correction and, when adaptive rounding is on, each layer's input moments. Candidates
 * that differ only in those choices are emitted from one of these.
 */
export interface PreparedQuantization {
  model: ModelProto;
  plan: QPlan;
  frames: number;
  foldedBatchNorms: number;
  floatLogitsFrom?: string;
  equalization?: EqualizeReport;
  stats: Map<string, TensorStats>;
  means?: Map<string, Float64Array>;
  layerInputs?: LayerInputs;
}

export async function prepareQuantization(floatOnnx: Uint8Array, opts: Omit<QuantizeOptions, 'method' | 'weightBits' | 'depthwiseBits'>): Promise<PreparedQuantization> {
  if (!(Number.isInteger(opts.resolution) && opts.resolution >= 8 && opts.resolution <= 4096)) throw new EdgefitError('E_OPTIONS', `resolution must be an integer in 8..4096, got ${opts.resolution}`);
  const frames = await calibrationFrames(opts.calib, opts.resolution, opts.calibViews ?? VIEWS);
  const bnFold = foldBatchNormOnnx(readOnnx(floatOnnx, 'float model'));
  const cls = classifierToGemm(bnFold.model);
  const pixelsIn = inputAsDequantize(cls.model);
  const eqTarget: EqualizeTarget | undefined = opts.equalize === true || opts.equalize === 'weights' ? 'weights' : opts.equalize === 'activations' ? 'activations' : undefined;
  const pre = pixelsIn?.model ?? cls.model;
  const eq = eqTarget ? equalizeModel(pre, { target: eqTarget, ...(eqTarget === 'activations' ? { ranges: await channelMaxima(pre, equalizablePairs(pre), frames, opts.resolution) } : {}) }) : undefined;
  const model = eq?.model ?? pixelsIn?.model ?? cls.model;
  const plan = planQuantization(new GraphIndex(model));
  if (pixelsIn) {
    // the pixels are the first conv's quantized input: a static grid (no calibration) with the pixels' own scale
    const { scale, zeroPoint } = pixelsIn;
    plan.tensors.set(pixelsIn.tensor, { name: pixelsIn.tensor, kind: 'input', bounds: [-zeroPoint * scale, (255 - zeroPoint) * scale], op: 'DequantizeLinear' });
  }
  if (plan.weighted.length === 0) throw new EdgefitError('E_QUANT', 'the model has no Conv/Gemm/MatMul with constant weights: nothing to quantize');
  // ReLU6 outputs too: the mse method weighs saturation against rounding for their [0, 6] grids as well
  const toCalibrate = [...plan.tensors.values()].filter((t) => t.kind !== 'alias' && t.kind !== 'input').map((t) => t.name);
  const stats = await calibrate(model, toCalibrate, frames, opts.resolution, 'percentile');
  const means = opts.biasCorrection ?? true ? await inputChannelMeans(model, plan.weighted, frames, opts.resolution) : undefined;
  const ar = adaroundOptions(opts.adaround);
  const layerInputs = ar ? await collectLayerInputs(model, plan.weighted, frames, opts.resolution, ar) : undefined;
  return {
    model, plan, frames: frames.length, foldedBatchNorms: bnFold.folded, ...(cls.rewritten ? { floatLogitsFrom: cls.rewritten } : {}),
    ...(eq ? { equalization: eq.report } : {}), stats, ...(means ? { means } : {}), ...(layerInputs ? { layerInputs } : {}),
  };
}

function adaroundOptions(a: QuantizeOptions['adaround']): AdaRoundOptions | undefined {
  return a ?? true ? { ...ADAROUND_DEFAULTS, ...(typeof a === 'object' ? a : {}) } : undefined;
}

function checkBits(opts: Pick<QuantizeOptions, 'weightBits' | 'depthwiseBits'>): WeightBits {
  const dwBits = opts.depthwiseBits ?? opts.weightBits;
  for (const b of [opts.weightBits, dwBits]) if (b !== 8 && b !== 7) throw new EdgefitError('E_OPTIONS', `weight bits must be 8 or 7, got ${String(b)}`);
  return dwBits;
}

function checkMethod(m: unknown): void {
  if (m !== 'minmax' && m !== 'percentile' && m !== 'mse') throw new EdgefitError('E_OPTIONS', `calibration method must be minmax, percentile or mse, got ${String(m)}`);
}

/** One candidate from a prepared quantization; `adaround: false` rounds to nearest even if inputs were collected. */
export async function emitQuantized(p: PreparedQuantization, opts: Pick<QuantizeOptions, 'method' | 'weightBits' | 'depthwiseBits' | 'adaround' | 'floatClassifier'>): Promise<{ onnx: Uint8Array; report: QuantReport }> {
  checkMethod(opts.method);
  const dwBits = checkBits(opts);
  const params = new Map<string, ActParams>();
  const tensors: TensorRange[] = [];
  const clipsToo = opts.method === 'mse';
  for (const t of p.plan.tensors.values()) {
    if (t.kind === 'alias') continue;
    const s = p.stats.get(t.name);
    const [lo, hi] = chooseRange(t, s, opts.method, clipsToo);
    const a = actParams(lo, hi);
    params.set(t.name, a);
    // a fixed ReLU6 grid reports no observation: calibration did not decide it
    const used = s && (t.kind !== 'clip' || clipsToo);
    tensors.push({ name: t.name, kind: t.kind, ...(t.op ? { op: t.op } : {}), ...(used ? { observed: { ...s } } : {}), lo: a.lo, hi: a.hi, scale: a.scale, zeroPoint: a.zeroPoint });
  }
  const qmax = (b: WeightBits) => (b === 8 ? 127 : 63);
  const ar = p.layerInputs ? adaroundOptions(opts.adaround) : undefined;
  const rounded = ar && p.layerInputs ? roundAdaptively(p.layerInputs, (n, dims) => qmax(isDepthwise(n, dims) ? dwBits : opts.weightBits), ar) : undefined;
  const floatFc = (opts.floatClassifier ?? true) && p.floatLogitsFrom ? `${p.floatLogitsFrom}_gemm` : undefined;
  const q = insertQdq(p.model, p.plan, params, qmax(opts.weightBits), qmax(dwBits), p.means, rounded?.rounded, floatFc ? new Set([floatFc]) : undefined);
  const tag = `ptq-${opts.method}-w${opts.weightBits}${dwBits !== opts.weightBits ? `-dw${dwBits}` : ''}${p.equalization ? '-cle' : ''}${rounded ? '-ar' : ''}${floatFc ? '-fc32' : ''}`;
  q.model.metadataProps = [...(q.model.metadataProps ?? []).filter((x) => x.key !== 'edgefit.quantization' && x.key !== FLOAT_NODES_KEY), { key: 'edgefit.quantization', value: tag },
    ...(floatFc ? [{ key: FLOAT_NODES_KEY, value: floatFc }] : [])];
  return {
    onnx: onnx.ModelProto.encode(q.model).finish(),
    report: {
      method: opts.method, ...(opts.method === 'percentile' ? { percentile: PERCENTILE } : {}), weightBits: opts.weightBits, depthwiseBits: dwBits,
      biasCorrection: p.means !== undefined, calibFrames: p.frames, foldedBatchNorms: p.foldedBatchNorms,
      ...(p.equalization ? { equalization: p.equalization } : {}), ...(ar && rounded ? { adaround: { seed: ar.seed, passes: ar.passes, layers: rounded.layers } } : {}),
      ...(p.floatLogitsFrom ? { floatLogitsFrom: p.floatLogitsFrom } : {}), ...(floatFc ? { floatClassifier: true } : {}),
      tensors, weights: q.weights, tag,
    },
  };
}

/** The frames a calibration source stands for: photos in every view, or the caller's frames as they are. */
export async function calibrationFrames(src: QuantizeOptions['calib'], resolution: number, views: readonly View[] = VIEWS): Promise<Uint8Array[]> {
  if (Array.isArray(src)) return resolveFrames(src, resolution);
  const photos = typeof src === 'string' ? src : src.files;
  if (Array.isArray(photos) && photos.length === 0) throw new EdgefitError('E_CALIB', 'no calibration photos given; pass at least one photo');
  return (await augmentedFrames(photos, resolution, views)).map((a) => a.frame);
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
