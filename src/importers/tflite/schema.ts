import { FbReader, type FbTable } from './flatbuf.js';
import { EdgefitError } from '../../util/errors.js';

/**
 * Hand-written accessors for the parts of tensorflow/lite/schema/schema.fbs edgefit converts.
 * Field ids are the schema's declaration order (vtable slot 4 + 2*id); the comments name them.
 */

/** schema.fbs `enum TensorType : byte` */
export const TensorType = { FLOAT32: 0, FLOAT16: 1, INT32: 2, UINT8: 3, INT64: 4, STRING: 5, BOOL: 6, INT16: 7, COMPLEX64: 8, INT8: 9 } as const;
const TENSOR_TYPE_NAMES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8'];
const TENSOR_TYPE_SIZES = [4, 2, 4, 1, 8, 0, 1, 2, 8, 1];

/** schema.fbs `enum BuiltinOperator` (the ones we convert, plus names for error messages) */
export const Op = {
  ADD: 0, AVERAGE_POOL_2D: 1, CONCATENATION: 2, CONV_2D: 3, DEPTHWISE_CONV_2D: 4, DEQUANTIZE: 6, FULLY_CONNECTED: 9,
  LOGISTIC: 14, RESHAPE: 22, SOFTMAX: 25, MEAN: 40, CUSTOM: 32, QUANTIZE: 114,
} as const;
const OP_NAMES: Record<number, string> = {
  0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 5: 'DEPTH_TO_SPACE',
  6: 'DEQUANTIZE', 9: 'FULLY_CONNECTED', 14: 'LOGISTIC', 17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU', 21: 'RELU6',
  22: 'RESHAPE', 23: 'RESIZE_BILINEAR', 25: 'SOFTMAX', 28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 39: 'TRANSPOSE',
  40: 'MEAN', 41: 'SUB', 43: 'SQUEEZE', 45: 'STRIDED_SLICE', 49: 'SPLIT', 53: 'CAST', 60: 'PADV2',
  67: 'TRANSPOSE_CONV', 83: 'PACK', 97: 'RESIZE_NEAREST_NEIGHBOR', 98: 'LEAKY_RELU', 114: 'QUANTIZE', 117: 'HARD_SWISH',
};
export function opName(code: number): string {
  return OP_NAMES[code] ?? `builtin operator ${code}`;
}

/** schema.fbs `enum ActivationFunctionType : byte` */
export type FusedActivation = 'none' | 'relu' | 'relu_n1_to_1' | 'relu6' | 'tanh' | 'sign_bit';
const ACTIVATIONS: FusedActivation[] = ['none', 'relu', 'relu_n1_to_1', 'relu6', 'tanh', 'sign_bit'];

export interface Quantization {
  scale: number[];
  zeroPoint: number[];
  /** quantized_dimension: the axis the per-channel scales run along */
  axis: number;
}

export interface TflTensor {
  index: number;
  name: string;
  shape: number[];
  type: number;
  typeName: string;
  /** constant data (weights, biases, axes), or null for activations */
  data: Uint8Array | null;
  quant: Quantization | null;
}

export interface ConvOptions { padding: 'same' | 'valid'; strideW: number; strideH: number; activation: FusedActivation; dilationW: number; dilationH: number; depthMultiplier: number }
export interface PoolOptions { padding: 'same' | 'valid'; strideW: number; strideH: number; filterW: number; filterH: number; activation: FusedActivation }

export interface TflOperator {
  index: number;
  code: number;
  name: string;
  customCode?: string;
  inputs: number[];
  outputs: number[];
  /** the builtin options table, read by `options*` below according to the op */
  options: FbTable | null;
  /** CUSTOM ops: their option bytes (FlexBuffers when customOptionsFormat is 0) */
  customOptions?: Uint8Array;
  customOptionsFormat?: number;
}

export interface TflModel {
  version: number;
  description?: string;
  tensors: TflTensor[];
  operators: TflOperator[];
  inputs: number[];
  outputs: number[];
  reader: FbReader;
}

