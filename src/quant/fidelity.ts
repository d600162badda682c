import * as ort from 'onnxruntime-node';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { onnx } from '../onnx/proto.js';
import { readOnnx } from '../onnx/reader.js';
import { EdgefitError } from '../util/errors.js';
import { loadImageRgb } from '../image/load.js';
import { listImages } from './frames.js';
import { floatOutput } from './model.js';
import type { QuantReport } from './quantize.js';

/** images/test/labels.json: file -> accepted class names and how exact the class is. */
export type LabelSet = Record<string, { accept: string[]; kind: 'clean' | 'proxy' | 'none'; note?: string }>;

export interface EvalImage {
  file: string;
  frame: Uint8Array;
  accept?: string[];
  kind?: 'clean' | 'proxy' | 'none';
}

type Top = Array<[index: number, label: string, score: number]>;

export interface ImageResult {
  file: string;
  kind?: string;
  float: Top;
  int8: Top;
  /** float top-1 minus float top-2 score */
  floatMargin: number;
  agree: boolean;
  cosine: number;
  floatCorrect1?: boolean;
  int8Correct1?: boolean;
}

export interface Accuracy { top1: number; top5: number; correct1: number; correct5: number; n: number }

export interface FidelityReport {
  images: ImageResult[];
  float: Accuracy;
  int8: Accuracy;
  agreement: { count: number; total: number; marginThreshold: number; withMargin: { count: number; total: number } };
  /** cosine similarity of the model outputs (float vs int8), and of the logits where the report names them */
  cosine: { min: number; mean: number };
  logitsCosine?: { min: number; mean: number };
  /** per quantized tensor: 10*log10(signal / quantization noise) over the SQNR frames */
  sqnr: Array<{ tensor: string; kind: string; db: number }>;
  sqnrRange?: { min: number; median: number; max: number };
  quantization?: string;
}

/** Loads the photos of a folder at the model's size with their accepted classes (labels.json beside them). */
export async function loadEvalImages(dir: string, resolution: number): Promise<EvalImage[]> {
  let labels: LabelSet = {};
  try {
    labels = JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as LabelSet;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new EdgefitError('E_LABELS', `cannot read ${join(dir, 'labels.json')}: ${(err as Error).message}`, { cause: err });
  }
  const files = await listImages(dir);
  return Promise.all(files.map(async (f) => {
    const l = labels[basename(f)];
    return { file: basename(f), frame: await loadImageRgb(f, resolution), ...(l ? { accept: l.accept, kind: l.kind } : {}) };
  }));
}

/** Runs a uint8-NHWC model on frames; returns the first output and, optionally, extra tensors per frame. */
export async function runFrames(model: Uint8Array, frames: Uint8Array[], resolution: number, extra: Array<{ name: string; elemType: number }> = []):
  Promise<Array<{ out: Float32Array; extra: Map<string, Float32Array | Uint8Array> }>> {
  let bytes = model;
  if (extra.length) {
    const m = readOnnx(model);
    m.graph!.output = [...(m.graph!.output ?? []), ...extra.map((e) => floatOutput(e.name, e.elemType))];
    bytes = onnx.ModelProto.encode(m).finish();
  }
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  try {
    const res = [];
    const outName = s.outputNames[0]!;
    for (const f of frames) {
      const o = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', f, [1, resolution, resolution, 3]) });
      res.push({ out: (o[outName]!.data as Float32Array).slice(), extra: new Map(extra.map((e) => [e.name, o[e.name]!.data as Float32Array | Uint8Array])) });
    }
    return res;
  } finally {
    await s.release();
  }
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : (aa === bb ? 1 : 0);
}

function topK(p: Float32Array, k: number, labels?: string[]): Top {
  const idx = Array.from(p.keys()).sort((x, y) => p[y]! - p[x]!).slice(0, k);
  return idx.map((i) => [i, labels?.[i] ?? String(i), p[i]!]);
}

/** The class name a label line is matched by: its first comma-separated name. */
export function labelName(line: string): string {
  return line.split(',')[0]!.trim();
}

