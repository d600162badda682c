import Long from 'long';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { attr, dimsOf, readOnnx, tensorValues } from '../onnx/reader.js';
import { setTensorValues } from '../onnx/builder.js';

/** What padNarrowChannels widened: the convs whose outputs grew. */
export interface PaddedChannels { onnx: Uint8Array; convs: string[] }

/**
 * Widens the narrow layers of an imported QDQ graph (uint8 activations, int8 weights with zero point 0) with
 * channels that are zero in every sense, so that onnxruntime runs them on its fast symmetric kernels:
 a conv with fewer than 16 output channels (MobileNet 0.25's 8-channel stem) gets zero filters (the weight zero
 * point) and a zero bias up to 16, so its extra channels carry the activation's zero point (real 0); a depthwise
 * conv that reads them gets zero filters as well, and the next ordinary conv zero weights for them. Every real
 * channel computes exactly the same integers, so the outputs are identical.
 *
 * Why (onnxruntime 1.2x, x64 and arm64, MLAS `MlasConvSymPackWSize`): its symmetric u8s8 conv kernels, the fast
 * ones with VNNI, take a depthwise conv only when its channel count is a multiple of 16 (8 on arm64), and an
 * ordinary conv only when its input channels are a multiple of 4 and its outputs at least 16; other convs fall
 * back to the generic indirection path, one reason the first layers of the tiny rungs are 2-4x slower in int8
 * than in fp32. Whether the wider graph is faster on a CPU is measured by the weight-form decision
 * (src/catalog/weight-form.ts), never assumed. (The first conv's 3 pixel channels would need a fourth for the
 * fast kernel too, but every onnxruntime op that could add one, Pad, Concat or Gather on the uint8 NHWC
 * pixels, costs more than the kernel saves: measured 170-900 us against 60-100 us for the conv.)
 *
 * Returns undefined when there is nothing to widen.
 */
