import { OnnxBuilder } from '../../onnx/builder.js';
import { onnx, DataType, type DataTypeValue } from '../../onnx/proto.js';
import { EdgefitError } from '../../util/errors.js';
import Long from 'long';
import {
  Op, TensorType, convOptions, poolOptions, activationOption, fullyConnectedOptions, softmaxBeta, reducerKeepDims, tensorInts, concatOptions,
  type TflModel, type TflOperator, type TflTensor, type FusedActivation,
} from './schema.js';
import { convWeights, depthwiseWeights, denseWeights, biasValues, dequantizeWeights, signedExact, signedRequant, type ConvWeights, type WeightForm } from './weights.js';
import type { RequantScope } from '../../types/model.js';

/**
 * How quantized TFLite ops become ONNX:
 * - 'qdq': float ops between DequantizeLinear/QuantizeLinear pairs holding the model's own integers; onnxruntime
 *   fuses each DQ-op-Q group back into an integer kernel.
 * - 'qlinear': integer operators directly (QLinearConv; QLinearAdd and QLinearGlobalAveragePool from com.microsoft).
 * - 'float': the same model with weights dequantized to float32 and float activations (a fidelity reference).
 */
export type EmitMode = 'qdq' | 'qlinear' | 'float';

export interface EmitResult {
  bytes: Uint8Array;
  anyResolution: boolean;
  input: { height: number; width: number; channels: number };
  /** classifiers: the scores; detectors: `classes` is the class-score columns of `raw` (background included) */
  output: { classes: number; dtype: 'uint8' | 'int8' | 'float32'; scale?: number; zeroPoint?: number; softmax: boolean };
  /** each integer conv's input: its ONNX tensor (NCHW), type and quantization, by the conv's name prefix */
  convInputs: ConvInput[];
}

export interface ConvInput { prefix: string; tensor: string; dtype: 'uint8' | 'int8'; scale: number; zp: number; channels: number }

/** The graph output of a detector (src/types/detection.ts): box encodings and class scores per anchor, float32. */
export const DETECTION_OUTPUT = 'raw';

/** A converted tensor. 4-D tensors are kept NCHW inside the ONNX graph. */
interface Val {
  name: string;
  /** integer tensor with (scale, zp), or float */
  dtype: 'uint8' | 'int8' | 'float32';
  scale: number;
  zp: number;
  rank: number;
  /** H = W = 1 whatever the input resolution (after a global pool, or statically 1x1) */
  spatial1: boolean;
  /** spatial dims follow the (symbolic) input resolution */
  symbolic: boolean;
  f?: string;
}

/** Raised inside the emitter when an op needs static spatial dims; the caller then re-emits at fixed resolution. */
class NeedsFixedResolution extends Error {}

const QRANGE = { uint8: [0, 255], int8: [-128, 127] } as const;

export interface EmitOptions {
  /** QDQ only: store int8 weights as uint8 with zero point + 128 (default true; see weightInputs) */
  uint8Weights?: boolean;
  /**
   * QDQ only, overrides `uint8Weights`: how integer weights are stored (see WeightForm); with either int8 form
   * int8 activations become uint8 (exactly).
   */
  weightForm?: WeightForm;
  /** 's8-requant': the symmetric range [-qmax, qmax] (127, or 63 where the CPU's u8s8 kernels saturate) */
  requantQmax?: number;
  /** 's8-requant': re-round every conv's weights ('all', default) or only depthwise ones (the rest as 's8-exact') */
  requantScope?: RequantScope;
  /**
   * 's8-requant': the mean of each input channel (real values) of each conv, by prefix (EmitResult.convInputs),
   * measured on frames: re-rounding the weights shifts each output's mean by sum((w' - w) * E[x]), which the
   * bias takes back (bias correction, as src/quant does for its own PTQ)
   */
  inputMeans?: Map<string, Float64Array>;
  /**
   * 's8-requant': integers for the re-rounded channels of each conv, by prefix, in the weights' layout (adaptive
   * rounding against the layer's inputs on frames, src/catalog/requant-rounding.ts); each is used only where it is
   * the floor or the ceiling of the re-scaled value, otherwise nearest rounding
   */
  requantRounding?: ReadonlyMap<string, Int8Array>;
  /**
   * A detector: this TFLite_Detection_PostProcess operator is not emitted; its box encodings and class scores
   * become the one float output `raw` [1, anchors, 4 + classes] (the post-process runs in src/detect).
   */
  detectionOp?: TflOperator;
}

export function emitOnnx(m: TflModel, mode: EmitMode, graphName: string, opts: EmitOptions = {}): EmitResult {
  const form: WeightForm | 'file' = mode !== 'qdq' ? 'file' : opts.weightForm ?? ((opts.uint8Weights ?? true) ? 'u8' : 'file');
  const qmax = opts.requantQmax ?? 127;
  if (!(Number.isInteger(qmax) && qmax >= 1 && qmax <= 127)) throw new EdgefitError('E_OPTIONS', `requantQmax must be an integer in 1..127, got ${qmax}`);
  try {
    return new Emitter(m, mode, graphName, true, form, qmax, opts.requantScope ?? 'all', { means: opts.inputMeans, rounding: opts.requantRounding }, opts.detectionOp).run();
  } catch (err) {
    if (err instanceof NeedsFixedResolution) return new Emitter(m, mode, graphName, false, form, qmax, opts.requantScope ?? 'all', { means: opts.inputMeans, rounding: opts.requantRounding }, opts.detectionOp).run();
    throw err;
  }
}

class Emitter {
  private b: OnnxBuilder;
  private vals = new Map<number, Val>();
  private usesMsDomain = false;
  private usedGlobalPool = false;
  private convInputs: ConvInput[] = [];

