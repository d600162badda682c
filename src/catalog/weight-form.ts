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
import { stemSpaceToDepth } from './stem-s2d.js';
import { requantRounding } from './requant-rounding.js';
import { anchorsFor } from '../detect/anchors.js';
import { postprocessDetections } from '../detect/postprocess.js';
import { boxIou } from '../detect/nms.js';
import type { Detection, DetectionSpec } from '../types/detection.js';

/** Bumped when the forms or the rule change: older decisions are then made again. */
export const WEIGHT_FORM_VERSION = 4;
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
  /** the first conv reads 4 pixels as 12 channels (stem-s2d.ts) */
  stemS2d?: boolean;
  onnx: Uint8Array;
}

export interface DecideOptions {
  /** frames at the model's resolution (uint8 RGB HWC); without any, a requantized form cannot be accepted */
  frames: Uint8Array[];
  resolution: number;
  /**
   * a detector: agreement is on its decisions after the model's own post-process (src/detect), not on the raw
   * top anchor: two anchors of one object (another aspect ratio at the same place) trade the top score after any
   * re-rounding, which is no other decision (sameDetections)
   */
  detection?: { spec: DetectionSpec; anchors: Float32Array };
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

function argmax(a: Float32Array): number {
  let k = -1;
  let best = -Infinity;
  for (let i = 0; i < a.length; i++) if (a[i]! > best) { best = a[i]!; k = i; }
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
      return { form: f.form, ...(f.qmax !== undefined ? { qmax: f.qmax } : {}), ...(f.scope ? { scope: f.scope } : {}), ...(f.padded ? { padded: true } : {}), ...(f.stemS2d ? { stemS2d: true } : {}), p50Ms: median(ms[k]!), bitExact, agree, frames: n, minCosine: minCos, accepted, why };
    });
    const fastest = (xs: WeightFormCandidate[]) => xs.reduce((a, b) => (b.p50Ms < a.p50Ms ? b : a));
    // u8 is bit-exact with itself by definition
    const exactBest = fastest(results.filter((r) => r.form === 'u8' || r.bitExact));
    const faithful = results.filter((r) => r.accepted && !r.bitExact && r.form !== 'u8');
    const close = faithful.length > 0 ? fastest(faithful) : undefined;
    const label = (r: WeightFormCandidate) => `${r.form}${r.qmax !== undefined ? ` (qmax ${r.qmax}${r.scope ? `, ${r.scope}` : ''})` : ''}${r.padded ? ' with 16-channel stem' : ''}${r.stemS2d ? ' with 12-channel stem input' : ''}`;
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
    return { form: pick.form, ...(pick.qmax !== undefined ? { qmax: pick.qmax } : {}), ...(pick.scope ? { scope: pick.scope } : {}), ...(pick.padded ? { padded: true } : {}), ...(pick.stemS2d ? { stemS2d: true } : {}), reason, candidates: results };
  } finally {
    for (const r of runners) await r.session.release();
  }
}

/** A detection this confident is a decision (an alert, a count): the other form must make it too. */
export const DECISION_SCORE = 0.5;
/** ... scoring at least this much less (quantized scores move by steps of ~1/256; 0.52 against 0.49 is one decision) */
export const DECISION_SLACK = 0.05;
/**
 * ... with a box this close: the bar the Arm NN parity test holds the exact form to through edgefit's own resize
 * (tests/integration/detect-ssd-parity.test.ts). Re-rounding every conv of the SSD moves a few boxes to IoU
 * 0.84-0.89 against the exact form on the test photos; 0.9 would refuse every re-rounded form, the depthwise-only
 * one included.
 */
export const SAME_BOX_IOU = 0.8;

/**
 * Every detection scoring >= DECISION_SCORE in either output (after the model's own post-process) is made by the
 * other too: one of the same class scoring >= DECISION_SCORE - DECISION_SLACK whose box overlaps it by
 * SAME_BOX_IOU. Matching the top detection alone accepted a form that moved a lower detection's box to IoU 0.85.
 */
