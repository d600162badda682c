import { onnx, type ModelProto, type TensorProto, type NodeProto } from './proto.js';
import { EdgefitError } from '../util/errors.js';

/** Decodes an ONNX model; a malformed file is refused with a message naming it. */
export function readOnnx(bytes: Uint8Array, source = 'model'): ModelProto {
  try {
    const model = onnx.ModelProto.decode(bytes);
    if (!model.graph) throw new Error('no graph in the file');
    return model;
  } catch (err) {
    throw new EdgefitError('E_ONNX_PARSE', `${source} is not a readable ONNX model (${(err as Error).message}); re-export or re-import it`, { cause: err });
  }
}

/** The initializer's values as a typed array (raw_data or the typed fields). */
export function tensorValues(t: TensorProto): Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array {
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const copy = (n: number) => {
    const b = new Uint8Array(raw!.length);
    b.set(raw!);
    return b.buffer;
  };
  switch (t.dataType) {
    case 1: return raw ? new Float32Array(copy(4)) : Float32Array.from(t.floatData ?? []);
    case 2: return raw ? new Uint8Array(copy(1)) : Uint8Array.from(t.int32Data ?? []);
    case 3: return raw ? new Int8Array(copy(1)) : Int8Array.from(t.int32Data ?? []);
    case 6: return raw ? new Int32Array(copy(4)) : Int32Array.from(t.int32Data ?? []);
    case 7: return raw ? new BigInt64Array(copy(8)) : BigInt64Array.from((t.int64Data ?? []).map((x: { toString(): string } | number) => BigInt(x.toString())));
    default: throw new EdgefitError('E_ONNX_DTYPE', `initializer ${t.name}: data type ${t.dataType} is not supported by edgefit's reader`);
  }
}

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d: unknown) => Number(d));
}

/** Attribute lookup by name, with int/float/ints decoded. */
export function attr(node: NodeProto, name: string): number | number[] | string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  switch (a.type) {
    case 1: return a.f ?? 0;
    case 2: return Number(a.i ?? 0);
    case 3: return new TextDecoder().decode(a.s ?? new Uint8Array());
    case 6: return (a.floats ?? []).slice();
    case 7: return (a.ints ?? []).map((x: unknown) => Number(x));
    default: return undefined;
  }
}