  constructor(private m: TflModel, private mode: EmitMode, graphName: string, private anyRes: boolean, private weightForm: WeightForm | 'file', private qmax: number, private requantScope: RequantScope, private requant: { means?: Map<string, Float64Array> | undefined; rounding?: ReadonlyMap<string, Int8Array> | undefined }, private detection?: TflOperator) {
    this.b = new OnnxBuilder(graphName, 13);
  }

  run(): EmitResult {
    const { m, b } = this;
    if (m.inputs.length !== 1) throw unsupported(`the model has ${m.inputs.length} inputs; edgefit imports single-input image models`);
    if (!this.detection && m.outputs.length !== 1) throw unsupported(`the model has ${m.outputs.length} outputs; edgefit imports single-output image classifiers and SSD detectors that end in TFLite_Detection_PostProcess`);
    const input = this.emitInput(m.tensors[m.inputs[0]!]!);
    this.vals.set(m.inputs[0]!, input.val);
    for (const op of m.operators) if (op !== this.detection) this.emitOp(op);
    if (this.detection) return this.finishDetection(this.detection, input);

    const outT = m.tensors[m.outputs[0]!]!;
    let out = this.val(outT.index, 'graph output');
    if (out.rank === 4) {
      if (!out.spatial1) throw unsupported(`the output ${outT.name} is a feature map [${outT.shape.join(',')}]; edgefit imports classifiers with a [1, classes] output`);
      out = { ...out, name: b.op('Flatten', [out.name], { axis: 1 }), rank: 2 };
    }
    if (out.symbolic) throw new NeedsFixedResolution();
    const classes = outT.shape[outT.shape.length - 1]!;
    if (!(classes > 0)) throw unsupported(`the output ${outT.name} has shape [${outT.shape.join(',')}]`);
    const final = b.op('Identity', [out.name], {}, 'output', 'scores');
    b.output(final, elemType(out.dtype), [1, classes]);
    const lastOp = m.operators[m.operators.length - 1];
    const softmax = m.operators.some((o) => o.code === Op.SOFTMAX && o.outputs[0] !== undefined)
      && (lastOp?.code === Op.SOFTMAX || lastOp?.code === Op.QUANTIZE || lastOp?.code === Op.DEQUANTIZE || lastOp?.code === Op.RESHAPE);
    const output = out.dtype === 'float32'
      ? { classes, dtype: out.dtype, softmax }
      : { classes, dtype: out.dtype, scale: out.scale, zeroPoint: out.zp, softmax };
    b.metadata['edgefit.source'] = 'tflite';
    b.metadata['edgefit.emit'] = this.mode;
    if (output.scale !== undefined) {
      b.metadata['edgefit.output.scale'] = String(output.scale);
      b.metadata['edgefit.output.zero_point'] = String(output.zeroPoint);
    }
    const anyResolution = this.anyRes && this.usedGlobalPool;
    const model = b.toModel();
    if (this.usesMsDomain) model.opsetImport!.push({ domain: 'com.microsoft', version: Long.fromNumber(1) });
    if (!anyResolution && this.anyRes) {
      // No global pool made the graph resolution-independent: pin the input to the file's own size.
      const dims = model.graph!.input![0]!.type!.tensorType!.shape!.dim!;
      dims[1] = { dimValue: Long.fromNumber(input.height) };
      dims[2] = { dimValue: Long.fromNumber(input.width) };
    }
    return {
      bytes: onnx.ModelProto.encode(model).finish(),
      anyResolution,
      input: { height: input.height, width: input.width, channels: 3 },
      output,
      convInputs: this.convInputs,
    };
  }

  /** A detector's output: DequantizeLinear of the box encodings and the class scores, concatenated per anchor. */
  private finishDetection(post: TflOperator, input: { height: number; width: number }): EmitResult {
    const { m, b } = this;
    const where = `operator ${post.index} (${post.customCode})`;
    const boxes = this.val(post.inputs[0]!, where);
    const scores = this.val(post.inputs[1]!, where);
    const [boxT, scoreT] = [m.tensors[post.inputs[0]!]!, m.tensors[post.inputs[1]!]!];
    if (boxes.rank !== 3 || scores.rank !== 3) throw unsupported(`${where} takes box encodings of rank ${boxes.rank} and scores of rank ${scores.rank}; edgefit converts [1, anchors, 4] and [1, anchors, classes]`);
    const anchors = boxT.shape[1]!;
    const columns = scoreT.shape[2]!;
    const raw = b.op('Concat', [this.dq(boxes), this.dq(scores)], { axis: 2 }, 'raw', DETECTION_OUTPUT);
    b.output(raw, DataType.FLOAT, [1, this.anyRes ? 'anchors' : anchors, 4 + columns]);
    b.metadata['edgefit.source'] = 'tflite';
    b.metadata['edgefit.emit'] = this.mode;
    b.metadata['edgefit.task'] = 'detection';
    const model = b.toModel();
    if (this.usesMsDomain) model.opsetImport!.push({ domain: 'com.microsoft', version: Long.fromNumber(1) });
    return {
      bytes: onnx.ModelProto.encode(model).finish(),
      anyResolution: this.anyRes,
      input: { height: input.height, width: input.width, channels: 3 },
      output: { classes: columns, dtype: 'float32', softmax: false },
      convInputs: this.convInputs,
    };
  }

  // ---- values ----------------------------------------------------------------------------------------------

  private val(index: number, what: string): Val {
    const v = this.vals.get(index);
    if (v) return v;
    const t = this.m.tensors[index];
    if (t?.data) throw unsupported(`${what}: tensor ${index} (${t.name}) is a constant where edgefit expects an activation`);
    throw invalid(`${what}: tensor ${index} is used before any operator produces it`);
  }

  private scalar(name: string, value: number, dtype: 'float32' | 'uint8' | 'int8' | 'int32'): string {
    const data = dtype === 'float32' ? new Float32Array([value]) : dtype === 'uint8' ? new Uint8Array([value]) : dtype === 'int8' ? new Int8Array([value]) : new Int32Array([value]);
    return this.b.initializer(name, [], data);
  }

