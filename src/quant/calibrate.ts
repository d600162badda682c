import * as ort from 'onnxruntime-node';
import { onnx, type ModelProto } from '../onnx/proto.js';
import { cloneModel, floatOutput, GraphIndex } from './model.js';
import { dimsOf } from '../onnx/reader.js';

export type CalibMethod = 'minmax' | 'percentile' | 'mse';

export interface TensorStats {
  min: number;
  max: number;
  /** the chosen clipping threshold of |x| for the percentile method */
  absPercentile?: number;
  /** the clipping threshold of |x| that minimises the expected squared quantization error (mse method) */
  absMse?: number;
}

const BINS = 2048;
/** Share of |x| values kept inside the range by the percentile method; the rest saturate. */
export const PERCENTILE = 99.99;

/** Runs `model` with extra outputs on `frames`, feeding uint8 NHWC frames. */
export async function runWithOutputs(model: ModelProto, names: string[], frames: Uint8Array[], resolution: number,
  each: (frame: number, values: Map<string, Float32Array>, dims: Map<string, readonly number[]>) => void): Promise<void> {
  const m = cloneModel(model);
  const g = m.graph!;
  const existing = new Set((g.output ?? []).map((o) => o.name));
  g.output = [...(g.output ?? []), ...names.filter((n) => !existing.has(n)).map((n) => floatOutput(n))];
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(m).finish(), { graphOptimizationLevel: 'basic' });
  try {
    const inputName = session.inputNames[0]!;
    for (let f = 0; f < frames.length; f++) {
      const out = await session.run({ [inputName]: new ort.Tensor('uint8', frames[f]!, [1, resolution, resolution, 3]) }, names);
      const vals = new Map<string, Float32Array>();
      const dims = new Map<string, readonly number[]>();
      for (const n of names) { vals.set(n, out[n]!.data as Float32Array); dims.set(n, out[n]!.dims); }
      each(f, vals, dims);
    }
  } finally {
    await session.release();
  }
}

/**
 * Per-tensor statistics over the frames. min/max in one pass; the percentile method adds a second pass that
 * histograms |x| over [0, max|x|] and takes the PERCENTILE-th value, so a few outlier pixels of one photo do
 * not stretch the scale for every frame.
 */
export async function calibrate(model: ModelProto, names: string[], frames: Uint8Array[], resolution: number, method: CalibMethod): Promise<Map<string, TensorStats>> {
  const stats = new Map<string, TensorStats>(names.map((n) => [n, { min: Infinity, max: -Infinity }]));
  if (names.length === 0) return stats;
  await runWithOutputs(model, names, frames, resolution, (_f, vals) => {
    for (const [n, v] of vals) {
      const s = stats.get(n)!;
      let lo = s.min;
      let hi = s.max;
      for (let i = 0; i < v.length; i++) {
        const x = v[i]!;
        if (x < lo) lo = x;
        if (x > hi) hi = x;
      }
      s.min = lo;
      s.max = hi;
    }
  });
  if (method === 'minmax') return stats;
  const hist = new Map<string, Float64Array>(names.map((n) => [n, new Float64Array(BINS)]));
  await runWithOutputs(model, names, frames, resolution, (_f, vals) => {
    for (const [n, v] of vals) {
      const s = stats.get(n)!;
      const top = Math.max(Math.abs(s.min), Math.abs(s.max));
      if (!(top > 0)) continue;
      const h = hist.get(n)!;
      const k = BINS / top;
      for (let i = 0; i < v.length; i++) {
        const b = Math.min(BINS - 1, Math.floor(Math.abs(v[i]!) * k));
        h[b]! += 1;
      }
    }
  });
  for (const n of names) {
    const s = stats.get(n)!;
    const h = hist.get(n)!;
    const top = Math.max(Math.abs(s.min), Math.abs(s.max));
    // both thresholds from the one histogram: a caller comparing methods calibrates once
    s.absMse = mseThreshold(h, top, s.min < 0);
    let total = 0;
    for (let b = 0; b < BINS; b++) total += h[b]!;
    const keep = total * (PERCENTILE / 100);
    let acc = 0;
    let b = 0;
    for (; b < BINS; b++) {
      acc += h[b]!;
      if (acc >= keep) break;
    }
    s.absPercentile = ((b + 1) / BINS) * top;
  }
  return stats;
}

