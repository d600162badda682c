import { makeTensor } from '../onnx/builder.js';
import { attr } from '../onnx/reader.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { GraphIndex, cloneModel } from './model.js';
import { runWithOutputs } from './calibrate.js';

export interface EqualizeResult {
  model: ModelProto;
  /** pairs rescaled and the median per-channel gain applied */
  pairs: Array<{ producer: string; consumer: string; channels: number; medianGain: number; maxGain: number }>;
}

interface Pair { a: NodeProto; act: NodeProto; b: NodeProto; t: string; hi: number }

/**
 * Activation range equalization between conv -> ReLU/ReLU6 -> conv. Per-tensor uint8 activations give every
 * channel the same grid, so a channel that peaks at 0.2 while its neighbours reach 6 keeps ~8 of 255 levels.
 * Scaling channel c of the first conv by g_c = hi / max_c (g_c >= 1) and dividing the second conv's input
 * channel c by g_c leaves the float function unchanged (ReLU is positively homogeneous; a ReLU6 channel whose
 * calibrated peak was max_c is now clipped at max_c instead of 6, so frames brighter than any calibration
 * frame are clipped earlier in that channel) while every channel uses the whole grid.
 * A depthwise consumer absorbs 1/g_c in its per-channel weight scale exactly; a pointwise consumer spreads its
 * per-output-channel weight range, so there the gain is split: sqrt(g_c).
 */
export async function equalizeActivations(model: ModelProto, frames: Uint8Array[], resolution: number): Promise<EqualizeResult> {
  const m = cloneModel(model);
  const ix = new GraphIndex(m);
  const pairs: Pair[] = [];
  for (const a of ix.nodes) {
    if (a.opType !== 'Conv' || !ix.floatInit(a.input![1]!)) continue;
    const y = a.output![0]!;
    const c1 = ix.consumers.get(y) ?? [];
    if (c1.length !== 1 || ix.graphOutputs.has(y)) continue;
    const act = c1[0]!;
    let hi = Infinity;
    if (act.opType === 'Clip') {
      const [lo, h] = ix.clipBounds(act);
      if (lo !== 0 || !Number.isFinite(h)) continue;
      hi = h;
    } else if (act.opType !== 'Relu') continue;
    const t = act.output![0]!;
    const c2 = ix.consumers.get(t) ?? [];
    if (c2.length !== 1 || ix.graphOutputs.has(t)) continue;
    const b = c2[0]!;
    if (b.opType !== 'Conv' || b.input![0] !== t || !ix.floatInit(b.input![1]!)) continue;
    if ((ix.consumers.get(a.input![1]!) ?? []).length !== 1 || (ix.consumers.get(b.input![1]!) ?? []).length !== 1) continue;
    pairs.push({ a, act, b, t, hi });
  }
  if (pairs.length === 0) return { model: m, pairs: [] };
  // per-channel peaks of every candidate tensor (NCHW)
  const peaks = new Map<string, Float64Array>();
  await runWithOutputs(m, pairs.map((p) => p.t), frames, resolution, (_f, vals) => {
    for (const [n, v] of vals) {
      const C = ix.floatInit(pairs.find((p) => p.t === n)!.a.input![1]!)!.dims[0]!;
      const per = v.length / C;
      const pk = peaks.get(n) ?? new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let mx = pk[c]!;
        for (let i = c * per, e = i + per; i < e; i++) if (v[i]! > mx) mx = v[i]!;
        pk[c] = mx;
      }
      peaks.set(n, pk);
    }
  });
  const out: EqualizeResult['pairs'] = [];
  const inits = m.graph!.initializer!;
  // a conv is the consumer of one pair and the producer of the next: always read the latest values
  const current = new Map<string, { dims: number[]; data: Float32Array }>();
  const get = (name: string) => current.get(name) ?? ix.floatInit(name)!;
  const put = (name: string, dims: number[], data: Float32Array) => {
    current.set(name, { dims, data });
    inits[inits.findIndex((x) => x.name === name)] = makeTensor(name, dims, data);
  };
  for (const p of pairs) {
    const pk = peaks.get(p.t)!;
    const C = pk.length;
    const top = Number.isFinite(p.hi) ? p.hi : Math.max(...pk);
    const wb = get(p.b.input![1]!);
    const groupB = Number(attr(p.b, 'group') ?? 1);
    const depthwise = groupB === C && wb.dims[1] === 1;
    if (!depthwise && groupB !== 1) continue;
    const gains = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const full = pk[c]! > 0 ? top / pk[c]! : 1;
      gains[c] = Math.max(1, depthwise ? full : Math.sqrt(full));
    }
    const wa = get(p.a.input![1]!);
    const perA = wa.data.length / C;
    const da = wa.data.slice();
    for (let c = 0; c < C; c++) for (let i = 0; i < perA; i++) da[c * perA + i] = da[c * perA + i]! * gains[c]!;
    put(p.a.input![1]!, wa.dims, da);
    if (p.a.input![2]) {
      const ba = get(p.a.input![2]);
      put(p.a.input![2], ba.dims, ba.data.map((v, c) => v * gains[c]!));
    }
    const db = wb.data.slice();
    if (depthwise) {
      const per = db.length / C;
      for (let c = 0; c < C; c++) for (let i = 0; i < per; i++) db[c * per + i] = db[c * per + i]! / gains[c]!;
    } else {
      const O = wb.dims[0]!;
      const k = wb.dims.slice(2).reduce((a, d) => a * d, 1);
      for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let i = 0; i < k; i++) db[(o * C + c) * k + i] = db[(o * C + c) * k + i]! / gains[c]!;
    }
    put(p.b.input![1]!, wb.dims, db);
    const sorted = Array.from(gains).sort((x, y) => x - y);
    out.push({ producer: p.a.name ?? '', consumer: p.b.name ?? '', channels: C, medianGain: sorted[C >> 1]!, maxGain: sorted[C - 1]! });
  }
  return { model: m, pairs: out };
}
