import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as OrtTypes from 'onnxruntime-node';
import type { ModelCard, RequantScope, WeightForm, WeightFormCandidate, WeightFormRecord } from '../types/model.js';
import { writeFileAtomic } from '../util/atomic.js';
import { EdgefitError } from '../util/errors.js';
import { readOnnx } from '../onnx/reader.js';
import { DataType } from '../onnx/proto.js';
import type { ConvInput } from '../importers/tflite/emit.js';
import { modelsDir, sha256File, sha256Hex } from './store.js';
import { padNarrowChannels } from './pad-channels.js';

/** Bumped when the forms or the rule change: older decisions are then made again. */
export const WEIGHT_FORM_VERSION = 2;
/** A form that is not bit-exact must keep every frame's top-1 and at least this cosine to the u8 form's outputs. */
export const MIN_REQUANT_COSINE = 0.98;
/** A bit-exact form is kept over one that is not unless that is more than this much faster. */
export const REQUANT_MIN_GAIN = 0.1;

export interface FormInput {
  form: WeightForm;
  qmax?: number;
  scope?: RequantScope;
  /** narrow convs widened with zero channels (pad-channels.ts) */
  padded?: boolean;
  onnx: Uint8Array;
}

export interface DecideOptions {
  /** frames at the model's resolution (uint8 RGB HWC); without any, a requantized form cannot be accepted */
  frames: Uint8Array[];
  resolution: number;
  /** a detector: agreement is on the top detection (anchor, class) of `raw` [1, anchors, columns]; scores from column `firstScore` */
  detection?: { anchors: number; firstScore: number };
  /** interleaved timing rounds per form */
  rounds?: number;
}

/** Dequantized first output of a model on each frame (float outputs as they are). */
class FormRunner {
  private constructor(private readonly ort: typeof OrtTypes, readonly session: OrtTypes.InferenceSession, private scale: number, private zp: number) {}

  static async open(onnx: Uint8Array): Promise<FormRunner> {
    const md = new Map((readOnnx(onnx).metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
    // imported here, not at the top: the daemon loads this module on boards without onnxruntime's binary (32-bit ARM)
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 });
    return new FormRunner(ort, session, Number(md.get('edgefit.output.scale') ?? 1), Number(md.get('edgefit.output.zero_point') ?? 0));
  }

  async run(frame: Uint8Array, res: number): Promise<{ out: Float32Array; ms: number }> {
    const s = this.session;
    const t0 = performance.now();
    const o = await s.run({ [s.inputNames[0]!]: new this.ort.Tensor('uint8', frame, [1, res, res, 3]) });
    const ms = performance.now() - t0;
    const t = o[s.outputNames[0]!]!;
    const d = t.data as Float32Array | Uint8Array | Int8Array;
    const out = d instanceof Float32Array ? d.slice() : Float32Array.from(d, (q) => (q - this.zp) * this.scale);
    for (const k of Object.keys(o)) o[k]!.dispose();
    return { out, ms };
  }
}

function argmax(a: Float32Array, from = 0, stride = 0, width = 0): number {
  let k = -1;
  let best = -Infinity;
  if (stride === 0) {
    for (let i = from; i < a.length; i++) if (a[i]! > best) { best = a[i]!; k = i; }
    return k;
  }
  // detector: scores are columns [from, width) of each row of `stride`
  for (let r = 0; r < a.length; r += stride) for (let c = from; c < width; c++) if (a[r + c]! > best) { best = a[r + c]!; k = r + c; }
  return k;
}

