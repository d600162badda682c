import { makeTensor } from '../onnx/builder.js';
import { attr } from '../onnx/reader.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { GraphIndex, cloneModel } from './model.js';

/** Per-channel value bounds of a tensor that hold for EVERY input (interval arithmetic, not calibration). */
interface Bounds { lo: Float64Array; hi: Float64Array }

export interface EqualizeReport {
  /** conv -> [activation] -> conv pairs found */
  pairs: number;
  /** channels whose total scale over the sweeps is not 1 */
  scaled: number;
  /** channels a ReLU6 clip kept at scale 1 because the clip could fire on some input */
  clipBlocked: number;
  sweeps: number;
  target: EqualizeTarget;
}

interface Pair { c1: NodeProto; act?: NodeProto; c2: NodeProto; depthwise2: boolean }

/**
 * Cross-layer equalization (Nagel et al. 2019): for consecutive convs W1 -> act -> W2, divide output channel c
 * of W1 (and its bias) by s_c and multiply input channel c of W2 by s_c, with s_c = sqrt(r1_c / r2_c) so both
 * weight ranges become sqrt(r1_c * r2_c). Positive scales commute with ReLU, so the float function is unchanged.
 * A clip y = min(max(x, 0), H) (ReLU6) only commutes where it never fires from above: that is proven per
 * channel with interval bounds U_c of the pre-activation over every possible input (the pixels' grid, earlier
 * clips), and then s_c is kept >= U_c / H; a channel that might reach H keeps s_c = 1. The QDQ graph keeps its
 * scalar Clip, so the exported model is exact on every frame, not only on the calibration photos.
 */
export type EqualizeTarget = 'weights' | 'activations';

/** The activation tensors between the convs of each pair CLE can rescale (their per-channel ranges steer 'activations'). */
export function equalizablePairs(model: ModelProto): string[] {
  return findPairs(new GraphIndex(model)).map((p) => p.c2.input![0]!);
}

export function equalizeModel(model: ModelProto, opts: { sweeps?: number; target?: EqualizeTarget; ranges?: Map<string, Float64Array> } = {}): { model: ModelProto; report: EqualizeReport } {
  const sweeps = opts.sweeps ?? 4;
  const target = opts.target ?? 'weights';
  // per-channel max of each pair's activation, tracked through the rescaling (a_c / s_c)
  const ranges = new Map([...(opts.ranges ?? [])].map(([k, v]) => [k, Float64Array.from(v)]));
  const m = cloneModel(model);
  const ix = new GraphIndex(m);
  const pairs = findPairs(ix);
  const w = new Map<string, { dims: number[]; data: Float32Array }>();
  const get = (name: string) => {
    let t = w.get(name);
    if (!t) {
      const f = ix.floatInit(name)!;
      t = { dims: f.dims, data: f.data.slice() };
      w.set(name, t);
    }
    return t;
  };
  let clipBlocked = 0;
  const total = new Map<Pair, Float64Array>();
  for (let sweep = 0; sweep < sweeps; sweep++) {
    clipBlocked = 0;
    const bounds = new Map<string, Bounds>();
    const pairOf = new Map(pairs.map((p) => [p.c1, p]));
    for (const n of ix.nodes) {
      if (n.opType === 'Conv' && ix.isConst(n.input![1]!)) {
        const p = pairOf.get(n);
        if (p) {
          const r = scalePair(p, get, bounds.get(n.input![0]!), ix, target, ranges.get(p.c2.input![0]!));
          const t = total.get(p) ?? new Float64Array(r.s.length).fill(1);
          r.s.forEach((v, c) => { t[c] = t[c]! * v; });
          total.set(p, t);
          clipBlocked += r.blocked;
        }
      }
      propagate(n, ix, bounds, get);
    }
  }
  for (const [name, t] of w) {
    const at = m.graph!.initializer!.findIndex((x) => x.name === name);
    m.graph!.initializer![at] = makeTensor(name, t.dims, t.data);
  }
  let scaled = 0;
  for (const t of total.values()) for (const v of t) scaled += +(Math.abs(Math.log(v)) > 1e-6);
  return { model: m, report: { pairs: pairs.length, scaled, clipBlocked, sweeps, target } };
}