/**
 * Float vs int8 on labelled photos: accuracy of each (kind 'none' excluded), top-1 agreement (overall and where
 * float's top-1 leads by >= marginThreshold), output cosine, and per-tensor SQNR of the int8 model's activations
 * against the float model's, measured on the integer kernels onnxruntime really runs.
 */
export async function evaluateFidelity(floatOnnx: Uint8Array, int8Onnx: Uint8Array, opts: {
  images: EvalImage[]; resolution: number; labels?: string[]; quant?: QuantReport; sqnrFrames?: Uint8Array[]; marginThreshold?: number;
}): Promise<FidelityReport> {
  const margin = opts.marginThreshold ?? 0.05;
  const frames = opts.images.map((i) => i.frame);
  const q = opts.quant;
  const logitsT = q?.tensors.find((t) => t.kind === 'logits');
  const fl = await runFrames(floatOnnx, frames, opts.resolution, logitsT ? [{ name: logitsT.name, elemType: 1 }] : []);
  const qu = await runFrames(int8Onnx, frames, opts.resolution, logitsT ? [{ name: `${logitsT.name}_quantized`, elemType: 2 }] : []);
  const images: ImageResult[] = [];
  const acc = { float: { c1: 0, c5: 0 }, int8: { c1: 0, c5: 0 }, n: 0 };
  const cos: number[] = [];
  const lcos: number[] = [];
  const known = opts.labels ? new Set(opts.labels.map(labelName)) : undefined;
  for (let i = 0; i < frames.length; i++) {
    const im = opts.images[i]!;
    const f = topK(fl[i]!.out, 5, opts.labels);
    const g = topK(qu[i]!.out, 5, opts.labels);
    const c = cosine(fl[i]!.out, qu[i]!.out);
    cos.push(c);
    if (logitsT) {
      const u = qu[i]!.extra.get(`${logitsT.name}_quantized`)!;
      const deq = Float32Array.from(u, (v) => (v - logitsT.zeroPoint) * logitsT.scale);
      lcos.push(cosine(fl[i]!.extra.get(logitsT.name)!, deq));
    }
    const r: ImageResult = { file: im.file, ...(im.kind ? { kind: im.kind } : {}), float: f, int8: g, floatMargin: f[0]![2] - (f[1]?.[2] ?? 0), agree: f[0]![0] === g[0]![0], cosine: c };
    // photos labelled in another label space (ImageNet names for a person detector) do not count
    if (im.accept && im.kind && im.kind !== 'none' && known && im.accept.some((a) => known.has(a))) {
      const ok = (t: Top, k: number) => t.slice(0, k).some(([, l]) => im.accept!.includes(labelName(l)));
      r.floatCorrect1 = ok(f, 1);
      r.int8Correct1 = ok(g, 1);
      acc.n++;
      acc.float.c1 += +ok(f, 1); acc.float.c5 += +ok(f, 5);
      acc.int8.c1 += +ok(g, 1); acc.int8.c5 += +ok(g, 5);
    }
    images.push(r);
  }
  const mk = (a: { c1: number; c5: number }): Accuracy => ({ top1: acc.n ? a.c1 / acc.n : 0, top5: acc.n ? a.c5 / acc.n : 0, correct1: a.c1, correct5: a.c5, n: acc.n });
  const withM = images.filter((r) => r.floatMargin >= margin);
  const report: FidelityReport = {
    images,
    float: mk(acc.float),
    int8: mk(acc.int8),
    agreement: { count: images.filter((r) => r.agree).length, total: images.length, marginThreshold: margin, withMargin: { count: withM.filter((r) => r.agree).length, total: withM.length } },
    cosine: { min: Math.min(...cos), mean: cos.reduce((a, b) => a + b, 0) / cos.length },
    ...(lcos.length ? { logitsCosine: { min: Math.min(...lcos), mean: lcos.reduce((a, b) => a + b, 0) / lcos.length } } : {}),
    sqnr: [],
    ...(q ? { quantization: q.tag } : {}),
  };
  if (q) {
    report.sqnr = await layerSqnr(floatOnnx, int8Onnx, q, opts.sqnrFrames ?? frames, opts.resolution);
    const dbs = report.sqnr.map((s) => s.db).sort((a, b) => a - b);
    if (dbs.length) report.sqnrRange = { min: dbs[0]!, median: dbs[Math.floor(dbs.length / 2)]!, max: dbs[dbs.length - 1]! };
  }
  return report;
}

