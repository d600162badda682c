import Long from 'long';
import { onnx, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto.js';
import { attr, dimsOf, readOnnx, tensorValues } from '../onnx/reader.js';
import { setTensorValues } from '../onnx/builder.js';

/** Pixels the rewritten first conv reads as one position: 4 x 3 channels = 12, a multiple of 4. */
const GROUP = 4;

/**
 * Rewrites the first conv of an imported QDQ graph (3 pixel channels, 3-wide kernel, stride 2 across, SAME
 * padding) so that it reads 4 horizontally adjacent pixels as one position of 12 channels: the uint8 NHWC
 * pixels are only reshaped ([1, H, W, 3] -> [1, H, W/4, 12], no copy), the conv becomes kernel (kh, 2) with
 * stride (sh, 1) and twice the filters (output pixel 2g+p of the original is phase p of position g), and its
 * uint8 output is reshaped back ([1, H', W/4, 2 x O] -> [1, H', W/2, O] in NHWC, between a transpose pair that
 * onnxruntime's layout transform cancels against its own). Every weight a phase does not reach is the weight
 * zero point, so each output is the same integer sum as before: the outputs are identical (checked by the
 * weight-form decision, never assumed).
 *
 * Why: onnxruntime's (1.2x, MLAS) fast symmetric u8s8 conv kernels need input channels in multiples of 4; with 3
 * the first conv takes the generic path and is 2-3x slower than the fp32 twin's NCHWc conv, while every op that
 * could add a fourth channel in the graph (Pad, Concat, Gather) costs more than it saves (pad-channels.ts).
 * Measured on a 2-vCPU Xeon with AVX-512 VNNI, person detector 96 px: first conv 75 -> 36 us. Feeding 4-channel
 * frames instead would change the engine's input contract and gains less (1.17 -> 1.05x of fp32, against 1.00x
 * with this form, same run). Whether a CPU runs this form faster is decided by measurement
 * (src/catalog/weight-form.ts).
 *
 * Exact only when the frame width is a multiple of 4 (then SAME padding adds nothing on the left): `resolution`
 * is the model's native one; every ladder rung of such a model is a multiple of 32 or a detector rung (224,
 * 256). Returns undefined when the graph does not have that first conv.
 */
export function stemSpaceToDepth(bytes: Uint8Array, resolution: number): Uint8Array | undefined {
  if (resolution % GROUP !== 0) return undefined;
  const model = readOnnx(bytes);
  const g = model.graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name!, t]));
  const consumers = new Map<string, NodeProto[]>();
  const producer = new Map<string, NodeProto>();
  for (const n of g.node ?? []) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const only = (t: string | undefined, op: string): NodeProto | undefined => {
    const c = consumers.get(t ?? '') ?? [];
    return c.length === 1 && c[0]!.opType === op ? c[0] : undefined;
  };
  const input = g.input?.[0];
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  if (!input || input.type?.tensorType?.elemType !== 2 || dims.length !== 4 || Number(dims[3]?.dimValue ?? 0) !== 3) return undefined;
  const tr = only(input.name!, 'Transpose');
  if (!tr || String(attr(tr, 'perm')) !== '0,3,1,2') return undefined;
  const xdq = only(tr.output![0], 'DequantizeLinear');
  const conv = only(xdq?.output![0], 'Conv');
  const ql = only(conv?.output![0], 'QuantizeLinear');
  if (!xdq || !conv || !ql || conv.input![0] !== xdq.output![0]) return undefined;
  const dqOf = (name: string | undefined) => {
    const n = name ? producer.get(name) : undefined;
    if (!n || n.opType !== 'DequantizeLinear') return undefined;
    const [q, s, z] = (n.input ?? []).map((i) => inits.get(i ?? ''));
    return q && s ? { q, s, z } : undefined;
  };
  const w = dqOf(conv.input![1]);
  const b = conv.input![2] ? dqOf(conv.input![2]) : undefined;
  if (!w || (conv.input![2] && !b) || (g.output ?? []).some((o) => o.name === ql.output![0])) return undefined;
  const [O, I, kh, kw] = dimsOf(w.q) as [number, number, number, number];
  const strides = (attr(conv, 'strides') as number[] | undefined) ?? [1, 1];
  const dil = (attr(conv, 'dilations') as number[] | undefined) ?? [1, 1];
  const pads = attr(conv, 'pads') as number[] | undefined;
  const autoPad = attr(conv, 'auto_pad');
  // SAME_UPPER on an even width, or explicit pads with none on the left and one on the right: out = W / 2
  const samePads = autoPad === 'SAME_UPPER' ? !pads : (autoPad === undefined || autoPad === 'NOTSET') && pads?.[1] === 0 && pads?.[3] === 1;
  if (I !== 3 || kw !== 3 || strides[1] !== 2 || dil.some((d) => d !== 1) || Number(attr(conv, 'group') ?? 1) !== 1 || !samePads) return undefined;

  const KW = 2;
  const C = GROUP * I;
  const vals = tensorValues(w.q);
  const zps = w.z ? tensorValues(w.z) : new Int8Array(1);
  const zp = (o: number) => Number(zps.length > 1 ? zps[o] : zps[0]);
  const Ctor = w.q.dataType === 3 ? Int8Array : w.q.dataType === 2 ? Uint8Array : undefined;
  if (!Ctor) return undefined;
  const out = new Ctor(2 * O * C * kh * KW);
  for (let p = 0; p < 2; p++) for (let o = 0; o < O; o++) for (let j = 0; j < GROUP; j++) for (let ch = 0; ch < I; ch++) for (let ky = 0; ky < kh; ky++) for (let gx = 0; gx < KW; gx++) {
    const kx = GROUP * gx + j - 2 * p;
    out[(((p * O + o) * C + j * I + ch) * kh + ky) * KW + gx] = kx >= 0 && kx < kw ? Number(vals[((o * I + ch) * kh + ky) * kw + kx]) : zp(o);
  }
  setValues(w.q, out, [2 * O, C, kh, KW]);
  // per-channel vectors: phase 1's filters are phase 0's
  for (const t of [w.s, w.z, b?.q, b?.s, b?.z]) if (t && dimsOf(t).length === 1) setValues(t, twice(tensorValues(t)), [2 * dimsOf(t)[0]!]);
  setInts(conv, 'kernel_shape', [kh, KW]);
  setInts(conv, 'strides', [strides[0]!, 1]);
  if (pads) setInts(conv, 'pads', [pads[0]!, 0, pads[2]!, 1]);

  const name = (s: string) => `${conv.name ?? 'stem'}_s2d_${s}`;
  g.initializer!.push(int64s(name('in_shape'), [0, 0, -1, C]), int64s(name('out_shape'), [0, 0, -1, O]));
  const reshapeIn = onnx.NodeProto.create({ opType: 'Reshape', name: name('in'), input: [input.name!, name('in_shape')], output: [name('in_out')] });
  tr.input![0] = name('in_out');
  const q = ql.output![0]!;
  const readers = consumers.get(q) ?? [];
  const back = [
    onnx.NodeProto.create({ opType: 'Transpose', name: name('nhwc'), input: [q], output: [name('nhwc_out')], attribute: [perm([0, 2, 3, 1])] }),
    onnx.NodeProto.create({ opType: 'Reshape', name: name('out'), input: [name('nhwc_out'), name('out_shape')], output: [name('out_out')] }),
    onnx.NodeProto.create({ opType: 'Transpose', name: name('nchw'), input: [name('out_out')], output: [name('nchw_out')], attribute: [perm([0, 3, 1, 2])] }),
  ];
  for (const n of readers) n.input = n.input!.map((x) => (x === q ? name('nchw_out') : x));
  const nodes = g.node!;
  nodes.splice(nodes.indexOf(ql) + 1, 0, ...back);
  nodes.splice(nodes.indexOf(tr), 0, reshapeIn);
  // shapes recorded for the rewritten tensors are stale: onnxruntime infers them again
  const stale = new Set([tr.output![0], xdq.output![0], conv.output![0], q]);
  g.valueInfo = (g.valueInfo ?? []).filter((v) => !stale.has(v.name ?? ''));
  return onnx.ModelProto.encode(model as ModelProto).finish();
}

function twice(a: ArrayLike<number | bigint>): number[] {
  const v = Array.from(a, Number);
  return [...v, ...v];
}

function setValues(t: TensorProto, values: ArrayLike<number>, dims: number[]): void {
  setTensorValues(t, values, dims, 'stem-s2d');
}

function setInts(n: NodeProto, name: string, ints: number[]): void {
  const a = n.attribute!.find((x) => x.name === name);
  if (a) a.ints = ints.map((i) => Long.fromNumber(i));
  else n.attribute!.push(onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: ints.map((i) => Long.fromNumber(i)) }));
}

function perm(p: number[]) {
  return onnx.AttributeProto.create({ name: 'perm', type: onnx.AttributeProto.AttributeType.INTS, ints: p.map((i) => Long.fromNumber(i)) });
}

function int64s(name: string, vals: number[]): TensorProto {
  return onnx.TensorProto.create({ name, dataType: 7, dims: [Long.fromNumber(vals.length)], int64Data: vals.map((v) => Long.fromNumber(v)) });
}