export function parseTflite(input: Uint8Array, source: string): TflModel {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const r = new FbReader(bytes, source);
  if (bytes.length < 8) r.fail('file is shorter than a flatbuffer header', 0);
  const ident = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!);
  if (ident !== 'TFL3') r.fail(`file identifier is "${ident.replace(/[^\x20-\x7e]/g, '?')}", not "TFL3"`, 4);

  const model = r.root('Model');
  // Model: 0 version, 1 operator_codes, 2 subgraphs, 3 description, 4 buffers
  const version = r.scalarU32(model, 0, 'version');
  if (version !== 3) r.fail(`schema version ${version} (edgefit reads version 3)`, model.pos);
  const opcodes = r.tableVector(model, 1, 'operator_codes').map((t) => {
    // OperatorCode: 0 deprecated_builtin_code (byte), 1 custom_code, 2 version, 3 builtin_code (int).
    // Writers after TF 2.4 store codes > 127 only in builtin_code and clamp the byte to 127
    // (PLACEHOLDER_FOR_GREATER_OP_CODES); older writers only set the byte. TFLite takes the larger.
    const deprecated = r.scalarI8(t, 0, 'deprecated_builtin_code');
    const builtin = r.scalarI32(t, 3, 'builtin_code');
    return { code: Math.max(deprecated, builtin), custom: r.string(t, 1, 'custom_code') };
  });
  const subgraphs = r.tableVector(model, 2, 'subgraphs');
  const description = r.string(model, 3, 'description');
  const bufferTables = r.tableVector(model, 4, 'buffers');
  if (subgraphs.length === 0) r.fail('the model has no subgraph', model.pos);
  const sg = subgraphs[0]!;

  const readBuffer = (index: number, at: number): Uint8Array | null => {
    if (index === 0) return null; // buffer 0 is the always-empty sentinel
    if (index >= bufferTables.length) r.fail(`tensor refers to buffer ${index} of ${bufferTables.length}`, at);
    const b = bufferTables[index]!;
    // Buffer: 0 data, 1 offset (ulong), 2 size (ulong): models over 2 GB keep data outside the flatbuffer
    const data = r.bytesVector(b, 0, 'data');
    if (data && data.length > 0) return data;
    const offset = r.scalarU64(b, 1, 'offset');
    const size = r.scalarU64(b, 2, 'size');
    if (offset > 1n) {
      if (offset + size > BigInt(bytes.length)) r.fail(`buffer ${index} (offset ${offset}, size ${size}) runs past the end`, b.pos);
      return bytes.subarray(Number(offset), Number(offset + size));
    }
    return null;
  };

  // SubGraph: 0 tensors, 1 inputs, 2 outputs, 3 operators, 4 name
  const tensors = r.tableVector(sg, 0, 'tensors').map((t, index): TflTensor => {
    // Tensor: 0 shape, 1 type, 2 buffer, 3 name, 4 quantization
    const shape = r.i32Vector(t, 0, 'shape');
    const type = r.scalarI8(t, 1, 'type');
    const data = readBuffer(r.scalarU32(t, 2, 'buffer'), t.pos);
    const name = r.string(t, 3, 'name') ?? `tensor${index}`;
    const q = r.subtable(t, 4, 'quantization');
    let quant: Quantization | null = null;
    if (q) {
      // QuantizationParameters: 0 min, 1 max, 2 scale, 3 zero_point (long), 4 details_type, 5 details, 6 quantized_dimension
      const scale = r.f32Vector(q, 2, 'scale');
      const zeroPoint = r.i64Vector(q, 3, 'zero_point');
      if (r.scalarU8(q, 4, 'details_type') !== 0) {
        throw new EdgefitError('E_TFLITE_UNSUPPORTED', `${source}: tensor ${index} (${name}) uses custom quantization details; edgefit converts only affine (scale, zero point) quantization`);
      }
      if (scale.length > 0) quant = { scale, zeroPoint: zeroPoint.length ? zeroPoint : scale.map(() => 0), axis: r.scalarI32(q, 6, 'quantized_dimension') };
    }
    if (type < 0 || type >= TENSOR_TYPE_NAMES.length) r.fail(`tensor ${index} (${name}) has unknown type ${type}`, t.pos);
    for (const d of shape) if (d < -1) r.fail(`tensor ${index} (${name}) has negative dimension ${d}`, t.pos);
    if (data && TENSOR_TYPE_SIZES[type]! > 0) {
      const count = shape.reduce((a, b) => a * b, 1);
      if (count * TENSOR_TYPE_SIZES[type]! !== data.length) {
        r.fail(`tensor ${index} (${name}) has shape [${shape.join(',')}] ${TENSOR_TYPE_NAMES[type]} but its buffer holds ${data.length} bytes`, t.pos);
      }
    }
    if (quant) {
      if (quant.zeroPoint.length !== quant.scale.length) r.fail(`tensor ${index} (${name}) has ${quant.scale.length} scales but ${quant.zeroPoint.length} zero points`, t.pos);
      if (quant.scale.length > 1 && (quant.axis < 0 || quant.axis >= shape.length || shape[quant.axis] !== quant.scale.length)) {
        r.fail(`tensor ${index} (${name}) has ${quant.scale.length} per-channel scales along axis ${quant.axis} of shape [${shape.join(',')}]`, t.pos);
      }
      for (const s of quant.scale) if (!(s > 0) || !Number.isFinite(s)) r.fail(`tensor ${index} (${name}) has quantization scale ${s}`, t.pos);
      checkZeroPoints(quant, type, `${source}: tensor ${index} (${name})`);
    }
    return { index, name, shape, type, typeName: TENSOR_TYPE_NAMES[type]!, data, quant };
  });
  const checkIndices = (list: number[], what: string, at: number, optional = false): number[] => {
    for (const i of list) if (!(i >= 0 && i < tensors.length) && !(optional && i === -1)) r.fail(`${what} refers to tensor ${i} of ${tensors.length}`, at);
    return list;
  };
  const inputs = checkIndices(r.i32Vector(sg, 1, 'inputs'), 'subgraph input', sg.pos);
  const outputs = checkIndices(r.i32Vector(sg, 2, 'outputs'), 'subgraph output', sg.pos);
  const operators = r.tableVector(sg, 3, 'operators').map((t, index): TflOperator => {
    // Operator: 0 opcode_index, 1 inputs, 2 outputs, 3 builtin_options_type, 4 builtin_options, 5 custom_options, 6 custom_options_format
    const opcodeIndex = r.scalarU32(t, 0, 'opcode_index');
    if (opcodeIndex >= opcodes.length) r.fail(`operator ${index} uses opcode ${opcodeIndex} of ${opcodes.length}`, t.pos);
    const oc = opcodes[opcodeIndex]!;
    const ins = checkIndices(r.i32Vector(t, 1, 'inputs'), `operator ${index} input`, t.pos, true);
    const outs = checkIndices(r.i32Vector(t, 2, 'outputs'), `operator ${index} output`, t.pos);
    const options = r.subtable(t, 4, 'builtin_options');
    const op: TflOperator = { index, code: oc.code, name: opName(oc.code), customCode: oc.custom, inputs: ins, outputs: outs, options };
    if (oc.code === Op.CUSTOM) {
      op.customOptions = r.bytesVector(t, 5, 'custom_options') ?? undefined;
      op.customOptionsFormat = r.scalarI8(t, 6, 'custom_options_format');
    }
    return op;
  });
  return { version, description, tensors, operators, inputs, outputs, reader: r };
}

