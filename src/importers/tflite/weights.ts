import { EdgefitError } from '../../util/errors.js';
import { tensorInts, type TflTensor } from './schema.js';

export type IntWeights = Int8Array | Uint8Array;

/** Constant weights moved from TFLite's layout to ONNX's OIHW, with their per-output-channel parameters. */
export interface ConvWeights {
  data: IntWeights | Float32Array;
  /** ONNX dims [O, I/group, KH, KW] */
  dims: [number, number, number, number];
  /** one entry (per tensor) or O entries (per channel), in output-channel order; empty for float weights */
  scale: number[];
  zeroPoint: number[];
}

function constant(t: TflTensor, what: string): Int8Array | Uint8Array | Int32Array | Float32Array {
  if (!t.data) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${what} (tensor ${t.index}, ${t.name}) is computed at run time; edgefit converts only constant weights`);
  return tensorInts(t);
}

function weightArray(t: TflTensor, what: string): IntWeights | Float32Array {
  const v = constant(t, what);
  if (v instanceof Int32Array) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${what} (tensor ${t.index}, ${t.name}) is int32; expected int8, uint8 or float32 weights`);
  if (!(v instanceof Float32Array) && !t.quant) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${what} (tensor ${t.index}, ${t.name}) is ${t.typeName} without quantization parameters`);
  return v;
}

function channelParams(t: TflTensor, outAxis: number, channels: number, what: string): { scale: number[]; zeroPoint: number[] } {
  if (!t.quant) return { scale: [], zeroPoint: [] };
  const q = t.quant;
  if (q.scale.length === 1) return { scale: q.scale.slice(), zeroPoint: q.zeroPoint.slice() };
  if (q.axis !== outAxis || q.scale.length !== channels) {
    throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${what} (tensor ${t.index}) is quantized per channel along axis ${q.axis}; edgefit expects the output-channel axis ${outAxis}`);
  }
  return { scale: q.scale.slice(), zeroPoint: q.zeroPoint.slice() };
}

function like<T extends IntWeights | Float32Array>(src: T, n: number): T {
  return new (src.constructor as new (n: number) => T)(n);
}

/** CONV_2D filter: TFLite OHWI -> ONNX OIHW. */
export function convWeights(t: TflTensor): ConvWeights {
  if (t.shape.length !== 4) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `CONV_2D filter ${t.name} has rank ${t.shape.length}, expected 4 (OHWI)`);
  const [O, KH, KW, I] = t.shape as [number, number, number, number];
  const src = weightArray(t, 'CONV_2D filter');
  const out = like(src, src.length);
  for (let o = 0; o < O; o++) for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) {
    const s = ((o * KH + h) * KW + w) * I;
    for (let i = 0; i < I; i++) out[((o * I + i) * KH + h) * KW + w] = src[s + i]!;
  }
  return { data: out, dims: [O, I, KH, KW], ...channelParams(t, 0, O, 'CONV_2D filter') };
}

/** DEPTHWISE_CONV_2D filter: TFLite 1HWO (O = Cin * multiplier, channel c*m+k) -> ONNX [O, 1, KH, KW], group Cin. */
export function depthwiseWeights(t: TflTensor): ConvWeights {
  if (t.shape.length !== 4 || t.shape[0] !== 1) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `DEPTHWISE_CONV_2D filter ${t.name} has shape [${t.shape.join(',')}], expected [1,KH,KW,O]`);
  const [, KH, KW, O] = t.shape as [number, number, number, number];
  const src = weightArray(t, 'DEPTHWISE_CONV_2D filter');
  const out = like(src, src.length);
  for (let h = 0; h < KH; h++) for (let w = 0; w < KW; w++) {
    const s = (h * KW + w) * O;
    for (let o = 0; o < O; o++) out[(o * KH + h) * KW + w] = src[s + o]!;
  }
  return { data: out, dims: [O, 1, KH, KW], ...channelParams(t, 3, O, 'DEPTHWISE_CONV_2D filter') };
}

/** FULLY_CONNECTED weights [N, K] become a 1x1 conv filter [N, K, 1, 1] (same memory order). */
export function denseWeights(t: TflTensor): ConvWeights {
  if (t.shape.length !== 2) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `FULLY_CONNECTED weights ${t.name} have rank ${t.shape.length}, expected 2`);
  const [N, K] = t.shape as [number, number];
  const src = weightArray(t, 'FULLY_CONNECTED weights');
  return { data: src, dims: [N, K, 1, 1], ...channelParams(t, 0, N, 'FULLY_CONNECTED weights') };
}

