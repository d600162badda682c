import { attr } from '../onnx/reader.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { runWithOutputs } from './calibrate.js';
import { GraphIndex } from './model.js';
import { roundNearest, weightAxis, weightScales } from './qdq.js';
import { mulberry32 } from '../zoo/init.js';
import { samePads } from '../zoo/builder.js';

export interface AdaRoundOptions {
  /** seeds the order coordinates are visited in; same seed, same weights */
  seed: number;
  /** coordinate-descent sweeps per output channel (each costs O(D^2)); the search stops earlier at a fixed point */
  passes: number;
  /** a layer is rounded adaptively only with at least this many input samples (patches) per weight of a channel */
  minSamplesPerWeight: number;
  /**
   * at most max(this x weights per channel, 4096) patches per layer enter H, taken at evenly spaced positions
   * that shift from frame to frame: H's cost is weights^2 x patches, and early layers have 10^5 patches a frame
   */
  samplesPerWeight: number;
}

export const ADAROUND_DEFAULTS: AdaRoundOptions = { seed: 1, passes: 8, minSamplesPerWeight: 2, samplesPerWeight: 64 };

export interface AdaRoundLayer {
  node: string;
  /** sum over channels of d^T H d / samples, nearest rounding vs chosen rounding (layer output MSE on the calibration frames) */
  nearestMse: number;
  adaptiveMse: number;
  /** weights whose integer differs from round-to-nearest */
  changed: number;
  weights: number;
}

/**
 * Adaptive rounding (after AdaRound, Nagel et al. 2020, with AdaRound's objective and search space but a greedy
 * solver): each integer weight may be its floor or its ceiling; per output channel, choose them to minimise the
 * layer's output error on the calibration frames, ||(W_q - W) x||^2 = d^T H d with H = sum x x^T over the
 * layer's float input patches. Coordinate descent from round-to-nearest, in a seeded order, accepting a flip
 * only when it lowers d^T (H + lambda I) d: the damping (1% of H's mean diagonal) keeps the search near nearest
 * rounding where the frames say little, and because nearest minimises |d|^2 the undamped error can only fall.
 * Layers with fewer input samples than `minSamplesPerWeight` x weights per channel (a classifier fed 9 pooled
 * vectors) keep nearest rounding: their H is too thin to generalise.
 */
export async function adaptiveRounding(model: ModelProto, weighted: NodeProto[], frames: Uint8Array[], resolution: number,
  qmaxOf: (n: NodeProto, dims: number[]) => number, opts: AdaRoundOptions = ADAROUND_DEFAULTS): Promise<{ rounded: Map<string, Int8Array>; layers: AdaRoundLayer[] }> {
  return roundAdaptively(await collectLayerInputs(model, weighted, frames, resolution, opts), qmaxOf, opts);
}

/** Each layer's input second moments H over the calibration frames: what the rounding search needs, per weight size. */
export interface LayerInputs { ix: GraphIndex; jobs: LayerJob[] }

export async function collectLayerInputs(model: ModelProto, weighted: NodeProto[], frames: Uint8Array[], resolution: number, opts: Pick<AdaRoundOptions, 'samplesPerWeight'> = ADAROUND_DEFAULTS): Promise<LayerInputs> {
  const ix = new GraphIndex(model);
  const jobs = weighted.map((n) => layerJob(n, ix)).filter((j): j is LayerJob => j !== undefined);
  for (const j of jobs) { j.cap = Math.max(4096, opts.samplesPerWeight * j.D); j.frames = frames.length; }
  const byInput = new Map<string, LayerJob[]>();
  for (const j of jobs) byInput.set(j.input, [...(byInput.get(j.input) ?? []), j]);
  await runWithOutputs(model, [...byInput.keys()], frames, resolution, (f, vals, dims) => {
    for (const [t, v] of vals) for (const j of byInput.get(t)!) accumulate(j, v, dims.get(t)!, f);
  });
  return { ix, jobs };
}

