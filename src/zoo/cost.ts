/**
 * Exact cost accounting of a zoo Graph, with the conventions of the papers:
 * - MACs (mult-adds) count convolutions and dense layers only: (inC/group) * kh * kw * outC * Hout * Wout per
 *   conv, in * out per dense. BN, activations, pooling, adds and shuffles are not counted (MobileNet, ShuffleNet
 *   and SqueezeNet papers do the same; ShuffleNet's "FLOPs" are these mult-adds).
 * - `params` counts conv and dense weights and biases, without BN. `trainableParams` adds BN gamma and beta
 *   (2 per channel): what TF/Keras train, and what the MobileNet-v1 (table 6) and Xception (table 3) papers
 *   report. `paramsWithBn` adds mean and var too (4 per BN channel): Keras's "Total params". The MobileNet-v2
 *   authors' repository reports `params` (3.47M at 1.0).
 * - Weight bytes are those of the deployed model, BN folded into the conv before it (each such conv gains a
 *   bias): fp32 4 bytes per value; int8 1 byte per weight and 4 per bias (int32). Quantization scales and
 *   zero points are not included.
 * - Peak activation memory of the sequential schedule in layer order: a tensor is live from the layer that
 *   produces it to its last reader (the graph input from the start, the graph output to the end); the peak is
 *   the largest live set while any layer runs (its inputs and its output both count).
 */
import { foldablePairs } from './fold.js';
import { inferShapes, numel, type Graph, type Layer } from './graph.js';

export type MacKind = 'depthwise' | 'pointwise' | 'conv' | 'classifier';

export interface LayerCost {
  name: string;
  op: Layer['op'];
  /** set on conv and dense layers */
  kind?: MacKind;
  inShape: number[];
  outShape: number[];
  /** weights + biases (no BN) */
  params: number;
  /** BN layers: 4 per channel */
  bnParams: number;
  macs: number;
}

export interface ActivationPeak {
  /** values live at the peak */
  elements: number;
  fp32Bytes: number;
  int8Bytes: number;
  /** the layer running at the peak */
  atLayer: string;
}

export interface GraphCost {
  params: number;
  trainableParams: number;
  paramsWithBn: number;
  bnParams: number;
  macs: Record<MacKind, number> & { total: number };
  /** deployed model (BN folded): fp32 4 B/value; int8 1 B/weight + 4 B/bias */
  weightBytes: { fp32: number; int8: number };
  /** the definition above, on this graph as it is */
  peakActivation: ActivationPeak;
  /**
   * The same with BN folded away and activations, flatten done in place (their input's buffer is reused when
   * nothing reads it afterwards): closer to what an inference runtime with fused conv+activation allocates.
   */
  peakActivationFused: ActivationPeak;
  layers: LayerCost[];
}

/** The conv or dense layers whose output reaches the graph output only through parameter-free layers. */
function classifierLayers(g: Graph): Set<string> {
  const producer = new Map<string, Layer>();
  for (const l of g.layers) producer.set(l.output, l);
  const out = new Set<string>();
  let t: string | undefined = g.output;
  while (t !== undefined) {
    const l = producer.get(t);
    if (!l) break;
    if (l.op === 'conv' || l.op === 'dense') { out.add(l.name); break; }
    if (l.inputs.length !== 1) break;
    t = l.inputs[0];
  }
  return out;
}

function convKind(inC: number, l: Extract<Layer, { op: 'conv' }>): MacKind {
  if (l.group > 1 && l.group === inC) return 'depthwise';
  if (l.kernel[0] === 1 && l.kernel[1] === 1) return 'pointwise';
  return 'conv';
}