/** SQNR per quantized tensor: float activations vs the int8 model's uint8 tensors, dequantized. */
export async function layerSqnr(floatOnnx: Uint8Array, int8Onnx: Uint8Array, q: QuantReport, frames: Uint8Array[], resolution: number): Promise<Array<{ tensor: string; kind: string; db: number }>> {
  const ts = q.tensors;
  const fl = await runFrames(floatOnnx, frames, resolution, ts.map((t) => ({ name: t.name, elemType: 1 })));
  const qu = await runFrames(int8Onnx, frames, resolution, ts.map((t) => ({ name: `${t.name}_quantized`, elemType: 2 })));
  return ts.map((t) => {
    let sig = 0, noise = 0;
    for (let f = 0; f < frames.length; f++) {
      const x = fl[f]!.extra.get(t.name)!;
      const u = qu[f]!.extra.get(`${t.name}_quantized`)!;
      // ORT may hand the tensor back in NHWC after its layout transform only inside the graph; outputs keep NCHW
      for (let i = 0; i < x.length; i++) {
        const d = x[i]! - (u[i]! - t.zeroPoint) * t.scale;
        sig += x[i]! * x[i]!;
        noise += d * d;
      }
    }
    return { tensor: t.name, kind: t.kind, db: noise > 0 ? 10 * Math.log10(sig / noise) : Infinity };
  });
}

/** A readable table of a fidelity report. */
export function formatFidelity(r: FidelityReport): string {
  const pct = (a: Accuracy, k: 'top1' | 'top5') => `${(a[k] * 100).toFixed(1)}% (${k === 'top1' ? a.correct1 : a.correct5}/${a.n})`;
  const lines = [
    `quantization            ${r.quantization ?? '-'}`,
    `                        float            int8`,
    `top-1 accuracy          ${pct(r.float, 'top1').padEnd(17)}${pct(r.int8, 'top1')}`,
    `top-5 accuracy          ${pct(r.float, 'top5').padEnd(17)}${pct(r.int8, 'top5')}`,
    `top-1 agreement         ${r.agreement.count}/${r.agreement.total}; where float leads by >= ${r.agreement.marginThreshold}: ${r.agreement.withMargin.count}/${r.agreement.withMargin.total}`,
    `output cosine           min ${r.cosine.min.toFixed(4)}  mean ${r.cosine.mean.toFixed(4)}`,
  ];
  if (r.logitsCosine) lines.push(`logits cosine           min ${r.logitsCosine.min.toFixed(4)}  mean ${r.logitsCosine.mean.toFixed(4)}`);
  if (r.sqnrRange) lines.push(`layer SQNR (dB)         min ${r.sqnrRange.min.toFixed(1)}  median ${r.sqnrRange.median.toFixed(1)}  max ${r.sqnrRange.max.toFixed(1)} over ${r.sqnr.length} tensors`);
  lines.push('', 'image                          margin  float top-1                int8 top-1                 agree  cosine');
  for (const im of r.images) {
    const t = (x: Top) => `${x[0]![1].split(',')[0]!.slice(0, 18)} ${x[0]![2].toFixed(3)}`.padEnd(27);
    lines.push(`${im.file.slice(0, 30).padEnd(31)}${im.floatMargin.toFixed(3).padStart(6)}  ${t(im.float)}${t(im.int8)}${(im.agree ? 'yes' : 'NO').padEnd(7)}${im.cosine.toFixed(4)}`);
  }
  if (r.sqnr.length) {
    lines.push('', 'tensor                                   kind     SQNR dB');
    for (const s of r.sqnr) lines.push(`${s.tensor.slice(0, 40).padEnd(41)}${s.kind.padEnd(9)}${s.db.toFixed(1).padStart(7)}`);
  }
  return lines.join('\n');
}