function cosine(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : (aa === bb ? 1 : 0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/**
 * Runs the 'u8' form (today's reference) and the candidate forms on this device: outputs on the frames, then
 * interleaved timing, one intra-op thread. A form whose outputs are identical to u8's on every frame is
 * bit-exact (checked, not assumed: an 's8-exact' form of int8-activation files is not, because u8's graph runs
 * some of their convs in float, and on a CPU whose u8s8 kernels saturate it would not be either). A form that
 * is not bit-exact is accepted only when every frame keeps its top-1 and the cosine stays >=
 * MIN_REQUANT_COSINE, and chosen only when it is more than REQUANT_MIN_GAIN faster than the fastest bit-exact
 * form.
 */
export async function decideWeightForm(u8: Uint8Array, candidates: FormInput[], o: DecideOptions): Promise<Omit<WeightFormRecord, 'key' | 'decidedAt'>> {
  const forms: FormInput[] = [{ form: 'u8', onnx: u8 }, ...candidates];
  const runners: FormRunner[] = [];
  try {
    for (const f of forms) runners.push(await FormRunner.open(f.onnx));
    const res = o.resolution;
    const outs: Float32Array[][] = [];
    for (const r of runners) {
      const xs: Float32Array[] = [];
      for (const fr of o.frames) xs.push((await r.run(fr, res)).out);
      outs.push(xs);
    }
    const timing = o.frames[0] ?? new Uint8Array(res * res * 3).fill(128);
    const ms: number[][] = forms.map(() => []);
    const rounds = o.rounds ?? 40;
    for (let i = 0; i < rounds + 2; i++) {
      for (let k = 0; k < runners.length; k++) {
        const t = (await runners[k]!.run(timing, res)).ms;
        if (i >= 2) ms[k]!.push(t);
      }
    }
    const ref = outs[0]!;
    const results: WeightFormCandidate[] = forms.map((f, k) => {
      const xs = outs[k]!;
      let agree = 0;
      let minCos = 1;
      let exact = true;
      for (let i = 0; i < xs.length; i++) {
        const a = xs[i]!;
        const b = ref[i]!;
        if (exact && (a.length !== b.length || a.some((v, j) => v !== b[j]))) exact = false;
        if (sameTop(a, b, o)) agree++;
        minCos = Math.min(minCos, cosine(a, b));
      }
      const n = xs.length;
      const bitExact = exact && n > 0;
      let accepted: boolean;
      let why: string;
      if (f.form === 'u8') { accepted = true; why = 'the exact reference'; }
      else if (bitExact) { accepted = true; why = `outputs identical to u8 on all ${n} frames`; }
      else {
        accepted = n > 0 && agree === n && minCos >= MIN_REQUANT_COSINE;
        why = n === 0 ? 'no frames to check it on (profile.probeDir)' : accepted
          ? `not bit-exact, but top-1 kept on all ${n} frames, cosine >= ${minCos.toFixed(4)}`
          : `refused: top-1 kept on ${agree} of ${n} frames, min cosine ${minCos.toFixed(4)} (needs all and >= ${MIN_REQUANT_COSINE})`;
      }
      return { form: f.form, ...(f.qmax !== undefined ? { qmax: f.qmax } : {}), ...(f.scope ? { scope: f.scope } : {}), ...(f.padded ? { padded: true } : {}), p50Ms: median(ms[k]!), bitExact, agree, frames: n, minCosine: minCos, accepted, why };
    });
    const fastest = (xs: WeightFormCandidate[]) => xs.reduce((a, b) => (b.p50Ms < a.p50Ms ? b : a));
    // u8 is bit-exact with itself by definition
    const exactBest = fastest(results.filter((r) => r.form === 'u8' || r.bitExact));
    const faithful = results.filter((r) => r.accepted && !r.bitExact && r.form !== 'u8');
    const close = faithful.length > 0 ? fastest(faithful) : undefined;
    const label = (r: WeightFormCandidate) => `${r.form}${r.qmax !== undefined ? ` (qmax ${r.qmax}${r.scope ? `, ${r.scope}` : ''})` : ''}${r.padded ? ' with 16-channel stem' : ''}`;
    let pick = exactBest;
    let reason = `${label(exactBest)}: the fastest bit-exact form (${exactBest.p50Ms.toFixed(2)} ms p50${exactBest.form === 'u8' ? '' : `, u8 ${results[0]!.p50Ms.toFixed(2)} ms`})`;
    if (close && close.p50Ms < exactBest.p50Ms * (1 - REQUANT_MIN_GAIN)) {
      pick = close;
      reason = `${label(close)}: ${close.p50Ms.toFixed(2)} ms p50 against ${exactBest.p50Ms.toFixed(2)} for the fastest bit-exact form (${label(exactBest)}), more than ${REQUANT_MIN_GAIN * 100} % faster; ${close.why}`;
    } else if (close) {
      reason += `; ${label(close)} (${close.p50Ms.toFixed(2)} ms, not bit-exact) is not more than ${REQUANT_MIN_GAIN * 100} % faster`;
    }
    const refused = results.filter((r) => !r.accepted);
    if (refused.length > 0) reason += `; ${refused.map((r) => `${label(r)} ${r.why}`).join('; ')}`;
    return { form: pick.form, ...(pick.qmax !== undefined ? { qmax: pick.qmax } : {}), ...(pick.scope ? { scope: pick.scope } : {}), ...(pick.padded ? { padded: true } : {}), reason, candidates: results };
  } finally {
    for (const r of runners) await r.session.release();
  }
}

/** Top-1 of a classifier; a detector's top detection as anchor * columns + column (boxes and background left out). */
function topOf(a: Float32Array, o: DecideOptions): number {
  if (!o.detection) return argmax(a);
  const columns = a.length / o.detection.anchors;
  return argmax(a, o.detection.firstScore, columns, columns);
}

/**
 * Whether two outputs have the same top-1. Quantized scores tie (a step of 1/256): the top-1 is the same when
 * either output scores the other's top-1 as high as its own (argmax alone would pick the first of a tie).
 */
function sameTop(a: Float32Array, b: Float32Array, o: DecideOptions): boolean {
  const ta = topOf(a, o);
  const tb = topOf(b, o);
  return ta === tb || a[tb] === a[ta] || b[ta] === b[tb];
}

export interface DeviceFormRequest {
  stateDir: string;
  sourcePath: string;
  sourceSha256: string;
  labelsPath?: string;
  /** photos the requantized form is checked on (profile.probeDir or <stateDir>/probe-frames) */
  framesDir?: string;
  rounds?: number;
}

export interface DeviceForm {
  onnxPath: string;
  cardPath: string;
  card: ModelCard;
  onnxSha256: string;
  cached: boolean;
}

function cpuKey(): string {
  let flags = '';
  try {
    flags = /^(flags|Features)\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[2]?.trim() ?? '';
  } catch { /* not Linux: the CPU model name stands in */ }
  return `${arch()} ${cpus()[0]?.model ?? ''} ${flags}`;
}

/** What a decision is valid for: the source file (and labels), this CPU's instruction set, the runtime, the rule. */
let ortVersion: string | undefined;
/** onnxruntime-node's version (its package.json: the same as ort.env.versions.common) without loading its binary */
function ortPackageVersion(): string {
  try {
    ortVersion ??= (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    ortVersion = 'unknown';
  }
  return ortVersion;
}

export function weightFormKey(sourceSha256: string, labelsPath: string | undefined): string {
  return sha256Hex(new TextEncoder().encode(JSON.stringify([sourceSha256, labelsPath ?? '', ortPackageVersion(), cpuKey(), WEIGHT_FORM_VERSION]))).slice(0, 32);
}

function formPaths(stateDir: string, key: string): { onnx: string; card: string } {
  const dir = join(modelsDir(stateDir), 'device-forms');
  return { onnx: join(dir, `${key}.onnx`), card: join(dir, `${key}.card.json`) };
}

/** The decision made earlier on this device for this file, if its model is intact. */
export async function readDeviceForm(stateDir: string, sourceSha256: string, labelsPath?: string): Promise<DeviceForm | undefined> {
  const key = weightFormKey(sourceSha256, labelsPath);
  const p = formPaths(stateDir, key);
  try {
    const card = JSON.parse(await readFile(p.card, 'utf8')) as ModelCard & { onnxSha256?: string };
    if (card.weights?.key !== key || !(await stat(p.onnx)).isFile()) return undefined;
    const sha = await sha256File(p.onnx);
    if (!sha || sha !== card.onnxSha256) return undefined;
    const { onnxSha256: _, ...rest } = card;
    return { onnxPath: p.onnx, cardPath: p.card, card: rest, onnxSha256: sha, cached: true };
  } catch {
    return undefined;
  }
}

/** The mean real value of each input channel of each integer conv, over the frames (for bias correction). */
async function convInputMeans(u8: Uint8Array, inputs: ConvInput[], frames: Uint8Array[], res: number): Promise<Map<string, Float64Array>> {
  const { runFrames } = await import('../quant/fidelity.js');
  const names = [...new Set(inputs.map((c) => c.tensor))];
  const byName = new Map(inputs.map((c) => [c.tensor, c]));
  const runs = await runFrames(u8, frames, res, names.map((n) => ({ name: n, elemType: byName.get(n)!.dtype === 'uint8' ? DataType.UINT8 : DataType.INT8 })));
  const sums = new Map<string, Float64Array>();
  for (const run of runs) {
    for (const n of names) {
      const c = byName.get(n)!;
      const d = run.extra.get(n)!;
      const hw = d.length / c.channels;
      const acc = sums.get(n) ?? new Float64Array(c.channels);
      for (let ch = 0; ch < c.channels; ch++) {
        let s = 0;
        for (let i = ch * hw, e = i + hw; i < e; i++) s += d[i]!;
        acc[ch]! += ((s / hw) - c.zp) * c.scale;
      }
      sums.set(n, acc);
    }
  }
  const out = new Map<string, Float64Array>();
  for (const c of inputs) out.set(c.prefix, sums.get(c.tensor)!.map((v) => v / runs.length));
  return out;
}

const IMAGE = /\.(jpe?g|png|bmp)$/i;
const MAX_FRAMES = 32;

async function framesFrom(dir: string | undefined, res: number, stretch: boolean): Promise<Uint8Array[]> {
  if (!dir) return [];
  const { readdir } = await import('node:fs/promises');
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && IMAGE.test(e.name)).map((e) => e.name).sort().slice(0, MAX_FRAMES);
  } catch {
    return [];
  }
  const { loadImageRgb } = await import('../image/load.js');
  return Promise.all(names.map((n) => loadImageRgb(join(dir, n), res, stretch ? 'stretch' : 'crop')));
}

/**
 * The per-device step after a pull: for an int8 TFLite file, decides by measurement on this device which weight
 * form it runs (decideWeightForm) and keeps that form's model and card (card.weights) under
 * <stateDir>/models/device-forms, keyed by file, CPU instruction set and runtime (a cache like onnxruntime's
 * optimized graph: made once, redone when any of them changes). Runs in the process that calls it: the
 * catalog calls it through a child (weight-form-child.ts).
 */
export async function deviceWeightForm(r: DeviceFormRequest, int8Exact: boolean): Promise<DeviceForm> {
  const cached = await readDeviceForm(r.stateDir, r.sourceSha256, r.labelsPath);
  if (cached) return cached;
  const { convertTflite } = await import('../importers/tflite/index.js');
  const { loadLabels } = await import('../importers/tflite/card.js');
  const bytes = await readFile(r.sourcePath);
  const labels = r.labelsPath ? await loadLabels(r.labelsPath) : undefined;
  const base = convertTflite(bytes, r.sourcePath, { labels, weightForm: 'u8' });
  const card = base.card;
  if (card.precision !== 'int8') throw new EdgefitError('E_WEIGHT_FORM', `${r.sourcePath} is not an int8 model; only int8 TFLite files have weight forms`);
  // where the CPU's u8s8 kernels saturate (x64 without VNNI), the requantized weights keep 7 bits, as src/quant's
  // 7-bit weights do; there the exact int8 form is not offered (it would not be exact)
  const qmax = int8Exact ? 127 : 63;
  const cands: FormInput[] = [];
  if (int8Exact) cands.push({ form: 's8-exact', onnx: convertTflite(bytes, r.sourcePath, { labels, weightForm: 's8-exact' }).onnx });
  const res = card.resolution ?? 224;
  const det = card.detection;
  const frames = await framesFrom(r.framesDir, res, !!det);
  const inputMeans = frames.length > 0 ? await convInputMeans(base.onnx, base.convInputs ?? [], frames, res) : undefined;
  // re-rounding only the depthwise convs keeps the others exact, which needs exact u8s8 kernels
  for (const scope of int8Exact ? ['all', 'depthwise'] as const : ['all'] as const) {
    cands.push({ form: 's8-requant', qmax, scope, onnx: convertTflite(bytes, r.sourcePath, { labels, weightForm: 's8-requant', requantQmax: qmax, requantScope: scope, ...(inputMeans ? { inputMeans } : {}) }).onnx });
  }
  // each int8 form also with its narrow convs widened to 16 channels (same integers; onnxruntime's symmetric
  // kernels take them then): which runs faster is measured below with the rest
  for (const c of [...cands]) {
    const p = padNarrowChannels(c.onnx);
    if (p) cands.push({ ...c, padded: true, onnx: p.onnx });
  }
  const decided = await decideWeightForm(base.onnx, cands, {
    frames, resolution: res, rounds: r.rounds,
    ...(det ? { detection: { anchors: det.anchorCount, firstScore: 4 + (det.background ? 1 : 0) } } : {}),
  });
  const key = weightFormKey(r.sourceSha256, r.labelsPath);
  const chosen = decided.form === 'u8' ? base.onnx : cands.find((c) => c.form === decided.form && c.scope === decided.scope && !!c.padded === !!decided.padded)!.onnx;
  const out: ModelCard = { ...card, weights: { ...decided, key, decidedAt: new Date().toISOString() } };
  const p = formPaths(r.stateDir, key);
  await mkdir(join(modelsDir(r.stateDir), 'device-forms'), { recursive: true });
  await writeFileAtomic(p.onnx, chosen);
  const sha = sha256Hex(chosen);
  // the card is written last: it names the model's hash, so a half-written pair is never read as a decision
  await writeFileAtomic(p.card, `${JSON.stringify({ ...out, onnxSha256: sha }, null, 2)}\n`);
  return { onnxPath: p.onnx, cardPath: p.card, card: out, onnxSha256: sha, cached: false };
}
