import Long from 'long';
import { makeTensor } from '../onnx/builder.js';
import { attr } from '../onnx/reader.js';
import type { ModelProto, NodeProto } from '../onnx/proto.js';
import { GraphIndex, cloneModel } from './model.js';

const TAIL = new Set(['Softmax', 'Identity', 'Reshape', 'Flatten', 'Squeeze']);

/** The node computing the logits: the Conv/Gemm/MatMul from which only Softmax/shape ops lead to the output. */
export function findClassifier(ix: GraphIndex): NodeProto | undefined {
  for (const out of ix.graphOutputs) {
    let t: string | undefined = out;
    for (let guard = 0; t && guard < 64; guard++) {
      const p = ix.producer.get(t);
      if (!p) break;
      if (p.opType === 'Conv' || p.opType === 'Gemm' || p.opType === 'MatMul') return p;
      // a bias Add after a MatMul: follow the activation input
      if (p.opType === 'Add') {
        const acts = (p.input ?? []).filter((i) => !ix.isConst(i));
        if (acts.length !== 1) break;
        t = acts[0];
        continue;
      }
      if (!TAIL.has(p.opType!)) break;
      t = p.input![0];
    }
  }
  return undefined;
}

/**
 * Rewrites a 1x1 classifier conv on globally pooled features as Flatten -> Gemm -> Reshape, the same
 * function. Why: onnxruntime fuses DQ -> Gemm with a float output into QGemm with a float output (int8 products,
 * int32 sums, one float scale), so the logits leave the integer kernel without a uint8 requantization. A
 * requantized logit saturates at the calibration maximum, and the photos a model is most confident about are
 * exactly those whose top logits exceed it: the leading classes then tie.
 */
export function classifierToGemm(model: ModelProto): { model: ModelProto; rewritten?: string } {
  const m = cloneModel(model);
  const ix = new GraphIndex(m);
  const conv = findClassifier(ix);
  if (!conv || conv.opType !== 'Conv') return { model: m };
  const src = ix.producer.get(conv.input![0]!);
  const w = ix.floatInit(conv.input![1]!);
  const ones = (v: unknown, n: number) => v === undefined || (Array.isArray(v) && v.length === n && v.every((x) => x === 1));
  const zeros = (v: unknown) => v === undefined || (Array.isArray(v) && v.every((x) => x === 0));
  if (!src || src.opType !== 'GlobalAveragePool' || !w || w.dims[2] !== 1 || w.dims[3] !== 1) return { model: m };
  if (Number(attr(conv, 'group') ?? 1) !== 1 || !ones(attr(conv, 'strides'), 2) || !ones(attr(conv, 'dilations'), 2) || !zeros(attr(conv, 'pads'))) return { model: m };
  const K = w.dims[0]!;
  const C = w.dims[1]!;
  const base = conv.name || conv.output![0]!;
  const x = conv.input![0]!;
  const y = conv.output![0]!;
  const gemmIn = [`${base}_features`, `${base}_weight`];
  if (conv.input![2]) gemmIn.push(conv.input![2]);
  const nodes: NodeProto[] = [
    { opType: 'Flatten', name: `${base}_flatten`, input: [x], output: [`${base}_features`], attribute: [{ name: 'axis', type: 2, i: Long.fromNumber(1) }] },
    { opType: 'Gemm', name: `${base}_gemm`, input: gemmIn, output: [`${base}_logits`], attribute: [{ name: 'transB', type: 2, i: Long.fromNumber(1) }] },
    { opType: 'Reshape', name: `${base}_reshape`, input: [`${base}_logits`, `${base}_shape`], output: [y] },
  ];
  const inits = [makeTensor(`${base}_weight`, [K, C], w.data), makeTensor(`${base}_shape`, [4], BigInt64Array.from([1n, BigInt(K), 1n, 1n]))];
  const g = m.graph!;
  const i = g.node!.indexOf(conv);
  g.node!.splice(i, 1, ...nodes);
  g.initializer = [...g.initializer!.filter((t) => t.name !== conv.input![1]), ...inits];
  return { model: m, rewritten: base };
}
