import { EdgefitError } from '../util/errors.js';

/**
 * Finds a tensor that keeps its data in another file (TensorProto data_location EXTERNAL or external_data
 * entries). onnxruntime reads such data from a path the model names, relative to the model or the working
 * directory: a model file must not make edgefit read other files, so any such tensor, wherever it sits, is
 * refused before onnxruntime sees the model.
 *
 * A TensorProto can sit in a graph's initializers and sparse initializers (values and indices), in a node
 * attribute (t, tensors, sparse_tensor, sparse_tensors: Constant's value and sparse_value), in the subgraphs of
 * If/Loop/Scan (attribute g, graphs) to any depth, in model-local functions (their nodes, and the default
 * values of their attributes) and in training graphs. The protobuf wire format is walked directly rather than
 * the decoded ModelProto: onnx-proto decodes ONNX 1.10 and silently drops fields it does not know, such as
 * FunctionProto.attribute_proto (ONNX 1.13), which onnxruntime does read. Field numbers are onnx.proto's.
 */

type Kind = 'model' | 'training' | 'graph' | 'node' | 'attribute' | 'function' | 'sparse' | 'tensor';

/** per message kind, the fields that may lead to a TensorProto, with what they hold */
const CHILDREN: Record<Exclude<Kind, 'tensor'>, Record<number, Kind>> = {
  model: { 7: 'graph', 20: 'training', 25: 'function' },
  training: { 1: 'graph', 2: 'graph' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  function: { 7: 'node', 11: 'attribute' },
  sparse: { 1: 'tensor', 2: 'tensor' },
};

/** the string fields that name a message, for a message that says where the tensor is */
const NAME_FIELDS: Partial<Record<Kind, Record<number, string>>> = {
  node: { 3: 'name', 4: 'op' },
  attribute: { 1: 'name' },
  function: { 1: 'name' },
  tensor: { 8: 'name' },
};

const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const DATA_LOCATION_EXTERNAL = 1;
/** onnxruntime's protobuf parser stops at 100 levels; a real model nests a handful */
const MAX_DEPTH = 100;

export interface ExternalTensor {
  /** where it sits, outermost first, e.g. ['node "if" (If)', 'attribute then_branch', 'initializer "w"'] */
  where: string[];
  /** the external_data location entry, when there is one */
  location?: string;
}

class Malformed extends Error {}

function label(kind: Kind, field: number, index: number, names: Record<string, string>, parent: Kind): string {
  const q = (s: string | undefined) => JSON.stringify(s ?? '');
  switch (kind) {
    case 'graph': return parent === 'attribute' ? (field === 11 ? `graphs[${index}]` : 'graph') : parent === 'training' ? (field === 1 ? 'initialization graph' : 'algorithm graph') : 'graph';
    case 'training': return `training_info[${index}]`;
    case 'function': return `function ${q(names.name)}`;
    case 'node': return `node ${q(names.name)} (${names.op ?? '?'})`;
    case 'attribute': return parent === 'function' ? `default of attribute ${q(names.name)}` : `attribute ${names.name ?? '?'}`;
    case 'sparse': return parent === 'graph' ? 'sparse initializer' : field === 23 ? `sparse_tensors[${index}]` : 'sparse_tensor';
    case 'tensor':
      if (parent === 'graph') return `initializer ${q(names.name)}`;
      if (parent === 'sparse') return `${field === 1 ? 'values' : 'indices'} ${q(names.name)}`;
      return field === 10 ? `tensors[${index}] ${q(names.name)}` : `tensor ${q(names.name)}`;
    default: return kind;
  }
}

class Walker {
  constructor(private readonly b: Uint8Array) {}

  private varint(pos: number, end: number): [number, number] {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos + i >= end) throw new Malformed(`truncated varint at byte ${pos}`);
      const x = this.b[pos + i]!;
      v += (x & 0x7f) * mul;
      mul *= 128;
      if (x < 0x80) return [v, pos + i + 1];
    }
    throw new Malformed(`overlong varint at byte ${pos}`);
  }

  /** Calls `visit` for each field of the message in [start, end); length-delimited fields get their range. */
  private fields(start: number, end: number, visit: (field: number, wire: number, value: number, from: number, to: number) => void): void {
    let pos = start;
    while (pos < end) {
      const [tag, p1] = this.varint(pos, end);
      const field = Math.floor(tag / 8);
      const wire = tag & 7;
      if (field === 0) throw new Malformed(`field number 0 at byte ${pos}`);
      switch (wire) {
        case 0: { const [v, p2] = this.varint(p1, end); visit(field, wire, v, p1, p2); pos = p2; break; }
        case 1: pos = p1 + 8; break;
        case 5: pos = p1 + 4; break;
        case 2: {
          const [len, p2] = this.varint(p1, end);
          if (p2 + len > end) throw new Malformed(`field ${field} at byte ${pos} runs past its message`);
          visit(field, wire, len, p2, p2 + len);
          pos = p2 + len;
          break;
        }
        default: throw new Malformed(`wire type ${wire} at byte ${pos}`);
      }
      if (pos > end) throw new Malformed(`a field at byte ${start} runs past its message`);
    }
  }

  private text(from: number, to: number): string {
    return Buffer.from(this.b.buffer, this.b.byteOffset + from, to - from).toString('utf8');
  }

  private location(from: number, to: number): string | undefined {
    let key = '';
    let value = '';
    this.fields(from, to, (field, wire, _v, a, z) => {
      if (wire !== 2) return;
      if (field === 1) key = this.text(a, z);
      else if (field === 2) value = this.text(a, z);
    });
    return key === 'location' ? value : undefined;
  }

  find(kind: Kind, start: number, end: number, depth: number): ExternalTensor | undefined {
    if (depth > MAX_DEPTH) throw new Malformed(`messages nested more than ${MAX_DEPTH} deep`);
    if (kind === 'tensor') {
      let external = false;
      let location: string | undefined;
      this.fields(start, end, (field, wire, value, a, z) => {
        if (field === TENSOR_DATA_LOCATION && wire === 0 && value === DATA_LOCATION_EXTERNAL) external = true;
        else if (field === TENSOR_EXTERNAL_DATA && wire === 2) { external = true; location ??= this.location(a, z); }
      });
      return external ? { where: [], ...(location !== undefined ? { location } : {}) } : undefined;
    }
    const children: { kind: Kind; field: number; index: number; from: number; to: number }[] = [];
    const counts = new Map<number, number>();
    const wanted = CHILDREN[kind];
    this.fields(start, end, (field, wire, _v, a, z) => {
      const child = wanted[field];
      if (!child || wire !== 2) return;
      const index = counts.get(field) ?? 0;
      counts.set(field, index + 1);
      children.push({ kind: child, field, index, from: a, to: z });
    });
    for (const c of children) {
      const found = this.find(c.kind, c.from, c.to, depth + 1);
      if (!found) continue;
      const own = label(c.kind, c.field, c.index, this.names(c.kind, c.from, c.to), kind);
      // the top graph and a graph attribute's single graph add nothing to the path
      if (own !== 'graph') found.where.unshift(own);
      return found;
    }
    return undefined;
  }

  private names(kind: Kind, start: number, end: number): Record<string, string> {
    const out: Record<string, string> = {};
    const nameFields = NAME_FIELDS[kind] ?? {};
    this.fields(start, end, (field, wire, _v, a, z) => { if (wire === 2 && nameFields[field]) out[nameFields[field]] = this.text(a, z); });
    return out;
  }
}

/** The first tensor of an ONNX model that keeps its data in another file, or undefined when there is none. */
export function findExternalTensor(bytes: Uint8Array, source = 'model'): ExternalTensor | undefined {
  try {
    return new Walker(bytes).find('model', 0, bytes.length, 0);
  } catch (err) {
    if (err instanceof Malformed) throw new EdgefitError('E_ONNX_PARSE', `${source} is not a readable ONNX model (${err.message}); re-export or re-import it`, { cause: err });
    throw err;
  }
}

/** Refuses a model with any tensor kept in an external file, naming where it sits and the file it names. */
export function refuseExternalData(bytes: Uint8Array, source = 'model'): void {
  const found = findExternalTensor(bytes, source);
  if (!found) return;
  throw new EdgefitError('E_ONNX_EXTERNAL', `${source}: ${found.where.join(' > ')} keeps its data in an external file${found.location !== undefined ? ` (${found.location})` : ''}; edgefit reads no file a model names: save the model as one self-contained .onnx (onnx.save with save_as_external_data=False)`);
}
