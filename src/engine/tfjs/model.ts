/**
 * The zoo Graph as a TensorFlow.js LayersModel (NHWC), with the Graph's own weights: a second, independent
 * runtime to cross-check the ONNX emission against, and an engine for boards where onnxruntime does not run.
 */
import { tf } from './backend.js';
import { GroupedConv2D, ExplicitPool2D, FakeQuant2D, ClampMax } from './layers.js';
import type { FakeQuant } from '../../onnx/dequantize-qdq.js';
import { inferShapes, numel, type Graph, type Layer, type ConvLayer, type PoolLayer } from '../../zoo/graph.js';
import { foldBatchNorm } from '../../zoo/fold.js';
import { samePads } from '../../zoo/builder.js';
import { EdgefitError } from '../../util/errors.js';

export interface TfjsModelOptions {
  /** default: what the graph produces (probabilities when it ends in softmax, else logits) */
  output?: 'logits' | 'probabilities';
  /** fold conv+BN pairs first (faster); default false, so BN runs as tfjs BatchNormalization */
  foldBn?: boolean;
  /** a QDQ model's activations: rounded to their integer grid after the layer producing them */
  quantize?: ReadonlyMap<string, FakeQuant>;
  /** Clip(0, max) layers (relu in the graph): their outputs clamped at max */
  clampMax?: ReadonlyMap<string, number>;
}

export interface TfjsModel {
  /** input: float32 [1, H, W, C] already normalised (the Graph's input, NHWC); output [1, classes] */
  model: tf.LayersModel;
  outputKind: 'logits' | 'probabilities';
}

type Sym = tf.SymbolicTensor;