export function peakActivation(g: Graph, shapes: Map<string, number[]>, fused: boolean): ActivationPeak {
  const n = g.layers.length;
  const lastRead = new Map<string, number>();
  g.layers.forEach((l, i) => { for (const t of l.inputs) lastRead.set(t, i); });
  lastRead.set(g.output, n);
  const foldedBn = fused ? new Set(foldablePairs(g).keys()) : new Set<string>();

  // buffers: tensors that alias their input (in place) share the input's buffer
  const bufferOf = new Map<string, string>([[g.input.name, g.input.name]]);
  const start = new Map<string, number>([[g.input.name, 0]]);
  const end = new Map<string, number>([[g.input.name, lastRead.get(g.input.name) ?? 0]]);
  const size = new Map<string, number>([[g.input.name, numel(shapes.get(g.input.name)!)]]);
  g.layers.forEach((l, i) => {
    const inPlace = fused && l.inputs.length === 1 &&
      (foldedBn.has(l.name) || l.op === 'relu' || l.op === 'relu6' || l.op === 'flatten') &&
      lastRead.get(l.inputs[0]!) === i;
    const last = lastRead.get(l.output) ?? i;
    if (inPlace) {
      const buf = bufferOf.get(l.inputs[0]!)!;
      bufferOf.set(l.output, buf);
      end.set(buf, Math.max(end.get(buf)!, last));
    } else {
      bufferOf.set(l.output, l.output);
      start.set(l.output, i);
      end.set(l.output, last);
      size.set(l.output, numel(shapes.get(l.output)!));
    }
  });
  let best = -1;
  let at = '';
  const live = new Float64Array(Math.max(1, n));
  for (const [buf, s] of start) {
    const e = Math.min(end.get(buf)!, n - 1);
    for (let i = s; i <= e; i++) live[i]! += size.get(buf)!;
  }
  for (let i = 0; i < n; i++) if (live[i]! > best) { best = live[i]!; at = g.layers[i]!.name; }
  return { elements: best, fp32Bytes: best * 4, int8Bytes: best, atLayer: at };
}

export function graphCost(g: Graph): GraphCost {
  const shapes = inferShapes(g);
  const classifiers = classifierLayers(g);
  const foldable = foldablePairs(g);
  const foldedInto = new Set([...foldable.values()].map((c) => c.name));
  const macs = { depthwise: 0, pointwise: 0, conv: 0, classifier: 0, total: 0 };
  let params = 0;
  let bnParams = 0;
  let weights = 0;
  let biases = 0;
  /** BNs that stay (not after a conv) deploy as a per-channel scale and shift */
  let bnLeft = 0;
  const layers: LayerCost[] = [];
  for (const l of g.layers) {
    const inShape = shapes.get(l.inputs[0]!)!;
    const outShape = shapes.get(l.output)!;
    let p = 0;
    let bp = 0;
    let m = 0;
    let kind: MacKind | undefined;
    if (l.op === 'conv') {
      const inC = inShape[0]!;
      const w = l.outChannels * (inC / l.group) * l.kernel[0] * l.kernel[1];
      p = w + (l.bias ? l.outChannels : 0);
      m = w * outShape[1]! * outShape[2]!;
      kind = classifiers.has(l.name) ? 'classifier' : convKind(inC, l);
      weights += w;
      biases += l.bias || foldedInto.has(l.name) ? l.outChannels : 0;
    } else if (l.op === 'dense') {
      const w = l.units * inShape[0]!;
      p = w + (l.bias ? l.units : 0);
      m = w;
      kind = 'classifier';
      weights += w;
      biases += l.bias ? l.units : 0;
    } else if (l.op === 'bn') {
      bp = 4 * inShape[0]!;
      if (!foldable.has(l.name)) bnLeft += 2 * inShape[0]!;
    }
    if (kind) macs[kind] += m;
    macs.total += m;
    params += p;
    bnParams += bp;
    layers.push({ name: l.name, op: l.op, ...(kind ? { kind } : {}), inShape, outShape, params: p, bnParams: bp, macs: m });
  }
  return {
    params,
    trainableParams: params + bnParams / 2,
    paramsWithBn: params + bnParams,
    bnParams,
    macs,
    weightBytes: { fp32: 4 * (weights + biases + bnLeft), int8: weights + 4 * (biases + bnLeft) },
    peakActivation: peakActivation(g, shapes, false),
    peakActivationFused: peakActivation(g, shapes, true),
    layers,
  };
}

/** A fixed-width text table of the per-layer costs. */
export function formatLayerTable(c: GraphCost): string {
  const rows = [['layer', 'op', 'kind', 'in', 'out', 'params', 'MACs']];
  for (const l of c.layers) {
    rows.push([l.name, l.op, l.kind ?? '', l.inShape.join('x'), l.outShape.join('x'), String(l.params + l.bnParams), String(l.macs)]);
  }
  rows.push(['total', '', '', '', '', String(c.paramsWithBn), String(c.macs.total)]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((v, i) => (i >= 5 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ')).join('\n');
}