const ZERO_POINT_RANGE: Partial<Record<number, [number, number]>> = { [TensorType.INT8]: [-128, 127], [TensorType.UINT8]: [0, 255] };

/**
 * A zero point is a value of the tensor's own type: the emitter stores weight zero points as int8/uint8 (where
 * one out of range would wrap, 200 becoming 72, while the float path uses 200) and re-bases int8 weights to
 * uint8 by adding 128. TFLite's quantization spec makes per-axis int8 (weights) symmetric: zero point 0.
 */
function checkZeroPoints(q: Quantization, type: number, what: string): void {
  const range = ZERO_POINT_RANGE[type];
  if (!range) return;
  const typeName = TENSOR_TYPE_NAMES[type]!;
  const bad = q.zeroPoint.find((z) => !(Number.isInteger(z) && z >= range[0] && z <= range[1]));
  if (bad !== undefined) {
    throw new EdgefitError('E_TFLITE_INVALID', `${what} is ${typeName} with zero point ${bad}, outside ${typeName} [${range[0]}, ${range[1]}]; the file is corrupt or its converter is broken: convert the model again with the TensorFlow Lite converter`);
  }
  if (type === TensorType.INT8 && q.scale.length > 1) {
    const nonZero = q.zeroPoint.findIndex((z) => z !== 0);
    if (nonZero >= 0) {
      throw new EdgefitError('E_TFLITE_INVALID', `${what} is int8 quantized per channel with zero point ${q.zeroPoint[nonZero]} on channel ${nonZero}; TFLite's quantization spec makes per-channel int8 weights symmetric (zero point 0), so the file is corrupt or its converter is broken: convert the model again with the TensorFlow Lite converter`);
    }
  }
}

const padding = (v: number): 'same' | 'valid' => (v === 1 ? 'valid' : 'same');
const activation = (r: FbReader, v: number, at: number): FusedActivation => ACTIVATIONS[v] ?? r.fail(`unknown fused activation ${v}`, at);

/** Conv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 fused_activation_function, 4 dilation_w_factor, 5 dilation_h_factor.
 *  DepthwiseConv2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 depth_multiplier, 4 fused_activation, 5/6 dilation w/h. */
