/**
 * An exact integer reference for the quantized convolutions of a QDQ ONNX model, as onnxruntime computes them
 * once it fuses DequantizeLinear -> Conv -> QuantizeLinear into QLinearConv:
 *   acc = sum (x - zx) * (w - zw) + bias_int32          (exact in int32)
 *   y   = saturate(roundHalfEven(fp32(acc) * M) + zy)    with M = fp32(fp32(sx * sw) / sy) per output channel
 * (onnxruntime/core/providers/cpu/quantization/qlinearconv.cc computes M in float; MLAS requantizes in fp32 and
 * rounds to nearest even on every CPU). Each conv is checked on the real input tensor the runtime fed it, so a
 * whole network is verified layer by layer without re-implementing pooling, softmax or residual adds.
 */
import type { ModelProto, NodeProto, TensorProto } from '../../src/onnx/proto.js';
import { attr, dimsOf, tensorValues } from '../../src/onnx/reader.js';

export interface QConv {
  /** the Conv node's name or output */
  name: string;
  /** quantized input tensor (the first input of the x DequantizeLinear) */
  xName: string;
  /** quantized output tensor (the output of the QuantizeLinear after the Conv) */
  yName: string;
  xScale: number;
  xZero: number;
  xUnsigned: boolean;
  w: Int32Array;
  /** [Cout, Cin/group, kh, kw] */
  wDims: number[];
  wScale: Float32Array;
  wZero: Int32Array;
  bias: Int32Array | null;
  yScale: number;
  yZero: number;
  yUnsigned: boolean;
  group: number;
  strides: [number, number];
  dilations: [number, number];
  /** explicit [top, left, bottom, right], or 'SAME_UPPER' resolved from the input size */
  pads: number[] | 'SAME_UPPER' | 'SAME_LOWER';
}

function scalarOf(t: TensorProto | undefined, what: string): number {
  if (!t) throw new Error(`${what}: not an initializer`);
  const v = tensorValues(t);
  if (v.length !== 1) throw new Error(`${what}: expected a scalar, got ${v.length} values`);
  return Number(v[0]);
}

/** Every DequantizeLinear -> Conv -> QuantizeLinear group whose weights, scales and zero points are initializers. */
export function findQConvs(model: ModelProto): { convs: QConv[]; skipped: string[] } {
  const g = model.graph!;
  const inits = new Map<string, TensorProto>((g.initializer ?? []).map((t) => [t.name ?? '', t]));
  const nodes = g.node ?? [];
  const ins = (n: NodeProto): string[] => n.input ?? [];
  const outs = (n: NodeProto): string[] => n.output ?? [];
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) {
    for (const o of outs(n)) producer.set(o, n);
    for (const i of ins(n)) (consumers.get(i) ?? consumers.set(i, []).get(i)!).push(n);
  }
  const convs: QConv[] = [];
  const skipped: string[] = [];
  for (const n of nodes) {
    if (n.opType !== 'Conv') continue;
    const name = n.name || outs(n)[0]!;
    const dqX = producer.get(ins(n)[0]!);
    const dqW = producer.get(ins(n)[1]!);
    const dqB = ins(n)[2] ? producer.get(ins(n)[2]) : undefined;
    const next = consumers.get(outs(n)[0]!) ?? [];
    const q = next.length === 1 && next[0]!.opType === 'QuantizeLinear' ? next[0]! : undefined;
    if (dqX?.opType !== 'DequantizeLinear' || dqW?.opType !== 'DequantizeLinear' || !q || (ins(n)[2] && dqB?.opType !== 'DequantizeLinear')) {
      skipped.push(`${name}: not a DQ -> Conv -> Q group`);
      continue;
    }
    const wT = inits.get(ins(dqW)[0]!);
    if (!wT) {
      skipped.push(`${name}: weights are not an initializer`);
      continue;
    }
    const wRaw = tensorValues(wT);
    const wScale = Float32Array.from(tensorValues(inits.get(ins(dqW)[1]!)!) as Float32Array);
    const wZeroT = ins(dqW)[2] ? inits.get(ins(dqW)[2]) : undefined;
    const wZero = wZeroT ? Int32Array.from(tensorValues(wZeroT) as Uint8Array, Number) : new Int32Array(wScale.length);
    const yZeroT = ins(q)[2] ? inits.get(ins(q)[2]) : undefined;
    const bias = dqB ? Int32Array.from(tensorValues(inits.get(ins(dqB)[0]!)!) as Int32Array) : null;
    const group = Number(attr(n, 'group') ?? 1);
    const strides = (attr(n, 'strides') as number[] | undefined) ?? [1, 1];
    const dilations = (attr(n, 'dilations') as number[] | undefined) ?? [1, 1];
    const autoPad = attr(n, 'auto_pad') as string | undefined;
    const pads = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' ? autoPad : ((attr(n, 'pads') as number[] | undefined) ?? [0, 0, 0, 0]);
    if (autoPad === 'SAME_LOWER') {
      skipped.push(`${name}: auto_pad SAME_LOWER not implemented in the reference`);
      continue;
    }
    convs.push({
      name,
      xName: ins(dqX)[0]!,
      yName: outs(q)[0]!,
      xScale: scalarOf(inits.get(ins(dqX)[1]!), `${name} x scale`),
      xZero: ins(dqX)[2] ? scalarOf(inits.get(ins(dqX)[2]), `${name} x zero point`) : 0,
      xUnsigned: !ins(dqX)[2] || inits.get(ins(dqX)[2])?.dataType !== 3,
      w: Int32Array.from(wRaw as Uint8Array | Int8Array, Number),
      wDims: dimsOf(wT),
      wScale,
      wZero,
      bias,
      yScale: scalarOf(inits.get(ins(q)[1]!), `${name} y scale`),
      yZero: yZeroT ? scalarOf(yZeroT, `${name} y zero point`) : 0,
      yUnsigned: !yZeroT || yZeroT.dataType === 2,
      group,
      strides: [strides[0]!, strides[1]!],
      dilations: [dilations[0]!, dilations[1]!],
      pads,
    });
  }
  return { convs, skipped };
}