  /** Float view of a value (a DequantizeLinear, made once). */
  private dq(v: Val): string {
    if (v.dtype === 'float32') return v.name;
    if (!v.f) {
      v.f = this.b.op('DequantizeLinear', [v.name, this.scalar(`${v.name}_scale`, v.scale, 'float32'), this.scalar(`${v.name}_zp`, v.zp, v.dtype)]);
    }
    return v.f;
  }

  private quantParams(t: TflTensor, what: string): { dtype: 'uint8' | 'int8'; scale: number; zp: number } {
    const dtype = t.type === TensorType.UINT8 ? 'uint8' : t.type === TensorType.INT8 ? 'int8' : null;
    if (!dtype) throw unsupported(`${what}: tensor ${t.index} (${t.name}) is ${t.typeName}; activations must be uint8, int8 or float32`);
    if (!t.quant || t.quant.scale.length !== 1) throw unsupported(`${what}: tensor ${t.index} (${t.name}) needs one scale and zero point (per-tensor) quantization`);
    const zp = t.quant.zeroPoint[0]!;
    const [lo, hi] = QRANGE[dtype];
    if (zp < lo || zp > hi) throw invalid(`${what}: tensor ${t.index} (${t.name}) has zero point ${zp} outside ${dtype}`);
    // With int8 weights every activation is uint8 (q + 128, zero point + 128: the same values, exactly), which
    // makes onnxruntime fuse u8s8 QLinearConv; an int8 activation would leave s8s8 convs, slower on x64 (measured).
    if (dtype === 'int8' && (this.weightForm === 's8-exact' || this.weightForm === 's8-requant')) return { dtype: 'uint8', scale: t.quant.scale[0]!, zp: zp + 128 };
    return { dtype, scale: t.quant.scale[0]!, zp };
  }

  /** The quantized tensor for TFLite tensor `t` from a float value (QuantizeLinear), or the float value itself. */
  private fromFloat(f: string, t: TflTensor, shapeOf: Val, what: string): Val {
    const base = { rank: t.shape.length, spatial1: shapeOf.spatial1, symbolic: shapeOf.symbolic };
    if (this.mode === 'float' || t.type === TensorType.FLOAT32) return { name: f, dtype: 'float32', scale: 1, zp: 0, ...base };
    const q = this.quantParams(t, what);
    const name = this.b.op('QuantizeLinear', [f, this.scalar(`${t.name}_scale`, q.scale, 'float32'), this.scalar(`${t.name}_zp`, q.zp, q.dtype)]);
    return { name, ...q, ...base };
  }

  // ---- input -----------------------------------------------------------------------------------------------