export function convOptions(m: TflModel, op: TflOperator): ConvOptions {
  const r = m.reader;
  const t = op.options;
  if (!t) return { padding: 'same', strideW: 1, strideH: 1, activation: 'none', dilationW: 1, dilationH: 1, depthMultiplier: 1 };
  const dw = op.code === Op.DEPTHWISE_CONV_2D;
  return {
    padding: padding(r.scalarU8(t, 0, 'padding')),
    strideW: r.scalarI32(t, 1, 'stride_w'),
    strideH: r.scalarI32(t, 2, 'stride_h'),
    depthMultiplier: dw ? r.scalarI32(t, 3, 'depth_multiplier') : 1,
    activation: activation(r, r.scalarU8(t, dw ? 4 : 3, 'fused_activation_function'), t.pos),
    dilationW: r.scalarI32(t, dw ? 5 : 4, 'dilation_w_factor', 1),
    dilationH: r.scalarI32(t, dw ? 6 : 5, 'dilation_h_factor', 1),
  };
}

/** Pool2DOptions: 0 padding, 1 stride_w, 2 stride_h, 3 filter_width, 4 filter_height, 5 fused_activation_function */
export function poolOptions(m: TflModel, op: TflOperator): PoolOptions {
  const r = m.reader;
  const t = op.options;
  if (!t) return r.fail(`operator ${op.index} (${op.name}) has no Pool2DOptions`, 0);
  return {
    padding: padding(r.scalarU8(t, 0, 'padding')),
    strideW: r.scalarI32(t, 1, 'stride_w'),
    strideH: r.scalarI32(t, 2, 'stride_h'),
    filterW: r.scalarI32(t, 3, 'filter_width'),
    filterH: r.scalarI32(t, 4, 'filter_height'),
    activation: activation(r, r.scalarU8(t, 5, 'fused_activation_function'), t.pos),
  };
}

/** AddOptions: 0 fused_activation_function. FullyConnectedOptions: 0 fused_activation_function, 1 weights_format, 2 keep_num_dims. */
export function activationOption(m: TflModel, op: TflOperator): FusedActivation {
  return op.options ? activation(m.reader, m.reader.scalarU8(op.options, 0, 'fused_activation_function'), op.options.pos) : 'none';
}
export function fullyConnectedOptions(m: TflModel, op: TflOperator): { activation: FusedActivation; weightsFormat: number; keepNumDims: boolean } {
  const t = op.options;
  if (!t) return { activation: 'none', weightsFormat: 0, keepNumDims: false };
  const r = m.reader;
  return { activation: activationOption(m, op), weightsFormat: r.scalarU8(t, 1, 'weights_format'), keepNumDims: r.scalarU8(t, 2, 'keep_num_dims') !== 0 };
}
/** SoftmaxOptions: 0 beta */
export function softmaxBeta(m: TflModel, op: TflOperator): number {
  return op.options ? m.reader.scalarF32(op.options, 0, 'beta', 1) : 1;
}
/** ReshapeOptions: 0 new_shape */
export function reshapeNewShape(m: TflModel, op: TflOperator): number[] | null {
  return op.options ? m.reader.i32Vector(op.options, 0, 'new_shape') : null;
}
/** ConcatenationOptions: 0 axis, 1 fused_activation_function */
export function concatOptions(m: TflModel, op: TflOperator): { axis: number; activation: FusedActivation } {
  const t = op.options;
  if (!t) return { axis: 0, activation: 'none' };
  const r = m.reader;
  return { axis: r.scalarI32(t, 0, 'axis'), activation: activation(r, r.scalarU8(t, 1, 'fused_activation_function'), t.pos) };
}
/** ReducerOptions: 0 keep_dims */
export function reducerKeepDims(m: TflModel, op: TflOperator): boolean {
  return op.options ? m.reader.scalarU8(op.options, 0, 'keep_dims') !== 0 : false;
}

/** Little-endian constant data as a typed array (copied: flatbuffer vectors need not be aligned). */
export function tensorInts(t: TflTensor): Int8Array | Uint8Array | Int32Array | Float32Array {
  // a fresh, aligned copy: Node Buffers' slice() is a view into a shared pool, and vectors need not be aligned
  const copy = new Uint8Array(t.data!.length);
  copy.set(t.data!);
  switch (t.type) {
    case TensorType.INT8: return new Int8Array(copy.buffer);
    case TensorType.UINT8: return copy;
    case TensorType.INT32: return new Int32Array(copy.buffer);
    case TensorType.FLOAT32: return new Float32Array(copy.buffer);
    case TensorType.INT64: {
      const v = new BigInt64Array(copy.buffer);
      return Int32Array.from(v, (x) => Number(x));
    }
    default: throw new EdgefitError('E_TFLITE_UNSUPPORTED', `tensor ${t.index} (${t.name}) is ${t.typeName}; edgefit converts int8, uint8, int32 and float32 constants`);
  }
}