/** Builds the LayersModel; weights are copied in, the Graph is not modified. */
export function buildTfjsModel(graph: Graph, opts: TfjsModelOptions = {}): TfjsModel {
  const g = opts.foldBn ? foldBatchNorm(graph) : graph;
  let shapes: Map<string, number[]>;
  try {
    shapes = inferShapes(g);
  } catch (err) {
    throw new EdgefitError('E_GRAPH', `cannot build a TensorFlow.js model for ${g.meta.family}: ${(err as Error).message}`, { cause: err });
  }
  const producer = new Map(g.layers.map((l) => [l.output, l] as const));
  const last = producer.get(g.output);
  if (last?.op === 'ssd_output') throw tfjsNoDetectors(g);
  const endsInSoftmax = last?.op === 'softmax';
  const outputKind = opts.output ?? (endsInSoftmax ? 'probabilities' : 'logits');
  const logitsTensor = endsInSoftmax ? last!.inputs[0]! : g.output;
  if (numel(shapes.get(logitsTensor)!) !== g.meta.classes) {
    throw new EdgefitError('E_GRAPH', `graph output ${logitsTensor} has shape [${shapes.get(logitsTensor)}], not ${g.meta.classes} classes`);
  }

  const [C, H, W] = g.input.shape;
  const usedNames = new Set<string>();
  const lname = (base: string): string => {
    const b = base.replace(/[^A-Za-z0-9_]/g, '_');
    let n = b;
    for (let i = 1; usedNames.has(n); i++) n = `${b}_${i}`;
    usedNames.add(n);
    return n;
  };
  const param = (key: string): Float32Array => {
    const p = g.params.get(key);
    if (!p) throw new EdgefitError('E_GRAPH', `parameter ${key} is missing from the graph; rebuild it with the zoo builder`);
    return p.data;
  };
  /** applies a layer and sets its weights (given as tensors, disposed here) */
  const apply = (layer: tf.layers.Layer, x: Sym | Sym[], weights: tf.Tensor[] = []): Sym => {
    const y = layer.apply(x) as Sym;
    if (weights.length) { layer.setWeights(weights); for (const w of weights) w.dispose(); }
    return y;
  };

  const input = tf.input({ shape: [H, W, C], name: lname('input') });
  const inQ = opts.quantize?.get(g.input.name);
  const env = new Map<string, Sym>([[g.input.name, inQ ? apply(new FakeQuant2D({ name: lname('input_q'), ...inQ }), input) : input]]);
  const get = (t: string): Sym => {
    const s = env.get(t);
    if (!s) throw new EdgefitError('E_GRAPH', `tensor ${t} is used before it is produced`);
    return s;
  };
  /** NCHW flatten order: channels-first before flattening a spatial map */
  const flat = (x: Sym, shape: number[], name: string): Sym => {
    if (shape.length === 1) return x;
    if (shape[1] === 1 && shape[2] === 1) return apply(tf.layers.reshape({ targetShape: [shape[0]!], name: lname(name) }), x);
    const chw = apply(tf.layers.permute({ dims: [3, 1, 2], name: lname(`${name}_chw`) }), x);
    return apply(tf.layers.flatten({ name: lname(name) }), chw);
  };

  for (const l of g.layers) {
    if (endsInSoftmax && l === last) continue;
    const inShape = shapes.get(l.inputs[0]!)!;
    const x = get(l.inputs[0]!);
    let y = layerOf(l, x, inShape);
    const top = opts.clampMax?.get(l.output);
    if (top !== undefined) y = apply(new ClampMax({ name: lname(`${l.name}_max`), max: top }), y);
    const q = opts.quantize?.get(l.output);
    env.set(l.output, q ? apply(new FakeQuant2D({ name: lname(`${l.name}_q`), ...q }), y) : y);
  }

  function layerOf(l: Layer, x: Sym, inShape: number[]): Sym {
    switch (l.op) {
      case 'conv': return conv(l, x, inShape);
      case 'bn': {
        const ws = ['gamma', 'beta', 'mean', 'var'].map((r) => tf.tensor1d(param(`${l.name}.${r}`)));
        return apply(tf.layers.batchNormalization({ axis: -1, epsilon: l.epsilon, name: lname(l.name) }), x, ws);
      }
      case 'relu': return apply(tf.layers.reLU({ name: lname(l.name) }), x);
      case 'relu6': return apply(tf.layers.reLU({ maxValue: 6, name: lname(l.name) }), x);
      case 'add': return apply(tf.layers.add({ name: lname(l.name) }), l.inputs.map(get));
      case 'concat': return apply(tf.layers.concatenate({ axis: -1, name: lname(l.name) }), l.inputs.map(get));
      case 'shuffle': {
        const [c, h, w] = inShape as [number, number, number];
        const gr = l.groups;
        // NCHW reshape [g, C/g] + swap == NHWC reshape [.., g, C/g] + swap of the last two axes
        const a = apply(tf.layers.reshape({ targetShape: [h, w, gr, c / gr], name: lname(`${l.name}_split`) }), x);
        const b = apply(tf.layers.permute({ dims: [1, 2, 4, 3], name: lname(`${l.name}_swap`) }), a);
        return apply(tf.layers.reshape({ targetShape: [h, w, c], name: lname(`${l.name}_merge`) }), b);
      }
      case 'maxpool':
      case 'avgpool': return pool(l, x, inShape);
      case 'gap': {
        const p = apply(tf.layers.globalAveragePooling2d({ name: lname(l.name) }), x);
        return apply(tf.layers.reshape({ targetShape: [1, 1, inShape[0]!], name: lname(`${l.name}_keep`) }), p);
      }
      case 'flatten': return flat(x, inShape, l.name);
      case 'dense': {
        const a = flat(x, inShape, `${l.name}_flatten`);
        const n = numel(inShape);
        const ws: tf.Tensor[] = [tf.tidy(() => tf.transpose(tf.tensor2d(param(`${l.name}.weight`), [l.units, n])))];
        if (l.bias) ws.push(tf.tensor1d(param(`${l.name}.bias`)));
        return apply(tf.layers.dense({ units: l.units, useBias: l.bias, name: lname(l.name) }), a, ws);
      }
      case 'softmax': return apply(tf.layers.softmax({ axis: -1, name: lname(l.name) }), x);
      case 'ssd_output': throw tfjsNoDetectors(g);
    }
  }

  function conv(l: ConvLayer, x: Sym, inShape: number[]): Sym {
    const [inC, h, w] = inShape as [number, number, number];
    const [kh, kw] = l.kernel;
    const O = l.outChannels;
    const padding = paddingMode(l.pads, h, w, l.kernel, l.stride);
    if (padding === 'explicit') {
      const [t, le, b, r] = l.pads;
      x = apply(tf.layers.zeroPadding2d({ padding: [[t, b], [le, r]], name: lname(`${l.name}_pad`) }), x);
    }
    const pad = padding === 'same' ? 'same' : 'valid';
    const wdata = param(`${l.name}.weight`);
    const bias = l.bias ? [tf.tensor1d(param(`${l.name}.bias`))] : [];
    const depthwise = l.group === inC && l.group > 1;
    if (depthwise) {
      const m = O / inC;
      // OIHW [inC*m, 1, kh, kw] -> [kh, kw, inC, m]; output channel c*m+j in both layouts
      const k = tf.tidy(() => tf.transpose(tf.tensor4d(wdata, [inC, m, kh, kw]), [2, 3, 0, 1]));
      return apply(tf.layers.depthwiseConv2d({ kernelSize: [kh, kw], strides: l.stride, depthMultiplier: m, padding: pad, useBias: l.bias, name: lname(l.name) }), x, [k, ...bias]);
    }
    // OIHW -> HWIO
    const k = tf.tidy(() => tf.transpose(tf.tensor4d(wdata, [O, inC / l.group, kh, kw]), [2, 3, 1, 0]));
    if (l.group === 1) {
      return apply(tf.layers.conv2d({ filters: O, kernelSize: [kh, kw], strides: l.stride, padding: pad, useBias: l.bias, name: lname(l.name) }), x, [k, ...bias]);
    }
    if (padding === 'same') {
      const [t, le, b, r] = l.pads;
      x = apply(tf.layers.zeroPadding2d({ padding: [[t, b], [le, r]], name: lname(`${l.name}_pad`) }), x);
    }
    return apply(new GroupedConv2D({ name: lname(l.name), filters: O, kernel: l.kernel, strides: l.stride, groups: l.group, useBias: l.bias }), x, [k, ...bias]);
  }

  function pool(l: PoolLayer, x: Sym, inShape: number[]): Sym {
    const [, h, w] = inShape as [number, number, number];
    const noPad = l.pads.every((p) => p === 0);
    // floor and ceil agree when the windows tile the input exactly
    const ceilMatters = l.ceil && ((h - l.kernel[0]) % l.stride[0] !== 0 || (w - l.kernel[1]) % l.stride[1] !== 0);
    if (noPad && !ceilMatters) {
      const args = { poolSize: l.kernel, strides: l.stride, padding: 'valid' as const, name: lname(l.name) };
      return apply(l.op === 'maxpool' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args), x);
    }
    return apply(new ExplicitPool2D({ name: lname(l.name), op: l.op, kernel: l.kernel, strides: l.stride, pads: l.pads, ceil: l.ceil }), x);
  }

  let out = get(logitsTensor);
  out = flat(out, shapes.get(logitsTensor)!, 'logits_flatten');
  if (outputKind === 'probabilities') out = apply(tf.layers.softmax({ axis: -1, name: lname('probabilities') }), out);
  const model = tf.model({ inputs: input, outputs: out, name: `${g.meta.family}_${String(g.meta.alpha).replace('.', '_')}_${g.meta.resolution}` });
  return { model, outputKind };
}

/** 'valid' when there is no padding, 'same' when the pads are exactly TensorFlow's SAME, else explicit zero pads. */
function paddingMode(pads: [number, number, number, number], h: number, w: number, k: [number, number], s: [number, number]): 'valid' | 'same' | 'explicit' {
  if (pads.every((p) => p === 0)) return 'valid';
  const [t, b] = samePads(h, k[0], s[0]);
  const [l, r] = samePads(w, k[1], s[1]);
  return pads[0] === t && pads[1] === l && pads[2] === b && pads[3] === r ? 'same' : 'explicit';
}

function tfjsNoDetectors(g: Graph): EdgefitError {
  return new EdgefitError('E_GRAPH', `the TensorFlow.js engine runs classifiers only; run the ${g.meta.family} SSDLite detector with onnxruntime`);
}
