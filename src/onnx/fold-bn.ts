import type { BatchNormLayer, ConvLayer, Graph, Layer, Param } from '../zoo/graph.js';

/**
 * Folds every BatchNorm that directly follows a conv (and is that conv's only consumer) into the conv's weight
 * and bias. Returns a new Graph; the input graph and its params are not modified. Arithmetic is done in float64
 * and rounded once, so the result does not depend on evaluation order and is byte-stable.
 * BNs that do not follow a conv stay in the graph.
 */
export function foldBatchNormLocal(g: Graph): Graph {
  const consumers = new Map<string, number>();
  for (const l of g.layers) for (const i of l.inputs) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  if (g.output) consumers.set(g.output, (consumers.get(g.output) ?? 0) + 1);
  const producer = new Map<string, Layer>();
  for (const l of g.layers) producer.set(l.output, l);

  const params = new Map(g.params);
  const layers: Layer[] = [];
  const replaced = new Map<string, ConvLayer>();
  for (const l of g.layers) {
    if (l.op === 'bn') {
      const src = producer.get(l.inputs[0]!);
      if (src && src.op === 'conv' && consumers.get(src.output) === 1 && !replaced.has(src.name)) {
        const folded = foldOne(src, l, params);
        replaced.set(src.name, folded);
        const idx = layers.findIndex((x) => x.name === src.name);
        layers[idx] = folded;
        continue;
      }
    }
    layers.push(l);
  }
  return { ...g, layers, params };

  function foldOne(conv: ConvLayer, bn: BatchNormLayer, p: Map<string, Param>): ConvLayer {
    const need = (key: string): Param => {
      const v = p.get(key);
      if (!v) throw new Error(`batch-norm fold: parameter ${key} is missing`);
      return v;
    };
    const w = need(`${conv.name}.weight`);
    const gamma = need(`${bn.name}.gamma`).data;
    const beta = need(`${bn.name}.beta`).data;
    const mean = need(`${bn.name}.mean`).data;
    const vr = need(`${bn.name}.var`).data;
    const oc = conv.outChannels;
    if (gamma.length !== oc || beta.length !== oc || mean.length !== oc || vr.length !== oc) {
      throw new Error(`batch-norm fold: ${bn.name} has ${gamma.length} channels but ${conv.name} outputs ${oc}`);
    }
    const bias = conv.bias ? need(`${conv.name}.bias`).data : undefined;
    const per = w.data.length / oc;
    const nw = new Float32Array(w.data.length);
    const nb = new Float32Array(oc);
    for (let o = 0; o < oc; o++) {
      const s = gamma[o]! / Math.sqrt(vr[o]! + bn.epsilon);
      for (let i = 0; i < per; i++) nw[o * per + i] = w.data[o * per + i]! * s;
      nb[o] = ((bias ? bias[o]! : 0) - mean[o]!) * s + beta[o]!;
    }
    p.set(`${conv.name}.weight`, { shape: [...w.shape], data: nw });
    p.set(`${conv.name}.bias`, { shape: [oc], data: nb });
    for (const r of ['gamma', 'beta', 'mean', 'var']) p.delete(`${bn.name}.${r}`);
    return { ...conv, bias: true, output: bn.output };
  }
}
