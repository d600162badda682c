/**
 * A QDQ graph (what `edgefit import` and `edgefit quantize` write) as the float graph it simulates, for a runtime
 * without integer kernels (TensorFlow.js): integer weights are dequantized once, activation Quantize/Dequantize
 * pairs become what they compute in float. Rounding to the integer grid is dropped (one quantization step of
 * difference per activation); the clamp a QuantizeLinear applies is kept where it is an activation function:
 * TFLite folds ReLU/ReLU6 into the output range (zero point at the bottom of the range, and a top of 6 for ReLU6),
 * so dropping it would let negative activations through. A wider range clamps nothing a float model would keep,
 * and is dropped.
 */
import { attr, dimsOf, tensorValues } from './reader.js';
import type { NodeProto, TensorProto } from './proto.js';
import { EdgefitError } from '../util/errors.js';

/** What a QuantizeLinear/DequantizeLinear pair does to a float tensor: snap to the grid of `scale`, clamp to the integer range. */
export interface FakeQuant { scale: number; zeroPoint: number; qmin: number; qmax: number }

const QRANGE: Record<number, [number, number]> = { 2: [0, 255], 3: [-128, 127] };
const FLOAT = 1;

export function isQdq(nodes: readonly NodeProto[]): boolean {
  return nodes.some((n) => n.opType === 'DequantizeLinear' || n.opType === 'QuantizeLinear');
}

function floatTensor(name: string, dims: number[], data: Float32Array): TensorProto {
  return { name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/**
 * Rewrites `nodes` (returned) and adds the float initializers it needs to `inits`. `graphInput` is the uint8
 * image input: its DequantizeLinear (after the NHWC -> NCHW Transpose) becomes Cast, Sub(zero point), Mul(scale),
 * the preprocessing form graphFromOnnx recognises.
 */
export function dequantizeQdq(nodes: readonly NodeProto[], inits: Map<string, TensorProto>, graphInput: string, source: string): { nodes: NodeProto[]; quantize: Map<string, FakeQuant> } {
  const quantize = new Map<string, FakeQuant>();
  const refuse = (msg: string) => new EdgefitError('E_ONNX_UNSUPPORTED', `${source}: ${msg}; run this model with the onnxruntime engine`);
  const producer = new Map<string, NodeProto>();
  for (const n of nodes) for (const o of n.output ?? []) producer.set(o, n);
  const numbers = (name: string | undefined): { dims: number[]; v: number[]; dtype: number } | undefined => {
    const t = name ? inits.get(name) : undefined;
    if (!t) return undefined;
    return { dims: dimsOf(t), v: Array.from(tensorValues(t) as ArrayLike<number | bigint>, Number), dtype: t.dataType ?? 0 };
  };
  /** true when t is the image input, possibly transposed or renamed */
  const fromInput = (t: string): boolean => {
    for (let i = 0; i < 8; i++) {
      if (t === graphInput) return true;
      const p = producer.get(t);
      if (!p || !(p.opType === 'Transpose' || p.opType === 'Identity')) return false;
      t = p.input![0]!;
    }
    return false;
  };
  let k = 0;
  const constName = (base: string, data: number[]): string => {
    const name = `${base}__f${k++}`;
    inits.set(name, floatTensor(name, [], Float32Array.from(data)));
    return name;
  };

  const out: NodeProto[] = [];
  for (const n of nodes) {
    const ins = n.input ?? [];
    const y = n.output![0]!;
    if (n.opType === 'DequantizeLinear') {
      const x = ins[0]!;
      const scale = numbers(ins[1]);
      const zp = numbers(ins[2]);
      if (!scale) throw refuse(`DequantizeLinear ${n.name ?? y}: the scale is not an initializer`);
      const q = numbers(x);
      if (q) {
        // a constant (weights, bias): dequantized once, per tensor or per channel along `axis`
        const dims = q.dims;
        const per = scale.v.length;
        let axis = Number(attr(n, 'axis') ?? 1);
        if (axis < 0) axis += dims.length;
        const stride = per === 1 ? 1 : dims.slice(axis + 1).reduce((a, b) => a * b, 1);
        if (per !== 1 && dims[axis] !== per) throw refuse(`DequantizeLinear ${n.name ?? y}: ${per} scales for axis ${axis} of [${dims}]`);
        const f = new Float32Array(q.v.length);
        for (let i = 0; i < f.length; i++) {
          const c = per === 1 ? 0 : Math.floor(i / stride) % per;
          f[i] = (q.v[i]! - (zp?.v[per === 1 ? 0 : c] ?? 0)) * scale.v[c]!;
        }
        inits.set(y, floatTensor(y, dims, f));
        continue;
      }
      if (scale.v.length !== 1) throw refuse(`DequantizeLinear ${n.name ?? y}: a per-channel activation scale is not supported`);
      if (fromInput(x)) {
        // the pixels: (p - zp) * scale as the preprocessing chain
        const cast = `${y}__cast`, centred = `${y}__centred`;
        out.push({ opType: 'Cast', name: `${y}_cast`, input: [x], output: [cast], attribute: [{ name: 'to', type: 2, i: FLOAT }] });
        out.push({ opType: 'Sub', name: `${y}_zp`, input: [cast, constName(y, [zp?.v[0] ?? 0])], output: [centred] });
        out.push({ opType: 'Mul', name: `${y}_scale`, input: [centred, constName(y, [scale.v[0]!])], output: [y] });
        continue;
      }
      out.push({ opType: 'Identity', name: n.name ?? y, input: [x], output: [y] });
      continue;
    }
    if (n.opType === 'QuantizeLinear') {
      const x = ins[0]!;
      const scale = numbers(ins[1]);
      const zp = numbers(ins[2]);
      const [qmin, qmax] = QRANGE[zp?.dtype ?? 2] ?? [0, 255];
      const s = scale?.v.length === 1 ? scale.v[0]! : undefined;
      const z = zp?.v[0] ?? 0;
      const afterSoftmax = producer.get(x)?.opType === 'Softmax';
      // the grid of each activation, so that a float runtime rounds where the integer kernels round (and a
      // class that wins only by the rounding wins in both); the scores' own grid is not kept: float scores tie less
      if (s !== undefined && !afterSoftmax) quantize.set(y, { scale: s, zeroPoint: z, qmin, qmax });
      if (s === undefined || afterSoftmax || z !== qmin) {
        out.push({ opType: 'Identity', name: n.name ?? y, input: [x], output: [y] });
        continue;
      }
      // the range starts at 0: a folded ReLU, or ReLU6 when its top is 6 (within a step)
      const top = (qmax - z) * s;
      if (Math.abs(top - 6) <= s) {
        out.push({ opType: 'Clip', name: n.name ?? y, input: [x, constName(y, [0]), constName(y, [6])], output: [y] });
      } else {
        out.push({ opType: 'Relu', name: n.name ?? y, input: [x], output: [y] });
      }
      continue;
    }
    out.push(n);
  }
  return { nodes: out, quantize };
}
