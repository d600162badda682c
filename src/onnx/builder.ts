import Long from 'long';
import { onnx, DataType, type DataTypeValue, type NodeProto, type TensorProto, type AttributeProto, type ModelProto, type ValueInfoProto } from './proto.js';

export type AttrValue = number | string | number[] | Float32Array | { float: number } | { ints: number[] } | { floats: number[] } | { tensor: TensorProto };

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | BigInt64Array;

export interface ValueInfo {
  name: string;
  elemType: DataTypeValue;
  /** numbers are fixed dims, strings are symbolic dims (e.g. 'N', 'H'). */
  shape: (number | string)[];
}

/**
 * Builds an ONNX model protobuf. Integer attributes become INT, non-integers FLOAT; arrays of numbers become
 * INTS unless given as {floats}. Tensor bytes go to raw_data (little-endian, as ONNX specifies).
 */
export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  readonly metadata: Record<string, string> = {};
  private names = new Set<string>();
  private counter = 0;

  constructor(readonly graphName: string, readonly opset = 13) {}

  /** A name not used yet, derived from `base`. */
  fresh(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  input(name: string, elemType: DataTypeValue, shape: (number | string)[]): string {
    this.names.add(name);
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  output(name: string, elemType: DataTypeValue, shape: (number | string)[]): string {
    this.outputs.push({ name, elemType, shape });
    return name;
  }

  initializer(name: string, dims: number[], data: TensorData): string {
    const n = this.fresh(name);
    this.initializers.push(makeTensor(n, dims, data));
    return n;
  }

  /** Adds a node; returns its output names. `outputs` may be a count, then fresh names are made from `name`. */
  node(opType: string, inputs: string[], outputs: string[] | number, attrs: Record<string, AttrValue> = {}, name?: string, domain?: string): string[] {
    const nodeName = this.fresh(name ?? opType);
    const outs = typeof outputs === 'number'
      ? Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? `${nodeName}_out` : `${nodeName}_out${i}`))
      : outputs.map((o) => { this.names.add(o); return o; });
    const attribute = Object.entries(attrs).map(([k, v]) => makeAttr(k, v));
    const node: NodeProto = { opType, input: inputs, output: outs, name: nodeName, attribute };
    if (domain) node.domain = domain;
    this.nodes.push(node);
    return outs;
  }

  /** Single-output shorthand. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string, out?: string): string {
    return this.node(opType, inputs, out ? [out] : 1, attrs, name)[0]!;
  }

  toModel(): ModelProto {
    return onnx.ModelProto.create({
      irVersion: Long.fromNumber(8),
      producerName: 'edgefit',
      producerVersion: '0.1.0',
      opsetImport: [{ domain: '', version: Long.fromNumber(this.opset) }],
      metadataProps: Object.entries(this.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
  }

  toBytes(): Uint8Array {
    return onnx.ModelProto.encode(this.toModel()).finish();
  }
}

export function valueInfo(v: ValueInfo): ValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: Long.fromNumber(d) } : { dimParam: d })) },
      },
    },
  };
}

export function dataTypeOf(data: TensorData): DataTypeValue {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Int32Array) return DataType.INT32;
  return DataType.INT64;
}

export function makeTensor(name: string, dims: number[], data: TensorData): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new Error(`ONNX tensor ${name}: dims [${dims.join(',')}] hold ${count} values but ${data.length} were given`);
  }
  // raw_data is little-endian; every platform Node runs on here (x64, arm64) is little-endian.
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dims: dims.map((d) => Long.fromNumber(d)), dataType: dataTypeOf(data), rawData: raw.slice() };
}

function makeAttr(name: string, v: AttrValue): AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number') {
    return Number.isInteger(v) ? { name, type: T.INT, i: Long.fromNumber(v) } : { name, type: T.FLOAT, f: v };
  }
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v.map((x) => Long.fromNumber(x)) };
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
  if ('ints' in v) return { name, type: T.INTS, ints: v.ints.map((x) => Long.fromNumber(x)) };
  return { name, type: T.TENSOR, t: v.tensor };
}

/**
 * Replaces an initializer's values and shape in place, in its own data type (float, uint8, int8, int32), as raw
 * data: the rewrites of an imported graph (pad-channels, stem-s2d) keep each tensor's type.
 */
export function setTensorValues(t: TensorProto, values: ArrayLike<number>, dims: number[], who: string): void {
  const Ctor = t.dataType === 1 ? Float32Array : t.dataType === 2 ? Uint8Array : t.dataType === 3 ? Int8Array : t.dataType === 6 ? Int32Array : undefined;
  if (!Ctor) throw new Error(`${who}: initializer ${t.name} has data type ${t.dataType}`);
  const a = Ctor.from(values);
  t.rawData = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  t.floatData = []; t.int32Data = []; t.int64Data = [];
  t.dims = dims.map((d) => Long.fromNumber(d));
}