function findPairs(ix: GraphIndex): Pair[] {
  const pairs: Pair[] = [];
  const used = new Set<string>();
  for (const c1 of ix.nodes) {
    if (!isPlainConv(c1, ix) || !c1.input![2]) continue;
    // the weights must belong to this conv alone, or scaling them would change another layer too
    if ((ix.consumers.get(c1.input![1]!) ?? []).length !== 1 || used.has(c1.input![1]!)) continue;
    let y = c1.output![0]!;
    let act: NodeProto | undefined;
    const only = (t: string) => { const c = ix.consumers.get(t) ?? []; return c.length === 1 && !ix.graphOutputs.has(t) ? c[0] : undefined; };
    let next = only(y);
    if (next && (next.opType === 'Relu' || next.opType === 'Clip')) {
      if (next.opType === 'Clip') {
        const [lo, hi] = ix.clipBounds(next);
        if (lo !== 0 || !(hi > 0) || !Number.isFinite(hi)) continue;
      }
      act = next;
      y = next.output![0]!;
      next = only(y);
    }
    if (!next || !isPlainConv(next, ix) || next.input![0] !== y || (ix.consumers.get(next.input![1]!) ?? []).length !== 1) continue;
    const c = ix.floatInit(c1.input![1]!)!.dims[0]!;
    const w2 = ix.floatInit(next.input![1]!)!.dims;
    const g2 = Number(attr(next, 'group') ?? 1);
    const depthwise2 = g2 === c && w2[0] === c && w2[1] === 1;
    if (!(g2 === 1 && w2[1] === c) && !depthwise2) continue;
    pairs.push({ c1, ...(act ? { act } : {}), c2: next, depthwise2 });
    used.add(c1.input![1]!);
  }
  return pairs;
}

function isPlainConv(n: NodeProto, ix: GraphIndex): boolean {
  if (n.opType !== 'Conv' || !ix.isConst(n.input![1]!)) return false;
  const w = ix.floatInit(n.input![1]!);
  if (!w || w.dims.length !== 4) return false;
  if (n.input![2] && !ix.floatInit(n.input![2])) return false;
  const g = Number(attr(n, 'group') ?? 1);
  return g === 1 || (g === w.dims[0] && w.dims[1] === 1);
}

function scalePair(p: Pair, get: (n: string) => { dims: number[]; data: Float32Array }, inB: Bounds | undefined, ix: GraphIndex, target: EqualizeTarget, act: Float64Array | undefined): { blocked: number; s: Float64Array } {
  const w1 = get(p.c1.input![1]!);
  const b1 = get(p.c1.input![2]!);
  const w2 = get(p.c2.input![1]!);
  const C = w1.dims[0]!;
  const per1 = w1.data.length / C;
  const k2 = w2.dims[2]! * w2.dims[3]!;
  const r1 = new Float64Array(C);
  const r2 = new Float64Array(C);
  for (let c = 0; c < C; c++) for (let i = 0; i < per1; i++) r1[c] = Math.max(r1[c]!, Math.abs(w1.data[c * per1 + i]!));
  const O2 = w2.dims[0]!;
  const I2 = w2.dims[1]!;
  for (let o = 0; o < O2; o++) for (let i = 0; i < I2; i++) {
    const c = p.depthwise2 ? o : i;
    for (let j = 0; j < k2; j++) r2[c] = Math.max(r2[c]!, Math.abs(w2.data[(o * I2 + i) * k2 + j]!));
  }
  const H = p.act?.opType === 'Clip' ? ix.clipBounds(p.act)[1] : Infinity;
  const pre = Number.isFinite(H) ? convBounds(p.c1, w1, b1.data, inB) : undefined;
  const s = new Float64Array(C).fill(1);
  let blocked = 0;
  // 'activations': with per-channel weight scales only the per-tensor activation grid and, into a pointwise
  // conv, each output row's spread over its input columns are left to equalize; a depthwise W2 is per channel
  // on both sides, so its channels are brought to the largest activation range, a pointwise W2 balances
  // a_c / s_c against r2_c s_c (s_c ~ sqrt(a_c / r2_c), normalised so the largest activation range stays)
  let amax = 0;
  let k = 1;
  if (target === 'activations') {
    if (!act || act.length < C) return { blocked: 0, s: new Float64Array(C).fill(1) };
    for (let c = 0; c < C; c++) amax = Math.max(amax, act[c]!);
    if (!(amax > 0)) return { blocked: 0, s: new Float64Array(C).fill(1) };
    if (!p.depthwise2) {
      let m = 0;
      for (let c = 0; c < C; c++) m = Math.max(m, Math.sqrt(act[c]! * r2[c]!));
      k = m / amax;
    }
  }
  for (let c = 0; c < C; c++) {
    if (!(r1[c]! > 0 && r2[c]! > 0)) continue;
    let sc: number;
    if (target === 'weights') sc = Math.sqrt(r1[c]! / r2[c]!);
    else if (!(act![c]! > 0)) continue;
    else sc = p.depthwise2 ? act![c]! / amax : Math.sqrt(act![c]! / r2[c]!) * k;
    sc = Math.min(1e3, Math.max(1e-3, sc));
    if (Number.isFinite(H)) {
      const U = pre?.hi[c] ?? Infinity;
      if (!(U <= H)) { blocked++; continue; }
      // the scaled channel must still stay below the clip: U / s <= H
      if (U > 0) sc = Math.max(sc, U / H);
    }
    if (Math.abs(Math.log(sc)) > 1e-6) s[c] = sc;
  }
  if (act) for (let c = 0; c < C; c++) act[c] = act[c]! / s[c]!;
  for (let c = 0; c < C; c++) {
    if (s[c] === 1) continue;
    for (let i = 0; i < per1; i++) w1.data[c * per1 + i] = w1.data[c * per1 + i]! / s[c]!;
    b1.data[c] = b1.data[c]! / s[c]!;
  }
  for (let o = 0; o < O2; o++) for (let i = 0; i < I2; i++) {
    const f = s[p.depthwise2 ? o : i]!;
    if (f === 1) continue;
    for (let j = 0; j < k2; j++) w2.data[(o * I2 + i) * k2 + j] = w2.data[(o * I2 + i) * k2 + j]! * f;
  }
  return { blocked, s };
}

