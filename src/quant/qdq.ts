import Long from 'long';
import { makeTensor } from '../onnx/builder.js';
import { attr } from '../onnx/reader.js';
import type { ModelProto, NodeProto, TensorProto } from '../onnx/proto.js';
import { EdgefitError } from '../util/errors.js';
import { GraphIndex, cloneModel } from './model.js';
import { rootOf, type QPlan } from './plan.js';

export interface ActParams {
  scale: number;
  zeroPoint: number;
  /** the float range this represents */
  lo: number;
  hi: number;
}

/** uint8 asymmetric parameters for [lo, hi], widened to contain 0 so zero padding is exact. */
export function actParams(lo: number, hi: number): ActParams {
  const a = Math.min(lo, 0);
  const b = Math.max(hi, 0);
  const scale = b > a ? (b - a) / 255 : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-a / scale)));
  return { scale, zeroPoint, lo: (0 - zeroPoint) * scale, hi: (255 - zeroPoint) * scale };
}

export interface WeightQuant {
  node: string;
  op: string;
  qmax: number;
  channels: number;
  /** largest |w| / smallest nonzero per-channel max: why per-channel scales matter */
  channelRangeRatio: number;
}

/**
 * Rewrites a float model into QDQ form: Q/DQ pairs on the planned activations (uint8), int8 weights
 * symmetric per output channel in [-qmax, qmax] (qmax chosen separately for depthwise convs, which onnxruntime
 * runs with a different kernel than its u8s8 GEMMs), int32 biases with scale in_scale*w_scale.
 */
/**
 * `rounded` (per weighted node name) replaces round-to-nearest with integer weights chosen elsewhere
 * (adaptive rounding) on the same per-channel scales.
 * `inputMeans` (per weighted node name, the mean of each input channel over the calibration frames) enables
 * bias correction: rounding the weights shifts each output's mean by sum((w_q - w) * E[x]); with ReLU inputs
 * E[x] > 0 and the shifts add up layer after layer, so the bias absorbs them.
 */