/**
 * The clipping threshold T of |x| minimising the squared error of a 256-level grid over [0, T] (or [-T, T] for
 * a signed tensor): values inside lose step^2 / 12 to rounding, values beyond T lose (|x| - T)^2 to saturation.
 * T is searched over the histogram's bin edges from top/16 to top; the histogram is of |x|, so a signed tensor's
 * two tails are weighed together.
 */
export function mseThreshold(h: Float64Array, top: number, signed: boolean): number {
  if (!(top > 0)) return top;
  const bins = h.length;
  const w = top / bins;
  // suffix sums of count, count * x and count * x^2 (x = bin centre): the saturation error of any T in O(1)
  const c0 = new Float64Array(bins + 1), c1 = new Float64Array(bins + 1), c2 = new Float64Array(bins + 1);
  for (let b = bins - 1; b >= 0; b--) {
    const x = (b + 0.5) * w;
    c0[b] = c0[b + 1]! + h[b]!;
    c1[b] = c1[b + 1]! + h[b]! * x;
    c2[b] = c2[b + 1]! + h[b]! * x * x;
  }
  let best = top;
  let bestErr = Infinity;
  for (let e = Math.max(1, Math.floor(bins / 16)); e <= bins; e++) {
    const T = e * w;
    const step = (signed ? 2 * T : T) / 255;
    const err = ((c0[0]! - c0[e]!) * step * step) / 12 + c2[e]! - 2 * T * c1[e]! + T * T * c0[e]!;
    if (err < bestErr) { bestErr = err; best = T; }
  }
  return best;
}

/** Mean of every input channel (NCHW or [N, C]) of each node's activation input, over the frames. */
export async function inputChannelMeans(model: ModelProto, nodes: Array<{ name?: string | null; input?: string[] | null }>, frames: Uint8Array[], resolution: number): Promise<Map<string, Float64Array>> {
  const byTensor = new Map<string, string[]>();
  for (const n of nodes) {
    const t = n.input![0]!;
    byTensor.set(t, [...(byTensor.get(t) ?? []), n.name ?? '']);
  }
  const sums = new Map<string, Float64Array>();
  await runWithOutputs(model, [...byTensor.keys()], frames, resolution, (_f, vals) => {
    for (const [t, v] of vals) {
      // channel count: a [1, C] tensor when flat, else the caller's NCHW; find C from the first run's length
      const s = sums.get(t);
      const C = s?.length ?? channelsOf(model, t, v.length);
      const acc = s ?? new Float64Array(C);
      const per = v.length / C;
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let i = c * per, e = i + per; i < e; i++) sum += v[i]!;
        acc[c]! += sum / per;
      }
      sums.set(t, acc);
    }
  });
  const out = new Map<string, Float64Array>();
  for (const [t, names] of byTensor) {
    const acc = sums.get(t)!.map((x) => x / frames.length);
    for (const n of names) out.set(n, acc);
  }
  return out;
}

/** Input channels of the node(s) reading `t`, from their weights: Conv [O, I/g, kh, kw], MatMul [I, O], Gemm. */
function channelsOf(model: ModelProto, t: string, total: number): number {
  const ix = new GraphIndex(model);
  for (const n of ix.consumers.get(t) ?? []) {
    const w = n.input?.[1] ? ix.inits.get(n.input[1]) : undefined;
    if (!w) continue;
    const d = dimsOf(w);
    if (n.opType === 'Conv') {
      const group = Number((n.attribute ?? []).find((a) => a.name === 'group')?.i ?? 1);
      return d[1]! * group;
    }
    if (n.opType === 'MatMul') return d[0]!;
    if (n.opType === 'Gemm') {
      const transB = Number((n.attribute ?? []).find((a) => a.name === 'transB')?.i ?? 0);
      return transB ? d[1]! : d[0]!;
    }
  }
  return total;
}

/** Largest |x| of every channel (NCHW) of each tensor over the frames. */
export async function channelMaxima(model: ModelProto, names: string[], frames: Uint8Array[], resolution: number): Promise<Map<string, Float64Array>> {
  const out = new Map<string, Float64Array>();
  if (names.length === 0) return out;
  await runWithOutputs(model, names, frames, resolution, (_f, vals, dims) => {
    for (const [n, v] of vals) {
      const C = dims.get(n)![1] ?? 1;
      const per = v.length / C;
      const acc = out.get(n) ?? new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let m = acc[c]!;
        for (let i = c * per, e = i + per; i < e; i++) { const a = Math.abs(v[i]!); if (a > m) m = a; }
        acc[c] = m;
      }
      out.set(n, acc);
    }
  });
  return out;
}