  private emitInput(t: TflTensor): { val: Val; height: number; width: number } {
    const [n, h, w, c] = t.shape;
    if (t.shape.length !== 4 || n !== 1 || c !== 3 || !(h! > 0) || !(w! > 0)) {
      throw unsupported(`the input ${t.name} has shape [${t.shape.join(',')}]; edgefit imports image models with a [1, H, W, 3] input`);
    }
    if (!t.quant || (t.type !== TensorType.UINT8 && t.type !== TensorType.INT8)) {
      throw unsupported(`the input ${t.name} is ${t.typeName} without quantization; edgefit imports quantized models whose input scale and zero point say how pixels map to values (convert with integer input)`);
    }
    const q = this.quantParams(t, 'model input');
    const b = this.b;
    const x = b.input('input', DataType.UINT8, [1, this.anyRes ? 'H' : h!, this.anyRes ? 'W' : w!, 3]);
    const nchw = b.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'input_nchw');
    const base = { rank: 4, spatial1: h === 1 && w === 1, symbolic: this.anyRes };
    // Camera pixels are uint8. An int8 input q = p - 128 with zero point z is the uint8 pixel with zero point z + 128.
    const pixelZp = q.dtype === 'int8' ? q.zp + 128 : q.zp;
    if (q.dtype === 'uint8' && this.mode !== 'float') return { val: { name: nchw, ...q, ...base }, height: h!, width: w! };
    const f = b.op('DequantizeLinear', [nchw, this.scalar('input_scale', q.scale, 'float32'), this.scalar('input_pixel_zp', pixelZp, 'uint8')]);
    if (this.mode === 'float') return { val: { name: f, dtype: 'float32', scale: 1, zp: 0, ...base }, height: h!, width: w! };
    const s8 = b.op('QuantizeLinear', [f, this.scalar('input_scale', q.scale, 'float32'), this.scalar('input_zp', q.zp, 'int8')], {}, 'input_int8');
    return { val: { name: s8, ...q, ...base }, height: h!, width: w! };
  }

  // ---- operators -------------------------------------------------------------------------------------------

  private emitOp(op: TflOperator): void {
    const where = `operator ${op.index} (${op.name})`;
    if (op.outputs.length !== 1) throw unsupported(`${where} has ${op.outputs.length} outputs`);
    const outT = this.m.tensors[op.outputs[0]!]!;
    let v: Val;
    switch (op.code) {
      case Op.CONV_2D:
      case Op.DEPTHWISE_CONV_2D: v = this.conv(op, outT, where); break;
      case Op.FULLY_CONNECTED: v = this.dense(op, outT, where); break;
      case Op.AVERAGE_POOL_2D: v = this.avgPool(op, outT, where); break;
      case Op.MEAN: v = this.mean(op, outT, where); break;
      case Op.ADD: v = this.add(op, outT, where); break;
      case Op.RESHAPE: v = this.reshape(op, outT, where); break;
      case Op.SOFTMAX: v = this.softmax(op, outT, where); break;
      case Op.CONCATENATION: v = this.concat(op, outT, where); break;
      case Op.LOGISTIC: {
        const x = this.val(op.inputs[0]!, where);
        v = this.fromFloat(this.b.op('Sigmoid', [this.dq(x)]), outT, x, where);
        break;
      }
      case Op.QUANTIZE: {
        const x = this.val(op.inputs[0]!, where);
        v = this.mode === 'float' ? x : this.fromFloat(this.dq(x), outT, x, where);
        break;
      }
      case Op.DEQUANTIZE: {
        const x = this.val(op.inputs[0]!, where);
        v = { ...x, name: this.dq(x), dtype: 'float32', scale: 1, zp: 0, f: undefined };
        break;
      }
      default:
        throw unsupported(`${where} is not supported${op.code === Op.CUSTOM && op.customCode ? ` (custom op "${op.customCode}")` : ''}; edgefit converts CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MEAN, ADD, RESHAPE, CONCATENATION, LOGISTIC, SOFTMAX, FULLY_CONNECTED, QUANTIZE, DEQUANTIZE and the custom op TFLite_Detection_PostProcess`);
    }
    this.vals.set(outT.index, v);
  }

  /** Applies a fused activation: in float, Relu/Clip; on integers, a Clip only when the output range does not imply it. */
  private activation(act: FusedActivation, where: string): FusedActivation {
    if (act === 'none' || act === 'relu' || act === 'relu6' || act === 'relu_n1_to_1') return act;
    throw unsupported(`${where} has fused activation ${act.toUpperCase()}; edgefit converts NONE, RELU, RELU_N1_TO_1 and RELU6`);
  }

  private floatAct(f: string, act: FusedActivation): string {
    if (act === 'none') return f;
    if (act === 'relu') return this.b.op('Relu', [f]);
    const [lo, hi] = act === 'relu6' ? [0, 6] : [-1, 1];
    return this.b.op('Clip', [f, this.scalar('clip_lo', lo, 'float32'), this.scalar('clip_hi', hi, 'float32')]);
  }

  /** TFLite's CalculateActivationRangeQuantized: the integer clamp a fused activation means at this output scale. */
  private intRange(act: FusedActivation, dtype: 'uint8' | 'int8', scale: number, zp: number): [number, number] {
    const [qmin, qmax] = QRANGE[dtype];
    const q = (x: number) => zp + Math.round(x / scale);
    if (act === 'relu') return [Math.max(qmin, q(0)), qmax];
    if (act === 'relu6') return [Math.max(qmin, q(0)), Math.min(qmax, q(6))];
    if (act === 'relu_n1_to_1') return [Math.max(qmin, q(-1)), Math.min(qmax, q(1))];
    return [qmin, qmax];
  }

  /** Float op output -> activation -> quantized output tensor (or float in float mode). */
  private finishFloat(f: string, act: FusedActivation, outT: TflTensor, shapeOf: Val, where: string): Val {
    if (this.mode !== 'float' && outT.type !== TensorType.FLOAT32) {
      const q = this.quantParams(outT, where);
      const [lo, hi] = this.intRange(act, q.dtype, q.scale, q.zp);
      const [qmin, qmax] = QRANGE[q.dtype];
      // The output quantization already clamps to [qmin, qmax]; a float activation is only needed when it cuts more.
      if (lo === qmin && hi === qmax) act = 'none';
    } else if (this.mode === 'float' && act === 'none' && outT.quant?.scale.length === 1 && (outT.type === TensorType.UINT8 || outT.type === TensorType.INT8)) {
      // Some converters (TOCO for the Edge TPU, e.g. the Coral SSD) drop the fused RELU6 and leave it to the output
      // range [0, 6]: the quantized model clamps there, so the float twin must too, or it loses its activations.
      const q = this.quantParams(outT, where);
      const [qmin, qmax] = QRANGE[q.dtype];
      if (q.zp === qmin) return this.fromFloat(this.b.op('Clip', [f, this.scalar('clip_lo', 0, 'float32'), this.scalar('clip_range_hi', (qmax - qmin) * q.scale, 'float32')]), outT, shapeOf, where);
    }
    return this.fromFloat(this.floatAct(f, act), outT, shapeOf, where);
  }

  /** Integer-op output -> Clip when the fused activation cuts inside the integer range. */
  private finishInt(name: string, act: FusedActivation, q: { dtype: 'uint8' | 'int8'; scale: number; zp: number }, shapeOf: Val, rank: number): Val {
    const [lo, hi] = this.intRange(act, q.dtype, q.scale, q.zp);
    const [qmin, qmax] = QRANGE[q.dtype];
    if (lo !== qmin || hi !== qmax) name = this.b.op('Clip', [name, this.scalar('clip_lo', lo, q.dtype), this.scalar('clip_hi', hi, q.dtype)]);
    return { name, ...q, rank, spatial1: shapeOf.spatial1, symbolic: shapeOf.symbolic };
  }

  /** `scalarZp`: QLinearConv takes one filter zero point when all channels share it (DequantizeLinear per axis needs a vector). */
  private weightInputs(w: ConvWeights, prefix: string, scalarZp: boolean, depthwise = false, group = 1): { q: string; scale: string; zp: string; perChannel: boolean; w: ConvWeights; corr?: Float64Array } {
    const b = this.b;
    let corr: Float64Array | undefined;
    if (this.weightForm === 's8-exact') {
      w = signedExact(w);
    } else if (this.weightForm === 's8-requant') {
      // depthwise convs gain most from symmetric weights (onnxruntime's fast depthwise kernel wants zero point 0)
      if (this.requantScope === 'depthwise' && !depthwise) w = signedExact(w);
      else {
        const r = signedRequant(w, this.qmax, this.requant.rounding?.get(prefix));
        const means = this.requant.means?.get(prefix);
        if (means && r.changed > 0) corr = biasShift(w, r, means, group);
        w = r;
      }
    } else if (this.weightForm === 'u8' && w.data instanceof Int8Array) {
      // Same real values, as uint8 (w + 128, zp + 128): onnxruntime then picks its u8u8 kernels, exact on every
      // CPU, where its x64 u8s8 kernels without VNNI saturate int16 sums with full-range int8 weights
      // (/work/shared/notes/arm64-emulation.md; measured here on the TF2 PTQ MobileNet-v2: top-1 changed).
      w = { ...w, data: Uint8Array.from(w.data, (x) => x + 128), zeroPoint: w.zeroPoint.map((z) => z + 128) };
    }
    const wq = b.initializer(`${prefix}_w`, w.dims, w.data);
    const perChannel = w.scale.length > 1;
    const dt = w.data instanceof Int8Array ? 'int8' : 'uint8';
    const scale = perChannel ? b.initializer(`${prefix}_w_scale`, [w.scale.length], Float32Array.from(w.scale)) : this.scalar(`${prefix}_w_scale`, w.scale[0]!, 'float32');
    const zpArr = dt === 'int8' ? Int8Array.from(w.zeroPoint) : Uint8Array.from(w.zeroPoint);
    const zp = perChannel && !(scalarZp && w.zeroPoint.every((z) => z === w.zeroPoint[0])) ? b.initializer(`${prefix}_w_zp`, [w.zeroPoint.length], zpArr) : this.scalar(`${prefix}_w_zp`, w.zeroPoint[0]!, dt);
    return { q: wq, scale, zp, perChannel, w, ...(corr ? { corr } : {}) };
  }

  /** int32 bias re-expressed at scale x_scale * w_scale[c], the scale integer conv kernels add it at. */
  private intBias(bias: ReturnType<typeof biasValues>, xScale: number, w: ConvWeights, corr?: Float64Array): { data: Int32Array; scale: Float32Array } | null {
    if (!bias && !corr) return null;
    const O = w.dims[0];
    const data = new Int32Array(O);
    const scale = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      scale[o] = xScale * (w.scale.length === 1 ? w.scale[0]! : w.scale[o]!);
      const real = !bias ? 0 : bias.ints ? bias.ints[o]! * (bias.scale.length === 1 ? bias.scale[0]! : bias.scale[o]!) : bias.floats![o]!;
      if (corr) { data[o] = Math.round((real - corr[o]!) / scale[o]!); continue; }
      // TFLite's bias scale is this product already; re-rounding only matters if a converter wrote it otherwise.
      data[o] = bias!.ints && Math.abs(real / scale[o]! - bias!.ints[o]!) < 0.5 ? bias!.ints[o]! : Math.round(real / scale[o]!);
    }
    return { data, scale };
  }

  /** Conv core shared by CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (as a 1x1 conv). */
  private convCore(x: Val, w: ConvWeights, bias: ReturnType<typeof biasValues>, attrs: Record<string, number | number[] | string>, act: FusedActivation, outT: TflTensor, shapeOf: Val, where: string, prefix: string): Val {
    const b = this.b;
    const floatWeights = w.data instanceof Float32Array;
    if (this.mode === 'float' || floatWeights || x.dtype === 'float32' || outT.type === TensorType.FLOAT32) {
      const wf = b.initializer(`${prefix}_wf`, w.dims, dequantizeWeights(w));
      const inputs = [this.dq(x), wf];
      if (bias) {
        const bf = new Float32Array(w.dims[0]);
        for (let o = 0; o < bf.length; o++) bf[o] = bias.floats ? bias.floats[o]! : bias.ints![o]! * (bias.scale.length === 1 ? bias.scale[0]! : bias.scale[o]!);
        inputs.push(b.initializer(`${prefix}_bf`, [bf.length], bf));
      }
      return this.finishFloat(b.op('Conv', inputs, attrs, prefix), act, outT, shapeOf, where);
    }
    const group = Number(attrs['group'] ?? 1);
    this.convInputs.push({ prefix, tensor: x.name, dtype: x.dtype, scale: x.scale, zp: x.zp, channels: w.dims[1] * group });
    const wi = this.weightInputs(w, prefix, this.mode === 'qlinear', group > 1, group);
    // the bias is re-expressed at the stored weights' scales (a requantized form has its own)
    const ib = this.intBias(bias, x.scale, wi.w, wi.corr);
    const q = this.quantParams(outT, where);
    if (this.mode === 'qdq') {
      const wf = b.op('DequantizeLinear', [wi.q, wi.scale, wi.zp], wi.perChannel ? { axis: 0 } : {});
      const inputs = [this.dq(x), wf];
      if (ib) {
        const bq = b.initializer(`${prefix}_b`, [ib.data.length], ib.data);
        const perChannel = wi.w.scale.length > 1;
        const bs = perChannel ? b.initializer(`${prefix}_b_scale`, [ib.scale.length], ib.scale) : this.scalar(`${prefix}_b_scale`, ib.scale[0]!, 'float32');
        const bz = perChannel ? b.initializer(`${prefix}_b_zp`, [ib.scale.length], new Int32Array(ib.scale.length)) : this.scalar(`${prefix}_b_zp`, 0, 'int32');
        inputs.push(b.op('DequantizeLinear', [bq, bs, bz], perChannel ? { axis: 0 } : {}));
      }
      return this.finishFloat(b.op('Conv', inputs, attrs, prefix), act, outT, shapeOf, where);
    }
    const inputs = [
      x.name, this.scalar(`${prefix}_x_scale`, x.scale, 'float32'), this.scalar(`${prefix}_x_zp`, x.zp, x.dtype),
      wi.q, wi.scale, wi.zp,
      this.scalar(`${prefix}_y_scale`, q.scale, 'float32'), this.scalar(`${prefix}_y_zp`, q.zp, q.dtype),
    ];
    if (ib) inputs.push(b.initializer(`${prefix}_b`, [ib.data.length], ib.data));
    return this.finishInt(b.op('QLinearConv', inputs, attrs, prefix), act, q, shapeOf, 4);
  }

  private spatialAttrs(x: Val, inT: TflTensor, kh: number, kw: number, sh: number, sw: number, dh: number, dw: number, padding: 'same' | 'valid'): Record<string, number[] | string> {
    if (!(sh > 0 && sw > 0 && dh > 0 && dw > 0 && kh > 0 && kw > 0)) throw invalid(`stride ${sh}x${sw}, dilation ${dh}x${dw}, kernel ${kh}x${kw} must be positive`);
    const attrs: Record<string, number[] | string> = { kernel_shape: [kh, kw], strides: [sh, sw] };
    if (dh !== 1 || dw !== 1) attrs.dilations = [dh, dw];
    if (padding === 'valid') return { ...attrs, pads: [0, 0, 0, 0] };
    if (x.symbolic) return { ...attrs, auto_pad: 'SAME_UPPER' }; // TFLite SAME = ONNX SAME_UPPER: odd padding goes bottom/right
    const pad = (n: number, k: number, s: number, d: number) => Math.max(0, (Math.ceil(n / s) - 1) * s + (k - 1) * d + 1 - n);
    const ph = pad(inT.shape[1]!, kh, sh, dh);
    const pw = pad(inT.shape[2]!, kw, sw, dw);
    return { ...attrs, pads: [Math.floor(ph / 2), Math.floor(pw / 2), ph - Math.floor(ph / 2), pw - Math.floor(pw / 2)] };
  }

  private conv(op: TflOperator, outT: TflTensor, where: string): Val {
    const x = this.val(op.inputs[0]!, where);
    const inT = this.m.tensors[op.inputs[0]!]!;
    const wT = this.m.tensors[op.inputs[1] ?? -1];
    if (!wT || x.rank !== 4 || inT.shape.length !== 4) throw invalid(`${where} needs a 4-D input and a filter`);
    const o = convOptions(this.m, op);
    const act = this.activation(o.activation, where);
    const dw = op.code === Op.DEPTHWISE_CONV_2D;
    const w = dw ? depthwiseWeights(wT) : convWeights(wT);
    const cin = inT.shape[3]!;
    if (dw) {
      if (w.dims[0] % cin !== 0) throw invalid(`${where}: ${w.dims[0]} depthwise outputs are not a multiple of ${cin} input channels`);
    } else if (w.dims[1] !== cin) {
      throw invalid(`${where}: filter expects ${w.dims[1]} input channels, input has ${cin}`);
    }
    const bias = biasValues(op.inputs[2] !== undefined && op.inputs[2] >= 0 ? this.m.tensors[op.inputs[2]] : undefined, w.dims[0]);
    const attrs: Record<string, number | number[] | string> = this.spatialAttrs(x, inT, w.dims[2], w.dims[3], o.strideH, o.strideW, o.dilationH, o.dilationW, o.padding);
    if (dw) attrs.group = cin;
    const spatial1 = x.spatial1 && (o.padding === 'same' || (w.dims[2] === 1 && w.dims[3] === 1));
    return this.convCore(x, w, bias, attrs, act, outT, { ...x, spatial1 }, where, dw ? `dwconv${op.index}` : `conv${op.index}`);
  }

  /** A 4-D value as [N, K] in TFLite's NHWC flattening order. */
  private flatten(x: Val, inT: TflTensor, k: number, where: string): Val {
    if (x.rank === 2) return x;
    if (x.rank !== 4) throw unsupported(`${where}: input of rank ${x.rank}`);
    const b = this.b;
    if (x.spatial1) return { ...x, name: b.op('Flatten', [x.name], { axis: 1 }), rank: 2, f: undefined };
    if (x.symbolic) throw new NeedsFixedResolution();
    const nhwc = b.op('Transpose', [x.name], { perm: [0, 2, 3, 1] });
    const shape = b.initializer('shape', [2], new BigInt64Array([-1n, BigInt(k)]));
    void inT;
    return { ...x, name: b.op('Reshape', [nhwc, shape]), rank: 2, spatial1: false, f: undefined };
  }

  private dense(op: TflOperator, outT: TflTensor, where: string): Val {
    const inT = this.m.tensors[op.inputs[0]!]!;
    const wT = this.m.tensors[op.inputs[1] ?? -1];
    if (!wT) throw invalid(`${where} has no weights`);
    const o = fullyConnectedOptions(this.m, op);
    if (o.weightsFormat !== 0) throw unsupported(`${where} uses shuffled weights format ${o.weightsFormat}`);
    const act = this.activation(o.activation, where);
    const w = denseWeights(wT);
    const [n, k] = [w.dims[0], w.dims[1]];
    const x = this.flatten(this.val(op.inputs[0]!, where), inT, k, where);
    const bias = biasValues(op.inputs[2] !== undefined && op.inputs[2] >= 0 ? this.m.tensors[op.inputs[2]] : undefined, n);
    const b = this.b;
    // [N, K] -> [N, K, 1, 1] so the dense layer is a 1x1 conv: one integer kernel and per-channel scales for free
    const x4 = { ...x, name: b.op('Unsqueeze', [x.name, b.initializer('axes', [2], new BigInt64Array([2n, 3n]))]), rank: 4, f: undefined };
    const y = this.convCore(x4, w, bias, { kernel_shape: [1, 1] }, act, outT, { ...x, spatial1: true, symbolic: false }, where, `fc${op.index}`);
    return { ...y, name: b.op('Flatten', [y.name], { axis: 1 }), rank: 2, f: undefined };
  }

  private globalPool(x: Val, outT: TflTensor, act: FusedActivation, where: string): Val {
    const b = this.b;
    this.usedGlobalPool = true;
    const shape = { ...x, spatial1: true, symbolic: false };
    if (this.mode === 'qlinear' && x.dtype !== 'float32' && outT.type !== TensorType.FLOAT32) {
      const q = this.quantParams(outT, where);
      if (q.dtype !== x.dtype) return this.finishFloat(b.op('GlobalAveragePool', [this.dq(x)]), act, outT, shape, where);
      this.usesMsDomain = true;
      const name = b.node('QLinearGlobalAveragePool', [
        x.name, this.scalar('gap_x_scale', x.scale, 'float32'), this.scalar('gap_x_zp', x.zp, x.dtype),
        this.scalar('gap_y_scale', q.scale, 'float32'), this.scalar('gap_y_zp', q.zp, q.dtype),
      ], 1, { channels_last: 0 }, 'QLinearGlobalAveragePool', 'com.microsoft')[0]!;
      return this.finishInt(name, act, q, shape, 4);
    }
    return this.finishFloat(b.op('GlobalAveragePool', [this.dq(x)]), act, outT, shape, where);
  }

  private avgPool(op: TflOperator, outT: TflTensor, where: string): Val {
    const x = this.val(op.inputs[0]!, where);
    const inT = this.m.tensors[op.inputs[0]!]!;
    if (x.rank !== 4) throw invalid(`${where} needs a 4-D input`);
    const o = poolOptions(this.m, op);
    const act = this.activation(o.activation, where);
    const [, h, w] = inT.shape;
    const [, oh, ow] = outT.shape;
    // A window over the whole feature map is a global pool: written as GlobalAveragePool, it works at any input size.
    if (o.filterH === h && o.filterW === w && oh === 1 && ow === 1) return this.globalPool(x, outT, act, where);
    const attrs = this.spatialAttrs(x, inT, o.filterH, o.filterW, o.strideH, o.strideW, 1, 1, o.padding);
    // count_include_pad = 0: TFLite divides by the number of real pixels under the window
    return this.finishFloat(this.b.op('AveragePool', [this.dq(x)], attrs), act, outT, { ...x, spatial1: false }, where);
  }

  private mean(op: TflOperator, outT: TflTensor, where: string): Val {
    const x = this.val(op.inputs[0]!, where);
    const axesT = this.m.tensors[op.inputs[1] ?? -1];
    if (!axesT?.data) throw unsupported(`${where}: the reduction axes are not constant`);
    const axes = [...tensorInts(axesT)].map((a) => (a < 0 ? a + 4 : a)).sort();
    if (x.rank !== 4 || axes.length !== 2 || axes[0] !== 1 || axes[1] !== 2) {
      throw unsupported(`${where} reduces axes [${axes.join(',')}] of a rank-${x.rank} tensor; edgefit converts MEAN only over the spatial axes (global average pooling)`);
    }
    const pooled = this.globalPool(x, outT, 'none', where);
    if (reducerKeepDims(this.m, op)) return pooled;
    return { ...pooled, name: this.b.op('Flatten', [pooled.name], { axis: 1 }), rank: 2, f: undefined };
  }

  private add(op: TflOperator, outT: TflTensor, where: string): Val {
    const a = this.val(op.inputs[0]!, where);
    const c = this.val(op.inputs[1]!, where);
    if (a.rank !== c.rank) throw unsupported(`${where} adds tensors of rank ${a.rank} and ${c.rank}; edgefit converts same-shape ADD`);
    const ta = this.m.tensors[op.inputs[0]!]!.shape.join(',');
    const tc = this.m.tensors[op.inputs[1]!]!.shape.join(',');
    if (ta !== tc) throw unsupported(`${where} adds [${ta}] and [${tc}]; edgefit converts same-shape ADD`);
    const act = this.activation(activationOption(this.m, op), where);
    const shape = { ...a, spatial1: a.spatial1 && c.spatial1 };
    const b = this.b;
    if (this.mode === 'qlinear' && a.dtype !== 'float32' && a.dtype === c.dtype && outT.type !== TensorType.FLOAT32) {
      const q = this.quantParams(outT, where);
      if (q.dtype === a.dtype) {
        this.usesMsDomain = true;
        const name = b.node('QLinearAdd', [
          a.name, this.scalar('add_a_scale', a.scale, 'float32'), this.scalar('add_a_zp', a.zp, a.dtype),
          c.name, this.scalar('add_b_scale', c.scale, 'float32'), this.scalar('add_b_zp', c.zp, c.dtype),
          this.scalar('add_y_scale', q.scale, 'float32'), this.scalar('add_y_zp', q.zp, q.dtype),
        ], 1, {}, 'QLinearAdd', 'com.microsoft')[0]!;
        return this.finishInt(name, act, q, shape, a.rank);
      }
    }
    return this.finishFloat(b.op('Add', [this.dq(a), this.dq(c)]), act, outT, shape, where);
  }

  private reshape(op: TflOperator, outT: TflTensor, where: string): Val {
    const x = this.val(op.inputs[0]!, where);
    const inT = this.m.tensors[op.inputs[0]!]!;
    const target = outT.shape;
    const b = this.b;
    let y: Val;
    const inCount = inT.shape.reduce((p, d) => p * d, 1);
    const outCount = target.reduce((p, d) => p * d, 1);
    if (inCount !== outCount) throw invalid(`${where} reshapes [${inT.shape.join(',')}] to [${target.join(',')}]`);
    if (x.rank === 4 && x.spatial1 && target.length === 2 && target[1] === inT.shape[3]) {
      // [1,1,1,C] -> [1,C] (the classifier head) is a Flatten, whatever resolution the pool above saw
      y = { ...x, name: b.op('Flatten', [x.name], { axis: 1 }), rank: 2 };
    } else if (x.rank === 4 && x.spatial1 && target.length === 4 && target[1] === 1 && target[2] === 1 && target[3] === inT.shape[3]) {
      y = x;
    } else {
      const shape = x.symbolic ? this.anchorAxisShape(inT.shape, target) : target;
      if (!shape) throw new NeedsFixedResolution();
      let name = x.rank === 4 ? b.op('Transpose', [x.name], { perm: [0, 2, 3, 1] }) : x.name;
      name = b.op('Reshape', [name, b.initializer('shape', [shape.length], BigInt64Array.from(shape, (d) => BigInt(d)))]);
      if (target.length === 4) name = b.op('Transpose', [name], { perm: [0, 3, 1, 2] });
      y = { ...x, name, rank: target.length, spatial1: target.length === 4 && target[1] === 1 && target[2] === 1 };
    }
    y = { ...y, f: undefined };
    // TFLite keeps the quantization through RESHAPE; if a converter changed it, requantize.
    if (this.mode !== 'float' && y.dtype !== 'float32' && outT.type !== TensorType.FLOAT32) {
      const q = this.quantParams(outT, where);
      if (q.dtype !== y.dtype || q.scale !== y.scale || q.zp !== y.zp) return this.fromFloat(this.dq(y), outT, y, where);
    }
    return y;
  }

  /**
   * A detector's head reshapes a feature map [1, H, W, C] to [1, H*W*C/k, ...rest] (k = product of rest, a
   * divisor of C): with -1 for the anchor axis the same reshape holds at any input size. Null when the target
   * is not of that form (the caller then emits at the file's fixed resolution).
   */
  private anchorAxisShape(inShape: number[], target: number[]): number[] | null {
    if (!this.detection || target.length < 3 || target[0] !== 1 || inShape[0] !== 1) return null;
    const k = target.slice(2).reduce((p, d) => p * d, 1);
    const c = inShape[inShape.length - 1]!;
    return k > 0 && c % k === 0 ? [1, -1, ...target.slice(2)] : null;
  }

  private concat(op: TflOperator, outT: TflTensor, where: string): Val {
    const xs = op.inputs.map((i) => this.val(i, where));
    const rank = xs[0]!.rank;
    if (xs.some((x) => x.rank !== rank)) throw invalid(`${where} concatenates tensors of different ranks`);
    const o = concatOptions(this.m, op);
    const act = this.activation(o.activation, where);
    const axis = o.axis < 0 ? o.axis + rank : o.axis;
    if (!(axis >= 0 && axis < rank)) throw invalid(`${where} concatenates along axis ${o.axis} of rank-${rank} tensors`);
    // 4-D values are NCHW inside the graph: TFLite's NHWC axis n, h, w, c is ONNX axis 0, 2, 3, 1
    const onnxAxis = rank === 4 ? [0, 2, 3, 1][axis]! : axis;
    const shape: Val = { ...xs[0]!, symbolic: xs.some((x) => x.symbolic), spatial1: rank === 4 && axis === 3 && xs.every((x) => x.spatial1), f: undefined };
    if (this.mode !== 'float' && act === 'none' && outT.type !== TensorType.FLOAT32) {
      const q = this.quantParams(outT, where);
      // inputs already at the output's scale concatenate as integers, exactly as TFLite copies them
      if (xs.every((x) => x.dtype === q.dtype && x.scale === q.scale && x.zp === q.zp)) {
        return { ...shape, ...q, name: this.b.op('Concat', xs.map((x) => x.name), { axis: onnxAxis }) };
      }
    }
    return this.finishFloat(this.b.op('Concat', xs.map((x) => this.dq(x)), { axis: onnxAxis }), act, outT, shape, where);
  }

  private softmax(op: TflOperator, outT: TflTensor, where: string): Val {
    const x = this.val(op.inputs[0]!, where);
    const beta = softmaxBeta(this.m, op);
    const b = this.b;
    let f = this.dq(x);
    if (beta !== 1) f = b.op('Mul', [f, this.scalar('softmax_beta', beta, 'float32')]);
    // Softmax over the last TFLite axis: channels, which is ONNX axis 1 for NCHW 4-D tensors
    const s = b.op('Softmax', [f], { axis: x.rank === 4 ? 1 : -1 });
    return this.fromFloat(s, outT, x, where);
  }
}