/** fp32 round-half-to-even of an fp32 value, as MLAS does with its magic-number trick / vcvtnq. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Runs one quantized conv exactly. x is NCHW [1, Cin, H, W] (the runtime's quantized input); returns NCHW
 * [1, Cout, Ho, Wo] as the runtime's QuantizeLinear output would hold it.
 */
export function runQConv(c: QConv, x: Uint8Array | Int8Array, xDims: number[]): { y: Int32Array; dims: number[] } {
  const [, cin, h, w] = xDims as [number, number, number, number];
  const [cout, cinPerGroup, kh, kw] = c.wDims as [number, number, number, number];
  if (cinPerGroup * c.group !== cin) throw new Error(`${c.name}: input has ${cin} channels, weights expect ${cinPerGroup * c.group}`);
  const [sh, sw] = c.strides;
  const [dh, dw] = c.dilations;
  let pt: number, pl: number, ho: number, wo: number;
  if (c.pads === 'SAME_UPPER' || c.pads === 'SAME_LOWER') {
    ho = Math.ceil(h / sh);
    wo = Math.ceil(w / sw);
    const ph = Math.max(0, (ho - 1) * sh + (kh - 1) * dh + 1 - h);
    const pw = Math.max(0, (wo - 1) * sw + (kw - 1) * dw + 1 - w);
    pt = Math.floor(ph / 2);
    pl = Math.floor(pw / 2);
  } else {
    const [t, l, b, r] = c.pads as [number, number, number, number];
    pt = t;
    pl = l;
    ho = Math.floor((h + t + b - ((kh - 1) * dh + 1)) / sh) + 1;
    wo = Math.floor((w + l + r - ((kw - 1) * dw + 1)) / sw) + 1;
  }
  const coutPerGroup = cout / c.group;
  const perChannel = c.wScale.length > 1;
  const y = new Int32Array(cout * ho * wo);
  const lo = c.yUnsigned ? 0 : -128;
  const hi = c.yUnsigned ? 255 : 127;
  const xz = c.xZero;
  const xs = new Int32Array(x.length);
  for (let i = 0; i < x.length; i++) xs[i] = x[i]! - xz; // padding then contributes 0, as ORT pads with zx
  for (let oc = 0; oc < cout; oc++) {
    const g = Math.floor(oc / coutPerGroup);
    const wz = c.wZero[perChannel ? oc : 0]!;
    const m = Math.fround(Math.fround(c.xScale * c.wScale[perChannel ? oc : 0]!) / c.yScale);
    const b = c.bias ? c.bias[oc]! : 0;
    const wBase = oc * cinPerGroup * kh * kw;
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let acc = b;
        for (let ic = 0; ic < cinPerGroup; ic++) {
          const xc = (g * cinPerGroup + ic) * h * w;
          const wc = wBase + ic * kh * kw;
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * sh - pt + ky * dh;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * sw - pl + kx * dw;
              if (ix < 0 || ix >= w) continue;
              acc += xs[xc + iy * w + ix]! * (c.w[wc + ky * kw + kx]! - wz);
            }
          }
        }
        const v = roundHalfEven(Math.fround(Math.fround(acc) * m)) + c.yZero;
        y[(oc * ho + oy) * wo + ox] = v < lo ? lo : v > hi ? hi : v;
      }
    }
  }
  return { y, dims: [1, cout, ho, wo] };
}

export interface ConvCheck {
  name: string;
  values: number;
  mismatches: number;
  maxDiff: number;
}

/** Compares the runtime's quantized conv output with the exact reference. */
export function compareConv(c: QConv, x: Uint8Array | Int8Array, xDims: number[], got: Uint8Array | Int8Array, gotDims: number[]): ConvCheck {
  const ref = runQConv(c, x, xDims);
  if (ref.dims.join(',') !== gotDims.join(',')) throw new Error(`${c.name}: runtime output is [${gotDims}], the reference computes [${ref.dims}]`);
  let mismatches = 0;
  let maxDiff = 0;
  for (let i = 0; i < ref.y.length; i++) {
    const d = Math.abs(ref.y[i]! - got[i]!);
    if (d !== 0) {
      mismatches++;
      if (d > maxDiff) maxDiff = d;
    }
  }
  return { name: c.name, values: ref.y.length, mismatches, maxDiff };
}
