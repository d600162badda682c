import { onnx, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from '../onnx/proto.js';
import { attr, tensorValues, dimsOf } from '../onnx/reader.js';

/** Lookup tables over an ONNX graph that the quantization passes share. */
export class GraphIndex {
  readonly inits = new Map<string, TensorProto>();
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly graphOutputs: Set<string>;
  readonly graphInputs: Set<string>;

  constructor(readonly model: ModelProto) {
    const g = model.graph!;
    for (const t of g.initializer ?? []) this.inits.set(t.name!, t);
    for (const n of g.node ?? []) {
      for (const o of n.output ?? []) this.producer.set(o, n);
      for (const i of n.input ?? []) {
        if (!i) continue;
        const list = this.consumers.get(i) ?? [];
        list.push(n);
        this.consumers.set(i, list);
      }
    }
    this.graphOutputs = new Set((g.output ?? []).map((o) => o.name!));
    this.graphInputs = new Set((g.input ?? []).map((o) => o.name!).filter((n) => !this.inits.has(n)));
  }

  get nodes(): NodeProto[] {
    return this.model.graph!.node ?? [];
  }

  isConst(name: string): boolean {
    return this.inits.has(name);
  }

  floatInit(name: string): { dims: number[]; data: Float32Array } | undefined {
    const t = this.inits.get(name);
    if (!t || t.dataType !== 1) return undefined;
    return { dims: dimsOf(t), data: tensorValues(t) as Float32Array };
  }

  /** A Clip's bounds from its min/max inputs (opset >= 11) or attributes (older opsets). */
  clipBounds(n: NodeProto): [number, number] {
    const read = (i: number, a: string, dflt: number): number => {
      const name = n.input?.[i];
      if (name) {
        const t = this.floatInit(name);
        if (t && t.data.length === 1) return t.data[0]!;
        return Number.NaN;
      }
      const v = attr(n, a);
      return typeof v === 'number' ? v : dflt;
    };
    return [read(1, 'min', -Infinity), read(2, 'max', Infinity)];
  }
}

/** A deep copy, so passes can rewrite it without touching the caller's model. */
export function cloneModel(m: ModelProto): ModelProto {
  return onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
}

/** A graph output of float type with no declared shape (ORT infers it): for reading intermediate tensors. */
export function floatOutput(name: string, elemType = 1): ValueInfoProto {
  return { name, type: { tensorType: { elemType } } };
}
