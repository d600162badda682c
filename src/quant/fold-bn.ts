import { makeTensor } from '../onnx/builder.js';
import { attr } from '../onnx/reader.js';
import type { ModelProto } from '../onnx/proto.js';
import { GraphIndex, cloneModel } from './model.js';

/**
 * Folds BatchNormalization nodes that directly follow a Conv (its only consumer) into the conv's weight and
 * bias, so the quantizer sees one conv per layer. Other BNs stay (and stay float).
 */
export function foldBatchNormOnnx(model: ModelProto): { model: ModelProto; folded: number } {
  const m = cloneModel(model);
  const ix = new GraphIndex(m);
  const g = m.graph!;
  const remove = new Set<object>();
  let folded = 0;
  const replace = new Map<string, ReturnType<typeof makeTensor>>();
  for (const bn of ix.nodes) {
    if (bn.opType !== 'BatchNormalization') continue;
    const conv = ix.producer.get(bn.input![0]!);
    if (!conv || conv.opType !== 'Conv' || (ix.consumers.get(conv.output![0]!) ?? []).length !== 1 || ix.graphOutputs.has(conv.output![0]!)) continue;
    const w = ix.floatInit(conv.input![1]!);
    const [gamma, beta, mean, variance] = [1, 2, 3, 4].map((i) => ix.floatInit(bn.input![i]!)?.data);
    if (!w || !gamma || !beta || !mean || !variance) continue;
    if ((ix.consumers.get(conv.input![1]!) ?? []).length !== 1) continue;
    const eps = Number(attr(bn, 'epsilon') ?? 1e-5);
    const C = w.dims[0]!;
    const per = w.data.length / C;
    const wd = w.data.slice();
    const oldBias = conv.input![2] ? ix.floatInit(conv.input![2])?.data : undefined;
    const bias = new Float32Array(C);
    for (let o = 0; o < C; o++) {
      const k = gamma[o]! / Math.sqrt(variance[o]! + eps);
      for (let i = 0; i < per; i++) wd[o * per + i] = wd[o * per + i]! * k;
      bias[o] = ((oldBias?.[o] ?? 0) - mean[o]!) * k + beta[o]!;
    }
    replace.set(conv.input![1]!, makeTensor(conv.input![1]!, w.dims, wd));
    const bName = `${conv.name ?? conv.output![0]}_bn_folded_bias`;
    replace.set(bName, makeTensor(bName, [C], bias));
    conv.input = [conv.input![0]!, conv.input![1]!, bName];
    conv.output = [bn.output![0]!];
    remove.add(bn);
    folded++;
  }
  if (folded === 0) return { model: m, folded };
  g.node = g.node!.filter((n) => !remove.has(n));
  const used = new Set(g.node.flatMap((n) => n.input ?? []));
  const inits = (g.initializer ?? []).filter((t) => !replace.has(t.name!)).concat([...replace.values()]);
  g.initializer = inits.filter((t) => used.has(t.name!));
  return { model: m, folded };
}
