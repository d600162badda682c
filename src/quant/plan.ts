import type { NodeProto } from '../onnx/proto.js';
import { GraphIndex } from './model.js';
import { findClassifier } from './classifier.js';

/**
 * How one activation tensor is quantized.
 * - act:    calibrated range
 * - relu:   calibrated, lower bound 0 (a fused ReLU)
 * - clip:   a fused Clip (ReLU6): the static range [lo, hi], no calibration
 * - logits: the classifier's output: always its full calibrated min/max (clipping it merges the top classes)
 * - input:  the pixels feeding the first conv, already uint8 (see input-dq.ts): their own static grid
 * - alias:  a shape-only op's output (Reshape, Flatten, MaxPool, ...): the same scale/zero point as `alias`,
 *           which onnxruntime needs to drop the Q/DQ pair around it
 */
export interface QTensor {
  name: string;
  kind: 'act' | 'relu' | 'clip' | 'logits' | 'alias' | 'input';
  alias?: string;
  bounds?: [number, number];
  /** the op whose output this is (for reports) */
  op?: string;
}

export interface QPlan {
  tensors: Map<string, QTensor>;
  /** nodes whose constant weights become int8 (Conv, Gemm, MatMul) */
  weighted: NodeProto[];
}

/** Ops that run as integer kernels once wrapped in DQ -> op -> Q. */
const CORE = new Set(['Conv', 'Gemm', 'MatMul', 'GlobalAveragePool', 'AveragePool', 'Add', 'Concat']);
/** Ops that only move values: their output keeps the input's quantization. */
const PASS = new Set(['Reshape', 'Flatten', 'Transpose', 'MaxPool', 'Squeeze', 'Unsqueeze', 'GlobalMaxPool']);
/** Ops between the logits and the graph output that do not change which class leads. */
const TAIL = new Set(['Softmax', 'Identity', ...PASS]);

export function planQuantization(ix: GraphIndex): QPlan {
  const tensors = new Map<string, QTensor>();
  const weighted: NodeProto[] = [];
  const isCore = (n: NodeProto): boolean => {
    const op = n.opType!;
    if (!CORE.has(op)) return false;
    const acts = (n.input ?? []).filter((i) => i && !ix.isConst(i));
    // preprocessing arithmetic with constants (pixel*scale+offset) stays float; a residual Add has two activations
    if (op === 'Add') return acts.length === 2;
    if (op === 'MatMul' || op === 'Gemm') return acts.length === 1 && ix.isConst(n.input![1]!);
    if (op === 'Conv') return acts.length === 1 && ix.isConst(n.input![1]!);
    return acts.length >= 1;
  };
  const add = (t: QTensor): void => {
    if (!tensors.has(t.name)) tensors.set(t.name, t);
  };
  // a MatMul/Gemm classifier keeps float logits (MatMulIntegerToFloat / QGemm with float output)
  const classifier = findClassifier(ix);
  const floatOut = classifier && (classifier.opType === 'MatMul' || classifier.opType === 'Gemm') ? classifier : undefined;
  for (const n of ix.nodes) {
    if (!isCore(n)) continue;
    const op = n.opType!;
    if (op === 'Conv' || op === 'Gemm' || op === 'MatMul') weighted.push(n);
    for (const i of n.input ?? []) if (i && !ix.isConst(i)) add({ name: i, kind: 'act', op: ix.producer.get(i)?.opType ?? 'input' });
    const y = n.output![0]!;
    if (n === floatOut) continue;
    const cons = ix.consumers.get(y) ?? [];
    const act = cons.length === 1 && !ix.graphOutputs.has(y) ? cons[0]! : undefined;
    if (act?.opType === 'Relu') add({ name: act.output![0]!, kind: 'relu', op: `${op}+Relu` });
    else if (act?.opType === 'Clip') {
      const [lo, hi] = ix.clipBounds(act);
      if (Number.isFinite(lo) && Number.isFinite(hi) && lo <= 0 && hi > 0) add({ name: act.output![0]!, kind: 'clip', bounds: [lo, hi], op: `${op}+Clip` });
      else add({ name: y, kind: 'act', op });
    } else add({ name: y, kind: 'act', op });
  }
  // shape-only ops keep their input's parameters, in graph order so chains resolve to one root
  for (const n of ix.nodes) {
    if (!PASS.has(n.opType!)) continue;
    const x = n.input![0]!;
    const y = n.output![0]!;
    if (tensors.has(x)) tensors.set(y, { name: y, kind: 'alias', alias: rootOf(tensors, x), op: n.opType! });
  }
  // the logits: quantized tensors from which only Softmax/Identity/shape ops lead to a graph output
  for (const out of ix.graphOutputs) {
    let t: string | undefined = out;
    for (let guard = 0; t && guard < 64; guard++) {
      const q = tensors.get(t);
      if (q) {
        const root = tensors.get(rootOf(tensors, t))!;
        if (root.kind === 'act' || root.kind === 'relu') root.kind = 'logits';
        break;
      }
      const p = ix.producer.get(t);
      if (!p || !TAIL.has(p.opType!)) break;
      t = p.input![0];
    }
  }
  return { tensors, weighted };
}

export function rootOf(tensors: Map<string, QTensor>, name: string): string {
  let t = tensors.get(name);
  while (t?.kind === 'alias' && t.alias) t = tensors.get(t.alias);
  return t?.name ?? name;
}