export function insertQdq(model: ModelProto, plan: QPlan, params: Map<string, ActParams>, qmaxOther: number, qmaxDepthwise: number, inputMeans?: Map<string, Float64Array>,
  rounded?: Map<string, Int8Array>, floatWeights?: ReadonlySet<string>): { model: ModelProto; weights: WeightQuant[] } {
  const m = cloneModel(model);
  const ix = new GraphIndex(m);
  const g = m.graph!;
  const newInits: TensorProto[] = [];
  const after = new Map<NodeProto | null, NodeProto[]>();
  const emit = (anchor: NodeProto | null, n: NodeProto) => {
    const list = after.get(anchor) ?? [];
    list.push(n);
    after.set(anchor, list);
  };
  const paramsOf = (t: string): ActParams => {
    const p = params.get(rootOf(plan.tensors, t));
    if (!p) throw new Error(`quantization: no range for tensor ${t}`);
    return p;
  };

  for (const t of plan.tensors.keys()) {
    // already the output of a DequantizeLinear (the pixels feeding the first conv): consumers read it as it is
    if (ix.producer.get(t)?.opType === 'DequantizeLinear') continue;
    const p = paramsOf(t);
    const sName = `${t}_scale`;
    const zName = `${t}_zero_point`;
    newInits.push(makeTensor(sName, [], new Float32Array([p.scale])), makeTensor(zName, [], new Uint8Array([p.zeroPoint])));
    const prod = ix.producer.get(t) ?? null;
    let pre = t;
    let dq = t;
    if (prod) {
      pre = `${t}_prequant`;
      prod.output = prod.output!.map((o) => (o === t ? pre : o));
    } else {
      dq = `${t}_dequant`;
      for (const c of ix.consumers.get(t) ?? []) c.input = c.input!.map((i) => (i === t ? dq : i));
    }
    emit(prod, { opType: 'QuantizeLinear', name: `${t}_QuantizeLinear`, input: [pre, sName, zName], output: [`${t}_quantized`] });
    emit(prod, { opType: 'DequantizeLinear', name: `${t}_DequantizeLinear`, input: [`${t}_quantized`, sName, zName], output: [dq] });
  }

  const weights: WeightQuant[] = [];
  const dropped = new Set<string>();
  for (const orig of plan.weighted) {
    // kept in float: it reads the dequantized activation and runs as a float op
    if (floatWeights?.has(orig.name ?? '')) continue;
    const n = g.node!.find((x) => x.name === orig.name && x.opType === orig.opType)!;
    const op = n.opType!;
    const wName = n.input![1]!;
    const w = ix.floatInit(wName);
    if (!w) throw new EdgefitError('E_QUANT', `node ${n.name} (${op}): weight ${wName} is not a float initializer`);
    const axis = weightAxis(n);
    if (w.dims.length !== (op === 'Conv' ? 4 : 2)) throw new EdgefitError('E_QUANT', `node ${n.name} (${op}): weight of rank ${w.dims.length} is not supported`);
    const C = w.dims[axis]!;
    const depthwise = isDepthwise(n, w.dims);
    const qmax = depthwise ? qmaxDepthwise : qmaxOther;
    const { maxAbs, scale: wScale } = weightScales(w, axis, qmax);
    const base = n.name || wName;
    const given = rounded?.get(n.name ?? '');
    if (given && given.length !== w.data.length) throw new Error(`quantization: rounded weights of ${n.name} have ${given.length} values, expected ${w.data.length}`);
    const q = given ?? roundNearest(w, axis, wScale, qmax);
    const means = inputMeans?.get(n.name ?? '');
    let corr: Float64Array | undefined;
    if (means) {
      corr = new Float64Array(C);
      if (op === 'Conv') {
        const [O, I] = [w.dims[0]!, w.dims[1]!];
        const k = w.dims[2]! * w.dims[3]!;
        const group = Number(attr(n, 'group') ?? 1);
        const outPerGroup = O / group;
        for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) {
          const mean = means[Math.floor(o / outPerGroup) * I + i] ?? 0;
          for (let j = 0; j < k; j++) {
            const idx = (o * I + i) * k + j;
            corr[o]! += (q[idx]! * wScale[o]! - w.data[idx]!) * mean;
          }
        }
      } else {
        // Gemm/MatMul: rows are inputs unless the weight is [out, in] (axis 0)
        const [R, Cc] = [w.dims[0]!, w.dims[1]!];
        for (let r = 0; r < R; r++) for (let c = 0; c < Cc; c++) {
          const idx = r * Cc + c;
          const [o, i] = axis === 0 ? [r, c] : [c, r];
          corr[o]! += (q[idx]! * wScale[o]! - w.data[idx]!) * (means[i] ?? 0);
        }
      }
      if (!n.input![2] && op === 'Conv') {
        const bn = `${base}_corrected_bias`;
        ix.inits.set(bn, makeTensor(bn, [C], new Float32Array(C)));
        n.input![2] = bn;
      } else if (op === 'MatMul') {
        // the bias lives in the Add that follows
        const add = (ix.consumers.get(n.output![0]!) ?? [])[0];
        const bn = add?.opType === 'Add' ? add.input!.find((x) => ix.isConst(x)) : undefined;
        const bv = bn ? ix.floatInit(bn) : undefined;
        if (bn && bv && bv.data.length === C) {
          const fixed = bv.data.map((v, c) => v - corr![c]!);
          const at = g.initializer!.findIndex((t) => t.name === bn);
          g.initializer![at] = makeTensor(bn, bv.dims, fixed);
        }
      }
    }
    newInits.push(makeTensor(`${base}_w_quantized`, w.dims, q), makeTensor(`${base}_w_scale`, [C], wScale), makeTensor(`${base}_w_zero_point`, [C], new Int8Array(C)));
    const wdq: NodeProto = { opType: 'DequantizeLinear', name: `${base}_w_DequantizeLinear`, input: [`${base}_w_quantized`, `${base}_w_scale`, `${base}_w_zero_point`], output: [`${base}_w_dequant`], attribute: [{ name: 'axis', type: 2, i: Long.fromNumber(axis) }] };
    emit(null, wdq);
    dropped.add(wName);
    n.input![1] = `${base}_w_dequant`;

    const bName = n.input![2];
    if (bName) {
      const bias = ix.floatInit(bName);
      if (!bias || bias.data.length !== C) throw new EdgefitError('E_QUANT', `node ${n.name} (${op}): bias ${bName} is not a float vector of ${C}`);
      const inP = paramsOf(orig.input![0]!);
      const bScale = new Float32Array(C);
      const bq = new Int32Array(C);
      for (let c = 0; c < C; c++) {
        bScale[c] = inP.scale * wScale[c]!;
        const bv = bias.data[c]! - (corr?.[c] ?? 0);
        bq[c] = Math.max(-2147483647, Math.min(2147483647, Math.round(bv / bScale[c]!)));
      }
      newInits.push(makeTensor(`${base}_b_quantized`, [C], bq), makeTensor(`${base}_b_scale`, [C], bScale), makeTensor(`${base}_b_zero_point`, [C], new Int32Array(C)));
      emit(null, { opType: 'DequantizeLinear', name: `${base}_b_DequantizeLinear`, input: [`${base}_b_quantized`, `${base}_b_scale`, `${base}_b_zero_point`], output: [`${base}_b_dequant`], attribute: [{ name: 'axis', type: 2, i: Long.fromNumber(0) }] });
      dropped.add(bName);
      n.input![2] = `${base}_b_dequant`;
    }
    let nonzeroMin = Infinity;
    let maxAll = 0;
    for (const v of maxAbs) { if (v > 0 && v < nonzeroMin) nonzeroMin = v; if (v > maxAll) maxAll = v; }
    weights.push({ node: n.name ?? '', op: depthwise ? 'Conv(depthwise)' : op, qmax, channels: C, channelRangeRatio: nonzeroMin < Infinity ? maxAll / nonzeroMin : 1 });
  }

  // keep topological order: weight DQs first, each activation Q/DQ right after its producer
  const nodes: NodeProto[] = [...(after.get(null) ?? [])];
  for (const n of g.node!) {
    nodes.push(n);
    nodes.push(...(after.get(n) ?? []));
  }
  g.node = nodes;
  const stillUsed = new Set(nodes.flatMap((n) => n.input ?? []));
  g.initializer = [...(g.initializer ?? []).filter((t) => !(dropped.has(t.name!) && !stillUsed.has(t.name!))), ...newInits];
  return { model: m, weights };
}

