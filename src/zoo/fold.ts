/**
 * BatchNorm folding: y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta is a conv with weights scaled per
 * output channel by s = gamma / sqrt(var + eps) and bias (b - mean) * s + beta. Deployed graphs (ONNX, int8)
 * carry no BN at all; only the training-style zoo graph does.
 */
import type { BatchNormLayer, ConvLayer, Graph, Layer, Param } from './graph.js';

/** Each BN whose input is a conv output that nothing else reads, keyed by the BN's name, with that conv. */
export function foldablePairs(g: Graph): Map<string, ConvLayer> {
  const readers = new Map<string, number>();
  for (const l of g.layers) for (const i of l.inputs) readers.set(i, (readers.get(i) ?? 0) + 1);
  readers.set(g.output, (readers.get(g.output) ?? 0) + 1);
  const producer = new Map<string, Layer>();
  for (const l of g.layers) producer.set(l.output, l);
  const pairs = new Map<string, ConvLayer>();
  for (const l of g.layers) {
    if (l.op !== 'bn') continue;
    const src = producer.get(l.inputs[0]!);
    if (src?.op === 'conv' && readers.get(src.output) === 1) pairs.set(l.name, src);
  }
  return pairs;
}

function need(g: Graph, key: string): Param {
  const p = g.params.get(key);
  if (!p) throw new Error(`BN folding: parameter ${key} is missing from the graph`);
  return p;
}

/**
 * A new Graph with every BN that directly follows a conv (as that conv's only reader) folded into it: the
 * conv keeps its name, gains a bias, and writes the BN's output tensor, so downstream layers are unchanged. Other BNs stay. The input graph is not modified.
 * Arithmetic in float64, rounded once to float32.
 */
export function foldBatchNorm(g: Graph): Graph {
  const pairs = foldablePairs(g);
  const foldedConvs = new Map<string, BatchNormLayer>();
  for (const l of g.layers) if (l.op === 'bn' && pairs.has(l.name)) foldedConvs.set(pairs.get(l.name)!.name, l);

  const params = new Map<string, Param>();
  const dropped = new Set<string>();
  const layers: Layer[] = [];
  for (const l of g.layers) {
    if (l.op === 'bn' && pairs.has(l.name)) {
      for (const r of ['gamma', 'beta', 'mean', 'var']) dropped.add(`${l.name}.${r}`);
      continue;
    }
    const bn = l.op === 'conv' ? foldedConvs.get(l.name) : undefined;
    if (l.op !== 'conv' || !bn) { layers.push(l); continue; }

    const w = need(g, `${l.name}.weight`);
    const oldBias = l.bias ? need(g, `${l.name}.bias`).data : undefined;
    const gamma = need(g, `${bn.name}.gamma`).data;
    const beta = need(g, `${bn.name}.beta`).data;
    const mean = need(g, `${bn.name}.mean`).data;
    const variance = need(g, `${bn.name}.var`).data;
    const outC = l.outChannels;
    const per = w.data.length / outC;
    const wd = new Float32Array(w.data.length);
    const bd = new Float32Array(outC);
    for (let o = 0; o < outC; o++) {
      const s = gamma[o]! / Math.sqrt(variance[o]! + bn.epsilon);
      const base = o * per;
      for (let i = 0; i < per; i++) wd[base + i] = w.data[base + i]! * s;
      bd[o] = ((oldBias ? oldBias[o]! : 0) - mean[o]!) * s + beta[o]!;
    }
    params.set(`${l.name}.weight`, { shape: [...w.shape], data: wd });
    params.set(`${l.name}.bias`, { shape: [outC], data: bd });
    const folded: ConvLayer = { ...l, bias: true, output: bn.output };
    layers.push(folded);
  }
  for (const [k, v] of g.params) if (!dropped.has(k) && !params.has(k)) params.set(k, v);
  // keep the original parameter order (weight, bias per layer) for stable serialisation
  const ordered = new Map<string, Param>();
  for (const k of g.params.keys()) {
    if (params.has(k)) ordered.set(k, params.get(k)!);
    if (k.endsWith('.weight')) {
      const bk = `${k.slice(0, -'.weight'.length)}.bias`;
      if (params.has(bk) && !g.params.has(bk)) ordered.set(bk, params.get(bk)!);
    }
  }
  return { ...g, meta: { ...g.meta, options: { ...g.meta.options } }, layers, params: ordered };
}