/** Pre-activation bounds of a conv's output channels; zero padding is allowed for by widening inputs to 0. */
function convBounds(n: NodeProto, w: { dims: number[]; data: Float32Array }, bias: Float32Array | undefined, inB: Bounds | undefined): Bounds | undefined {
  if (!inB) return undefined;
  const [O, I] = [w.dims[0]!, w.dims[1]!];
  const k = w.dims[2]! * w.dims[3]!;
  const depthwise = Number(attr(n, 'group') ?? 1) > 1;
  const lo = new Float64Array(O);
  const hi = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    let l = bias?.[o] ?? 0;
    let h = l;
    for (let i = 0; i < I; i++) {
      const ch = depthwise ? o : i;
      const a = Math.min(0, inB.lo[ch] ?? -Infinity);
      const b = Math.max(0, inB.hi[ch] ?? Infinity);
      for (let j = 0; j < k; j++) {
        const v = w.data[(o * I + i) * k + j]!;
        if (v > 0) { l += v * a; h += v * b; } else if (v < 0) { l += v * b; h += v * a; }
      }
    }
    lo[o] = Number.isNaN(l) ? -Infinity : l;
    hi[o] = Number.isNaN(h) ? Infinity : h;
  }
  return { lo, hi };
}

/** Output bounds of the ops CLE reasons through; anything else is unbounded (absent). */
function propagate(n: NodeProto, ix: GraphIndex, bounds: Map<string, Bounds>, get: (n: string) => { dims: number[]; data: Float32Array }): void {
  const y = n.output![0]!;
  const x = bounds.get(n.input?.[0] ?? '');
  switch (n.opType) {
    case 'DequantizeLinear': {
      const s = ix.floatInit(n.input![1]!);
      const zt = ix.inits.get(n.input![2] ?? '');
      if (!s || s.data.length !== 1 || !zt || zt.dataType !== 2) return;
      const z = (zt.rawData?.[0] ?? zt.int32Data?.[0] ?? 0) as number;
      const a = s.data[0]!;
      // a per-tensor grid: one bound for every channel (indexing past the end falls back to it)
      bounds.set(y, uniform((0 - z) * a, (255 - z) * a));
      return;
    }
    case 'Conv':
      if (!ix.isConst(n.input![1]!)) return;
      {
        const b = convBounds(n, get(n.input![1]!), n.input![2] ? get(n.input![2]).data : undefined, x);
        if (b) bounds.set(y, b);
      }
      return;
    case 'Relu':
      if (x) bounds.set(y, { lo: x.lo.map((v) => Math.max(0, v)), hi: x.hi.map((v) => Math.max(0, v)) });
      return;
    case 'Clip': {
      const [lo, hi] = ix.clipBounds(n);
      if (Number.isNaN(lo) || Number.isNaN(hi)) return;
      const c = (v: number) => Math.min(hi, Math.max(lo, v));
      bounds.set(y, x ? { lo: x.lo.map(c), hi: x.hi.map(c) } : uniform(Number.isFinite(lo) ? lo : -Infinity, Number.isFinite(hi) ? hi : Infinity));
      return;
    }
    default:
  }
}

/** Bounds that hold for every channel of a per-tensor grid (channels past 4096 read as unbounded). */
function uniform(lo: number, hi: number): Bounds {
  return { lo: new Float64Array(4096).fill(lo), hi: new Float64Array(4096).fill(hi) };
}