/**
 * sum over each output channel's weights of (requantized - original real value) x the mean of the input channel
 * it reads: how much re-rounding moves that output's mean.
 */
function biasShift(orig: ConvWeights, req: ConvWeights, means: Float64Array, group: number): Float64Array {
  const [O, I, KH, KW] = orig.dims;
  const k = KH * KW;
  const perGroup = O / group;
  const corr = new Float64Array(O);
  for (let o = 0; o < O; o++) {
    const z = orig.zeroPoint.length === 1 ? orig.zeroPoint[0]! : orig.zeroPoint[o]!;
    const s = orig.scale.length === 1 ? orig.scale[0]! : orig.scale[o]!;
    const s2 = req.scale.length === 1 ? req.scale[0]! : req.scale[o]!;
    const base = Math.floor(o / perGroup) * I;
    let sum = 0;
    for (let i = 0; i < I; i++) {
      const mean = means[base + i] ?? 0;
      for (let t = 0; t < k; t++) {
        const j = (o * I + i) * k + t;
        sum += (req.data[j]! * s2 - (orig.data[j]! - z) * s) * mean;
      }
    }
    corr[o] = sum;
  }
  return corr;
}

function elemType(dtype: 'uint8' | 'int8' | 'float32'): DataTypeValue {
  return dtype === 'uint8' ? DataType.UINT8 : dtype === 'int8' ? DataType.INT8 : DataType.FLOAT;
}

function unsupported(msg: string): EdgefitError {
  return new EdgefitError('E_TFLITE_UNSUPPORTED', `TFLite model: ${msg}`);
}
function invalid(msg: string): EdgefitError {
  return new EdgefitError('E_TFLITE_INVALID', `TFLite model is inconsistent: ${msg}; the file is corrupt or was written by an unsupported converter`);
}