/** The output-channel axis of a weighted node's weight: Conv [O, I, kh, kw] 0, Gemm transB ? 0 : 1, MatMul 1. */
export function weightAxis(n: NodeProto): number {
  return n.opType === 'Conv' ? 0 : n.opType === 'Gemm' ? (Number(attr(n, 'transB') ?? 0) === 1 ? 0 : 1) : 1;
}

export function isDepthwise(n: NodeProto, dims: number[]): boolean {
  return n.opType === 'Conv' && Number(attr(n, 'group') ?? 1) > 1 && dims[1] === 1;
}

/** Symmetric per-output-channel scales: max |w| of the channel maps to qmax. */
export function weightScales(w: { dims: number[]; data: Float32Array }, axis: number, qmax: number): { maxAbs: Float64Array; scale: Float32Array } {
  const C = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = w.dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const maxAbs = new Float64Array(C);
  for (let o = 0; o < outer; o++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) {
    const v = Math.abs(w.data[(o * C + c) * inner + i]!);
    if (v > maxAbs[c]!) maxAbs[c] = v;
  }
  const scale = new Float32Array(C);
  for (let c = 0; c < C; c++) scale[c] = maxAbs[c]! > 0 ? maxAbs[c]! / qmax : 1;
  return { maxAbs, scale };
}

export function roundNearest(w: { dims: number[]; data: Float32Array }, axis: number, scale: Float32Array, qmax: number): Int8Array {
  const C = w.dims[axis]!;
  const inner = w.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = w.dims.slice(0, axis).reduce((a, d) => a * d, 1);
  const q = new Int8Array(w.data.length);
  for (let o = 0; o < outer; o++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) {
    const k = (o * C + c) * inner + i;
    q[k] = Math.max(-qmax, Math.min(qmax, Math.round(w.data[k]! / scale[c]!)));
  }
  return q;
}