export function padNarrowChannels(bytes: Uint8Array, multiple = 16): PaddedChannels | undefined {
  const model = readOnnx(bytes);
  const g = model.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const only = (t: string): NodeProto | undefined => {
    const c = consumers.get(t) ?? [];
    return c.length === 1 ? c[0] : undefined;
  };
  // a conv's weight (or bias) DequantizeLinear and its initializers
  const dq = (name: string | undefined) => {
    const n = name ? producer.get(name) : undefined;
    if (!n || n.opType !== 'DequantizeLinear') return undefined;
    const [q, s, z] = (n.input ?? []).map((i) => inits.get(i ?? ''));
    if (!q || !s) return undefined;
    return { node: n, q, s, z };
  };
  const weightDims = (conv: NodeProto) => dimsOf(dq(conv.input?.[1])?.q ?? {});
  const group = (conv: NodeProto) => Number(attr(conv, 'group') ?? 1);
  // where a conv's output goes: QuantizeLinear -> DequantizeLinear -> the next conv (the imported QDQ chain)
  const nextConv = (conv: NodeProto): NodeProto | undefined => {
    const ql = only(conv.output![0]!);
    if (!ql || ql.opType !== 'QuantizeLinear') return undefined;
    const dl = only(ql.output![0]!);
    if (!dl || dl.opType !== 'DequantizeLinear') return undefined;
    const c = only(dl.output![0]!);
    return c && c.opType === 'Conv' && c.input![0] === dl.output![0] ? c : undefined;
  };
  interface Step { conv: NodeProto; kind: 'out' | 'dw' | 'in'; from: number; to: number }
  const steps: Step[] = [];
  const touched = new Set<NodeProto>();
  for (const conv of g.node ?? []) {
    if (conv.opType !== 'Conv' || touched.has(conv) || group(conv) !== 1) continue;
    const O = weightDims(conv)[0];
    if (O === undefined || O >= multiple || weightDims(conv).length !== 4) continue;
    const chain: Step[] = [{ conv, kind: 'out', from: O, to: multiple }];
    let next = nextConv(conv);
    while (next && group(next) === O && weightDims(next)[0] === O && weightDims(next)[1] === 1) {
      chain.push({ conv: next, kind: 'dw', from: O, to: multiple });
      next = nextConv(next);
    }
    if (!next || group(next) !== 1 || weightDims(next)[1] !== O) continue;
    chain.push({ conv: next, kind: 'in', from: O, to: multiple });
    if (chain.some((c) => touched.has(c.conv))) continue;
    for (const c of chain) touched.add(c.conv);
    steps.push(...chain);
  }
  if (steps.length === 0) return undefined;

  const replace = (t: TensorProto, values: ArrayLike<number>, dims: number[]) => setTensorValues(t, values, dims, 'pad-channels');
  const values = (t: TensorProto | undefined): number[] => (t ? Array.from(tensorValues(t) as ArrayLike<number>) : [0]);
  // the weight zero point of output channel o (scalar or per channel)
  const zpOf = (z: TensorProto | undefined) => {
    const v = values(z);
    return (o: number) => v.length > 1 ? v[o]! : v[0]!;
  };
  // per-channel vectors grow with the first channel's values: the padded channels are zero whatever their scale,
  // and a bias scale stays the input scale times the weight scale, as onnxruntime's QDQ fusion expects
  const padVectors = (d: NonNullable<ReturnType<typeof dq>>, to: number) => {
    for (const t of [d.s, d.z]) {
      if (!t || dimsOf(t).length !== 1) continue;
      const v = values(t);
      replace(t, [...v, ...new Array<number>(to - v.length).fill(v[0]!)], [to]);
    }
  };
  const widened = new Set<string>();
  for (const s of steps) {
    const w = dq(s.conv.input![1])!;
    const dims = dimsOf(w.q);
    const vals = values(w.q);
    const zp = zpOf(w.z);
    if (s.kind === 'in') {
      // [O, I, kh, kw]: the new input channels get zero weights
      const [O, I, kh, kw] = dims as [number, number, number, number];
      const k = kh * kw;
      const out = new Array<number>(O * s.to * k);
      for (let o = 0; o < O; o++) {
        out.fill(zp(o), o * s.to * k, (o + 1) * s.to * k);
        for (let i = 0; i < I; i++) for (let j = 0; j < k; j++) out[(o * s.to + i) * k + j] = vals[(o * I + i) * k + j]!;
      }
      replace(w.q, out, [O, s.to, kh, kw]);
      continue;
    }
    // 'out' and 'dw': the new output channels get zero filters (channel 0's zero point, which padVectors gives them) and a zero bias
    const per = vals.length / dims[0]!;
    replace(w.q, [...vals, ...new Array<number>((s.to - s.from) * per).fill(zp(0))], [s.to, ...dims.slice(1)]);
    padVectors(w, s.to);
    const b = dq(s.conv.input![2]);
    if (b) {
      replace(b.q, [...values(b.q), ...new Array<number>(s.to - s.from).fill(0)], [s.to]);
      padVectors(b, s.to);
    }
    if (s.kind === 'dw') {
      const a = s.conv.attribute!.find((x) => x.name === 'group')!;
      a.i = Long.fromNumber(s.to);
    }
    widened.add(s.conv.output![0]!);
  }
  // shapes recorded for widened tensors are stale: onnxruntime infers them again
  const stale = new Set<string>();
  for (const t of widened) {
    stale.add(t);
    for (const q of consumers.get(t) ?? []) {
      for (const o of q.output ?? []) stale.add(o);
      for (const d of consumers.get(q.output?.[0] ?? '') ?? []) for (const o of d.output ?? []) stale.add(o);
    }
  }
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !stale.has(v.name ?? ''));
  return {
    onnx: onnx.ModelProto.encode(model as ModelProto).finish(),
    convs: steps.filter((s) => s.kind !== 'in').map((s) => s.conv.name ?? ''),
  };
}