/** The rounding search on collected inputs; the same inputs serve several weight widths (qmaxOf). */
export function roundAdaptively(inputs: LayerInputs, qmaxOf: (n: NodeProto, dims: number[]) => number, opts: AdaRoundOptions = ADAROUND_DEFAULTS): { rounded: Map<string, Int8Array>; layers: AdaRoundLayer[] } {
  const { ix, jobs } = inputs;
  const rounded = new Map<string, Int8Array>();
  const layers: AdaRoundLayer[] = [];
  const rng = mulberry32(opts.seed);
  for (const j of jobs) {
    const w = ix.floatInit(j.node.input![1]!)!;
    const qmax = qmaxOf(j.node, w.dims);
    const axis = weightAxis(j.node);
    const { scale } = weightScales(w, axis, qmax);
    if (!j.H || j.samples < opts.minSamplesPerWeight * j.D) continue;
    const nearest = roundNearest(w, axis, scale, qmax);
    const q = nearest.slice();
    const r = optimiseLayer(j, w.data, scale, q, qmax, opts.passes, rng);
    let changed = 0;
    for (let i = 0; i < q.length; i++) changed += +(q[i] !== nearest[i]);
    rounded.set(j.node.name ?? '', q);
    layers.push({ node: j.node.name ?? '', nearestMse: r.before / j.samples, adaptiveMse: r.after / j.samples, changed, weights: w.data.length });
  }
  return { rounded, layers };
}

interface LayerJob {
  node: NodeProto;
  input: string;
  kind: 'conv' | 'gemm';
  groups: number;
  /** weights per output channel (one group's patch length) */
  D: number;
  kh: number; kw: number; sh: number; sw: number; pt: number; pl: number; pb: number; pr: number;
  /** SAME_UPPER / SAME_LOWER: the pads follow from the input size, set at the first frame */
  autoPad?: 'SAME_UPPER' | 'SAME_LOWER';
  /** per group: D x D second moment of the input patches */
  H?: Float64Array[];
  samples: number;
  /** patches per layer to aim for over all frames (see AdaRoundOptions.samplesPerWeight) */
  cap?: number;
  frames?: number;
}

