import { calibrationFrames, emitQuantized, prepareQuantization, type QuantizeOptions, type WeightBits, type QuantReport } from './quantize.js';
import { resolveFrames, listImages } from './frames.js';
import { runFrames, cosine } from './fidelity.js';
import { augmentedFrames, VIEWS } from './augment.js';
import { floatReference, measureAgreement } from './agreement.js';
import type { CalibMethod } from './calibrate.js';

export interface WeightBitsChoice {
  weightBits: WeightBits;
  depthwiseBits: WeightBits;
  onnx: Uint8Array;
  report: QuantReport;
  /** every candidate measured on this device: mean/min output cosine and top-1 agreement with the float model */
  candidates: Array<{ weightBits: WeightBits; depthwiseBits: WeightBits; meanCosine: number; minCosine: number; agree: number; frames: number }>;
}

/**
 * Quantizes with 8-bit, 7-bit and 7-bit-with-8-bit-depthwise weights, runs each on THIS machine's onnxruntime
 * kernels next to the float model, and keeps the most faithful. Whether 8-bit weights saturate depends on the
 * CPU's int8 instructions (x86 without VNNI does, arm64 does not), so it is measured, never assumed (rule below).
 * `evalFrames` default to the calibration frames.
 */
export async function chooseWeightBits(floatOnnx: Uint8Array, opts: Omit<QuantizeOptions, 'weightBits' | 'depthwiseBits'>, evalFrames?: Uint8Array[] | string): Promise<WeightBitsChoice> {
  const calib = await calibrationFrames(opts.calib, opts.resolution, opts.calibViews);
  const frames = evalFrames ? await resolveFrames(evalFrames, opts.resolution) : calib;
  const prepared = await prepareQuantization(floatOnnx, { ...opts, calib });
  const ref = await runFrames(floatOnnx, frames, opts.resolution);
  const configs: Array<[WeightBits, WeightBits]> = [[8, 8], [7, 7], [7, 8]];
  let best: WeightBitsChoice | undefined;
  const candidates: WeightBitsChoice['candidates'] = [];
  for (const [w, dw] of configs) {
    // the whole recipe (adaptive rounding included: it rounds differently for each width, from the same inputs)
    const q = await emitQuantized(prepared, { method: opts.method, weightBits: w, depthwiseBits: dw, adaround: opts.adaround ?? true, ...(opts.floatClassifier !== undefined ? { floatClassifier: opts.floatClassifier } : {}) });
    const out = await runFrames(q.onnx, frames, opts.resolution);
    const cos = out.map((o, i) => cosine(o.out, ref[i]!.out));
    const agree = out.filter((o, i) => argmax(o.out) === argmax(ref[i]!.out)).length;
    const c = { weightBits: w, depthwiseBits: dw, meanCosine: cos.reduce((a, b) => a + b, 0) / cos.length, minCosine: Math.min(...cos), agree, frames: frames.length };
    candidates.push(c);
    // RULE: 8-bit weights unless a narrower candidate's mean cosine is higher by more than NARROWER_MARGIN. Where
    // 8-bit saturates (u8s8 without VNNI) the loss is large (13/19 photos agree); where it does not, the extra bit
    // can only help, and agreement counts on a few calibration frames differ by chance (measured: a 7-bit pick by
    // one frame of 72 lost 6 of 126 clear-margin test views).
    if (!best || c.meanCosine > bestCosine(candidates, best) + NARROWER_MARGIN) best = { weightBits: w, depthwiseBits: dw, onnx: q.onnx, report: q.report, candidates };
  }
  return { ...best!, candidates };
}

/** How much better (mean output cosine) a narrower weight width must be to replace a wider one. */
export const NARROWER_MARGIN = 0.005;

function bestCosine(cands: WeightBitsChoice['candidates'], b: { weightBits: WeightBits; depthwiseBits: WeightBits }): number {
  return cands.find((c) => c.weightBits === b.weightBits && c.depthwiseBits === b.depthwiseBits)!.meanCosine;
}

function argmax(a: Float32Array): number {
  let k = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[k]!) k = i;
  return k;
}

export interface RangeCandidate {
  method: CalibMethod;
  /** summed over the folds: held-out frames, top-1 agreements, clear-margin (float margin >= 0.05) frames and agreements */
  frames: number;
  agree: number;
  clear: number;
  clearAgree: number;
  cosineMean: number;
  cosineMin: number;
}

export interface RangeChoice { method: CalibMethod; rule: string; folds: number; candidates: RangeCandidate[] }

export const RANGE_RULE = 'held-out k-fold over the calibration photos (each fold calibrated on the other photos, judged on its own photos in every view); ' +
  'keep the highest mean output cosine among the candidates whose clear-margin top-1 agreement is within one frame of the best; ties keep the earlier candidate (minmax, percentile, mse)';

/**
 * Measures each activation-range method on calibration photos it did not calibrate on (RANGE_RULE). Rounding is
 * round-to-nearest here: the ranges do not depend on it, and the comparison stays fast.
 */
export async function chooseRanges(floatOnnx: Uint8Array, opts: Omit<QuantizeOptions, 'method'>, folds = 3): Promise<RangeChoice> {
  const methods: CalibMethod[] = ['minmax', 'percentile', 'mse'];
  const views = opts.calibViews ?? VIEWS;
  // the units a fold holds out: photo files (rendered in every view) or, for raw frames, single frames
  let units: Array<string | Uint8Array>;
  if (Array.isArray(opts.calib)) units = opts.calib;
  else units = typeof opts.calib === 'string' ? await listImages(opts.calib) : opts.calib.files;
  const k = Math.min(folds, units.length);
  const cands = new Map<CalibMethod, RangeCandidate>(methods.map((m) => [m, { method: m, frames: 0, agree: 0, clear: 0, clearAgree: 0, cosineMean: 0, cosineMin: 1 }]));
  for (let f = 0; f < k; f++) {
    const train = units.filter((_, i) => i % k !== f);
    const test = units.filter((_, i) => i % k === f);
    if (train.length === 0) continue;
    const calib: QuantizeOptions['calib'] = typeof train[0] === 'string' ? { files: train as string[] } : (train as Uint8Array[]);
    const held = typeof test[0] === 'string' ? (await augmentedFrames(test as string[], opts.resolution, views)).map((a) => a.frame) : (test as Uint8Array[]);
    const ref = await floatReference(floatOnnx, held, opts.resolution);
    const prepared = await prepareQuantization(floatOnnx, { ...opts, calib, adaround: false });
    for (const m of methods) {
      const q = await emitQuantized(prepared, { method: m, weightBits: opts.weightBits, depthwiseBits: opts.depthwiseBits ?? opts.weightBits, adaround: false });
      const a = await measureAgreement(ref, q.onnx, held, opts.resolution);
      const c = cands.get(m)!;
      c.cosineMean = (c.cosineMean * c.frames + a.cosineMean * a.frames) / (c.frames + a.frames);
      c.frames += a.frames; c.agree += a.agree; c.clear += a.clear; c.clearAgree += a.clearAgree;
      c.cosineMin = Math.min(c.cosineMin, a.cosineMin);
    }
  }
  const candidates = [...cands.values()];
  const bestAgree = Math.max(...candidates.map((c) => c.clearAgree));
  let best = candidates[0]!;
  for (const c of candidates) if (c.clearAgree >= bestAgree - 1 && (best.clearAgree < bestAgree - 1 || c.cosineMean > best.cosineMean)) best = c;
  return { method: best.method, rule: RANGE_RULE, folds: k, candidates };
}