/** Bias values as int32 (quantized models) or float32, checked against the output-channel count. */
export function biasValues(t: TflTensor | undefined, channels: number): { ints?: Int32Array; floats?: Float32Array; scale: number[] } | null {
  if (!t) return null;
  const v = constant(t, 'bias');
  if (v.length !== channels) throw new EdgefitError('E_TFLITE_INVALID', `bias ${t.name} has ${v.length} values for ${channels} output channels`);
  if (v instanceof Int32Array) {
    if (!t.quant) throw new EdgefitError('E_TFLITE_UNSUPPORTED', `int32 bias ${t.name} has no quantization scale`);
    return { ints: v, scale: t.quant.scale };
  }
  if (v instanceof Float32Array) return { floats: v, scale: [] };
  throw new EdgefitError('E_TFLITE_UNSUPPORTED', `bias ${t.name} is ${t.typeName}; expected int32 or float32`);
}

/** Float weights: (q - zp[c]) * scale[c], for the dequantized-float emission. */
export function dequantizeWeights(w: ConvWeights): Float32Array {
  if (w.data instanceof Float32Array) return w.data;
  const O = w.dims[0];
  const per = w.data.length / O;
  const out = new Float32Array(w.data.length);
  for (let o = 0; o < O; o++) {
    const s = w.scale.length === 1 ? w.scale[0]! : w.scale[o]!;
    const z = w.zeroPoint.length === 1 ? w.zeroPoint[0]! : w.zeroPoint[o]!;
    for (let j = o * per, e = j + per; j < e; j++) out[j] = (w.data[j]! - z) * s;
  }
  return out;
}

export type { WeightForm } from '../../types/model.js';

/**
 * The same real values as int8: zero point 0 where every value lies within 127 of the zero point (the kernels'
 * symmetric fast path), otherwise q - 128 with zero point z - 128 (u8s8 with a weight zero point: exact, a little
 * slower). int8 weights are kept as they are.
 */
export function signedExact(w: ConvWeights): ConvWeights {
  if (!(w.data instanceof Uint8Array)) return w;
  const O = w.dims[0];
  const per = w.data.length / O;
  const out = new Int8Array(w.data.length);
  let fits = true;
  for (let o = 0; o < O && fits; o++) {
    const z = w.zeroPoint.length === 1 ? w.zeroPoint[0]! : w.zeroPoint[o]!;
    for (let j = o * per, e = j + per; j < e; j++) {
      const v = w.data[j]! - z;
      if (v < -127 || v > 127) { fits = false; break; }
      out[j] = v;
    }
  }
  if (fits) return { data: out, dims: w.dims, scale: w.scale.slice(), zeroPoint: w.zeroPoint.map(() => 0) };
  for (let j = 0; j < out.length; j++) out[j] = w.data[j]! - 128;
  return { data: out, dims: w.dims, scale: w.scale.slice(), zeroPoint: w.zeroPoint.map((z) => z - 128) };
}

/**
 * Symmetric per-output-channel int8 in [-qmax, qmax] for the same real values, re-rounded; channels whose values
 * already fit keep them exactly (same scale). `changed` counts the weights whose real value moved. `rounded`
 * (same layout) proposes the integer of each re-rounded weight (adaptive rounding); a proposal is taken only
 * when it is the floor or the ceiling of the re-scaled value and within the range, else the nearest is.
 */
export function signedRequant(w: ConvWeights, qmax: number, rounded?: Int8Array): ConvWeights & { changed: number } {
  if (w.data instanceof Float32Array) return { ...w, changed: 0 };
  const O = w.dims[0];
  const per = w.data.length / O;
  const out = new Int8Array(w.data.length);
  const scale = new Array<number>(O);
  let changed = 0;
  for (let o = 0; o < O; o++) {
    const z = w.zeroPoint.length === 1 ? w.zeroPoint[0]! : w.zeroPoint[o]!;
    const s = w.scale.length === 1 ? w.scale[0]! : w.scale[o]!;
    let m = 0;
    for (let j = o * per, e = j + per; j < e; j++) m = Math.max(m, Math.abs(w.data[j]! - z));
    if (m <= qmax) {
      for (let j = o * per, e = j + per; j < e; j++) out[j] = w.data[j]! - z;
      scale[o] = s;
      continue;
    }
    const k = qmax / m;
    scale[o] = (s * m) / qmax;
    for (let j = o * per, e = j + per; j < e; j++) {
      const v = w.data[j]! - z;
      const p = rounded && rounded.length === w.data.length ? rounded[j]! : undefined;
      const q = p !== undefined && Math.abs(p) <= qmax && Math.abs(p - v * k) < 1 ? p : Math.round(v * k);
      out[j] = q;
      if (q / k !== v) changed++;
    }
  }
  return { data: out, dims: w.dims, scale, zeroPoint: scale.map(() => 0), changed };
}