function sameDetections(a: Float32Array, b: Float32Array, d: NonNullable<DecideOptions['detection']>): boolean {
  const da = postprocessDetections(a, d.spec, d.anchors, undefined);
  const db = postprocessDetections(b, d.spec, d.anchors, undefined);
  const made = (x: Detection, ys: Detection[]) => ys.some((y) => y.index === x.index && y.score >= DECISION_SCORE - DECISION_SLACK && boxIou(x.box, y.box) >= SAME_BOX_IOU);
  const covered = (xs: Detection[], ys: Detection[]) => xs.every((x) => x.score < DECISION_SCORE || made(x, ys));
  return covered(da, db) && covered(db, da);
}

/**
 * Whether two outputs have the same top-1 (a detector: the same decisions). Quantized scores tie (a step of
 * 1/256): the top-1 is the same when either output scores the other's top-1 as high as its own (argmax alone
 * would pick the first of a tie).
 */
function sameTop(a: Float32Array, b: Float32Array, o: DecideOptions): boolean {
  if (o.detection) return sameDetections(a, b, o.detection);
  const ta = argmax(a);
  const tb = argmax(b);
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
 * What the 's8-requant' forms of an int8 TFLite file take from the device's frames: each conv input's mean (bias
 * correction) and the adaptive rounding of the re-rounded weights; spread into convertTflite's options.
 */
export async function requantInputs(bytes: Uint8Array, path: string, base: { onnx: Uint8Array; convInputs?: ConvInput[] }, frames: Uint8Array[], res: number, qmax: number): Promise<{ inputMeans: Map<string, Float64Array>; requantRounding: Map<string, Int8Array> }> {
  const inputMeans = await convInputMeans(base.onnx, base.convInputs ?? [], frames, res);
  // the re-rounded weights' floor or ceiling chosen against each layer's inputs on the frames (not the nearest)
  return { inputMeans, requantRounding: await requantRounding(bytes, path, frames, res, qmax) };
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
  const prep = frames.length > 0 ? await requantInputs(bytes, r.sourcePath, base, frames, res, qmax) : {};
  // re-rounding only the depthwise convs keeps the others exact, which needs exact u8s8 kernels
  for (const scope of int8Exact ? ['all', 'depthwise'] as const : ['all'] as const) {
    cands.push({ form: 's8-requant', qmax, scope, onnx: convertTflite(bytes, r.sourcePath, { labels, weightForm: 's8-requant', requantQmax: qmax, requantScope: scope, ...prep }).onnx });
  }
  // each int8 form also with its narrow convs widened to 16 channels (same integers; onnxruntime's symmetric
  // kernels take them then): which runs faster is measured below with the rest
  for (const c of [...cands]) {
    const p = padNarrowChannels(c.onnx);
    if (p) cands.push({ ...c, padded: true, onnx: p.onnx });
  }
  // and each with its 3-channel first conv reading 4 pixels as 12 channels (same integers, the fast kernel)
  for (const c of [...cands]) {
    const s = stemSpaceToDepth(c.onnx, res);
    if (s) cands.push({ ...c, stemS2d: true, onnx: s });
  }
  const decided = await decideWeightForm(base.onnx, cands, {
    frames, resolution: res, rounds: r.rounds,
    ...(det ? { detection: { spec: det, anchors: anchorsFor(det, res) } } : {}),
  });
  const key = weightFormKey(r.sourceSha256, r.labelsPath);
  const chosen = decided.form === 'u8' ? base.onnx : cands.find((c) => c.form === decided.form && c.scope === decided.scope && !!c.padded === !!decided.padded && !!c.stemS2d === !!decided.stemS2d)!.onnx;
  const out: ModelCard = { ...card, weights: { ...decided, key, decidedAt: new Date().toISOString() } };
  const p = formPaths(r.stateDir, key);
  await mkdir(join(modelsDir(r.stateDir), 'device-forms'), { recursive: true });
  await writeFileAtomic(p.onnx, chosen);
  const sha = sha256Hex(chosen);
  // the card is written last: it names the model's hash, so a half-written pair is never read as a decision
  await writeFileAtomic(p.card, `${JSON.stringify({ ...out, onnxSha256: sha }, null, 2)}\n`);
  return { onnxPath: p.onnx, cardPath: p.card, card: out, onnxSha256: sha, cached: false };
}