function layerJob(n: NodeProto, ix: GraphIndex): LayerJob | undefined {
  const w = ix.floatInit(n.input![1]!);
  if (!w) return undefined;
  const input = n.input![0]!;
  if (n.opType === 'Gemm' && Number(attr(n, 'transB') ?? 0) === 1 && w.dims.length === 2) {
    return { node: n, input, kind: 'gemm', groups: 1, D: w.dims[1]!, kh: 1, kw: 1, sh: 1, sw: 1, pt: 0, pl: 0, pb: 0, pr: 0, samples: 0 };
  }
  if (n.opType !== 'Conv' || w.dims.length !== 4) return undefined;
  const ones = (a: unknown) => !Array.isArray(a) || a.every((x) => Number(x) === 1);
  if (!ones(attr(n, 'dilations'))) return undefined;
  const pads = ((attr(n, 'pads') as number[] | undefined) ?? [0, 0, 0, 0]).map(Number);
  const strides = ((attr(n, 'strides') as number[] | undefined) ?? [1, 1]).map(Number);
  // graphs imported for any resolution say SAME instead of pads (the TFLite importer)
  const autoPad = String(attr(n, 'auto_pad') ?? 'NOTSET');
  if (!['NOTSET', '', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) return undefined;
  const group = Number(attr(n, 'group') ?? 1);
  const explicit = autoPad === 'NOTSET' || autoPad === '' ? pads : [0, 0, 0, 0];
  return { node: n, input, kind: 'conv', groups: group, D: w.dims[1]! * w.dims[2]! * w.dims[3]!, kh: w.dims[2]!, kw: w.dims[3]!,
    sh: strides[0]!, sw: strides[1]!, pt: explicit[0]!, pl: explicit[1]!, pb: explicit[2]!, pr: explicit[3]!, samples: 0,
    ...(autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? { autoPad } : {}) };
}

/** Adds one frame's input patches to each group's H (patches as rows of an im2col matrix, zero padding included). */
function accumulate(j: LayerJob, x: Float32Array, dims: readonly number[], frame: number): void {
  const D = j.D;
  j.H ??= Array.from({ length: j.groups }, () => new Float64Array(D * D));
  if (j.kind === 'gemm') {
    addOuter(j.H[0]!, x, D, 1);
    j.samples += 1;
    return;
  }
  const [, C, Hin, Win] = dims as [number, number, number, number];
  if (j.autoPad) {
    // samePads puts the odd pad at the end (SAME_UPPER); SAME_LOWER puts it at the beginning
    const [t, b] = samePads(Hin, j.kh, j.sh);
    const [l, r] = samePads(Win, j.kw, j.sw);
    [j.pt, j.pl, j.pb, j.pr] = j.autoPad === 'SAME_UPPER' ? [t, l, b, r] : [b, r, t, l];
  }
  const Ho = Math.floor((Hin + j.pt + j.pb - j.kh) / j.sh) + 1;
  const Wo = Math.floor((Win + j.pl + j.pr - j.kw) / j.sw) + 1;
  const all = Ho * Wo;
  // every step-th output position, starting at a per-frame offset so the frames cover different positions
  const step = Math.max(1, Math.floor((all * (j.frames ?? 1)) / (j.cap ?? Infinity)));
  const first = frame % step;
  const P = Math.ceil((all - first) / step);
  const I = C / j.groups;
  const A = new Float32Array(D * P);
  for (let g = 0; g < j.groups; g++) {
    if (step === 1 && j.kh === 1 && j.kw === 1 && j.sh === 1 && j.sw === 1 && j.pt + j.pl === 0) {
      addOuter(j.H[g]!, x.subarray(g * I * all, (g + 1) * I * all), D, all);
      continue;
    }
    let row = 0;
    for (let i = 0; i < I; i++) {
      const plane = x.subarray((g * I + i) * Hin * Win, (g * I + i + 1) * Hin * Win);
      for (let ky = 0; ky < j.kh; ky++) for (let kx = 0; kx < j.kw; kx++, row++) {
        const dst = A.subarray(row * P, (row + 1) * P);
        for (let p = 0, pos = first; p < P; p++, pos += step) {
          const oy = Math.floor(pos / Wo);
          const y = oy * j.sh + ky - j.pt;
          const xx = (pos - oy * Wo) * j.sw + kx - j.pl;
          dst[p] = y >= 0 && y < Hin && xx >= 0 && xx < Win ? plane[y * Win + xx]! : 0;
        }
      }
    }
    addOuter(j.H[g]!, A, D, P);
  }
  j.samples += step === 1 ? all : P;
}

/** H += A A^T for A with D rows of P samples (row-major). */
function addOuter(H: Float64Array, A: Float32Array, D: number, P: number): void {
  for (let a = 0; a < D; a++) {
    const ra = A.subarray(a * P, (a + 1) * P);
    for (let b = a; b < D; b++) {
      const rb = A.subarray(b * P, (b + 1) * P);
      let s = 0;
      for (let p = 0; p < P; p++) s += ra[p]! * rb[p]!;
      H[a * D + b]! += s;
      if (b !== a) H[b * D + a]! += s;
    }
  }
}

function optimiseLayer(j: LayerJob, w: Float32Array, scale: Float32Array, q: Int8Array, qmax: number, passes: number, rng: () => number): { before: number; after: number } {
  const D = j.D;
  const O = w.length / D;
  const perGroup = O / j.groups;
  const d = new Float64Array(D);
  const g = new Float64Array(D);
  const order = Array.from({ length: D }, (_, i) => i);
  let before = 0, after = 0;
  for (let o = 0; o < O; o++) {
    const H = j.H![Math.floor(o / perGroup)]!;
    let trace = 0;
    for (let k = 0; k < D; k++) trace += H[k * D + k]!;
    const lambda = (0.01 * trace) / D;
    const s = scale[o]!;
    const base = o * D;
    for (let k = 0; k < D; k++) d[k] = q[base + k]! * s - w[base + k]!;
    for (let a = 0; a < D; a++) {
      let acc = 0;
      for (let b = 0; b < D; b++) acc += H[a * D + b]! * d[b]!;
      g[a] = acc;
    }
    let e0 = 0;
    for (let k = 0; k < D; k++) e0 += d[k]! * g[k]!;
    before += e0;
    let e = e0;
    for (let pass = 0; pass < passes; pass++) {
      // Fisher-Yates with the seeded generator: the visiting order is the only choice the seed makes
      for (let i = D - 1; i > 0; i--) { const r = Math.floor(rng() * (i + 1)); const t = order[i]!; order[i] = order[r]!; order[r] = t; }
      let changed = false;
      for (const k of order) {
        const v = w[base + k]! / s;
        const fl = Math.floor(v);
        const cur = q[base + k]!;
        const alt = cur === fl ? fl + 1 : fl;
        if (alt < -qmax || alt > qmax || Math.abs(alt - v) >= 1) continue;
        const delta = (alt - cur) * s;
        const dk = d[k]!;
        // change of d^T (H + lambda I) d when d_k moves by delta
        const gain = 2 * delta * (g[k]! + lambda * dk) + delta * delta * (H[k * D + k]! + lambda);
        if (!(gain < -1e-12 * (e + 1e-30))) continue;
        q[base + k] = alt;
        d[k] = dk + delta;
        for (let a = 0; a < D; a++) g[a]! += H[a * D + k]! * delta;
        e += 2 * delta * (g[k]! - H[k * D + k]! * delta) + delta * delta * H[k * D + k]!;
        changed = true;
      }
      if (!changed) break;
    }
    let e1 = 0;
    for (let k = 0; k < D; k++) e1 += d[k]! * g[k]!;
    after += e1;
  }
  return { before, after };
}

