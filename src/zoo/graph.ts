/**
 * The zoo's typed graph description. Batch is always 1 and implicit; feature maps are [C, H, W] (NCHW without N),
 * flat tensors are [C]. Weights live in `params`, keyed `${layerName}.${role}`:
 *   conv:  weight [outC, inC/group, kh, kw] (OIHW, as ONNX), bias [outC]
 *   dense: weight [units, inFeatures] (as ONNX Gemm with transB=1), bias [units]
 *   bn:    gamma, beta, mean, var, each [C]
 */

export type Activation = 'relu' | 'relu6';

interface LayerBase {
  name: string;
  inputs: string[];
  output: string;
}

export interface ConvLayer extends LayerBase {
  op: 'conv';
  outChannels: number;
  kernel: [number, number];
  stride: [number, number];
  /** [top, left, bottom, right] */
  pads: [number, number, number, number];
  group: number;
  bias: boolean;
}
export interface BatchNormLayer extends LayerBase { op: 'bn'; epsilon: number }
export interface ActLayer extends LayerBase { op: Activation }
export interface AddLayer extends LayerBase { op: 'add' }
/** Concatenation along channels. */
export interface ConcatLayer extends LayerBase { op: 'concat' }
export interface ShuffleLayer extends LayerBase { op: 'shuffle'; groups: number }
export interface PoolLayer extends LayerBase {
  op: 'maxpool' | 'avgpool';
  kernel: [number, number];
  stride: [number, number];
  pads: [number, number, number, number];
  /** ONNX ceil_mode (Caffe-style pooling in SqueezeNet/ShuffleNet). */
  ceil: boolean;
}
export interface GlobalAvgPoolLayer extends LayerBase { op: 'gap' }
/** [C,1,1] or [C,H,W] -> [C*H*W] */
export interface FlattenLayer extends LayerBase { op: 'flatten' }
export interface DenseLayer extends LayerBase { op: 'dense'; units: number; bias: boolean }
export interface SoftmaxLayer extends LayerBase { op: 'softmax' }
/**
 * The output of an SSD detector: inputs are the box predictors of every feature map, then its class predictors
 * ([boxes * coords, H, W] and [boxes * classes, H, W]). Each predictor is laid out as TensorFlow's NHWC reshape
 * does it (anchors run row, column, box; channel = box * width + value), the maps are concatenated in order and
 * the class scores go through a sigmoid: [anchors, coords + classes] (src/types/detection.ts, `raw`).
 */
export interface SsdOutputLayer extends LayerBase { op: 'ssd_output'; coords: number; classes: number; boxes: number[] }

export type Layer =
  | ConvLayer | BatchNormLayer | ActLayer | AddLayer | ConcatLayer | ShuffleLayer
  | PoolLayer | GlobalAvgPoolLayer | FlattenLayer | DenseLayer | SoftmaxLayer | SsdOutputLayer;

export interface Param {
  shape: number[];
  data: Float32Array;
}

import type { Family } from '../types/model.js';

export type { Family } from '../types/model.js';

export interface GraphMeta {
  family: Family;
  /** width multiplier (MobileNets), scale factor (ShuffleNet); 1 elsewhere */
  alpha: number;
  resolution: number;
  classes: number;
  /** family-specific options, e.g. { groups: 3 } or { version: '1.1' } */
  options: Record<string, string | number | boolean>;
}

export interface Graph {
  meta: GraphMeta;
  input: { name: string; shape: [number, number, number] };
  layers: Layer[];
  /**
   * name of the output tensor: logits [classes] or probabilities if the last layer is softmax; a detector's
   * `ssd_output` [anchors, 4 + classes + 1]
   */
  output: string;
  params: Map<string, Param>;
}

/** Where a builder gets its weights: the seeded initialiser, or real weights from an importer. */
export type WeightRole = 'conv.weight' | 'conv.bias' | 'dense.weight' | 'dense.bias' | 'bn.gamma' | 'bn.beta' | 'bn.mean' | 'bn.var';
export type WeightSource = (paramName: string, shape: number[], role: WeightRole, fanIn: number) => Float32Array;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Output spatial size of a conv/pool along one axis (ONNX semantics). */
export function outSize(inp: number, k: number, s: number, padBegin: number, padEnd: number, ceil = false): number {
  const v = (inp + padBegin + padEnd - k) / s;
  return (ceil ? Math.ceil(v) : Math.floor(v)) + 1;
}

/** Shapes of every tensor in the graph, in layer order; throws naming the layer when shapes do not fit. */
export function inferShapes(g: Graph): Map<string, number[]> {
  const shapes = new Map<string, number[]>([[g.input.name, [...g.input.shape]]]);
  const get = (layer: Layer, name: string): number[] => {
    const s = shapes.get(name);
    if (!s) throw new Error(`layer ${layer.name}: input ${name} is not produced before it`);
    return s;
  };
  for (const l of g.layers) {
    const a = get(l, l.inputs[0]!);
    let out: number[];
    switch (l.op) {
      case 'conv': {
        const [c, h, w] = a as [number, number, number];
        if (c % l.group !== 0 || l.outChannels % l.group !== 0) throw new Error(`layer ${l.name}: channels ${c}->${l.outChannels} not divisible by group ${l.group}`);
        out = [l.outChannels, outSize(h, l.kernel[0], l.stride[0], l.pads[0], l.pads[2]), outSize(w, l.kernel[1], l.stride[1], l.pads[1], l.pads[3])];
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        const [c, h, w] = a as [number, number, number];
        out = [c, outSize(h, l.kernel[0], l.stride[0], l.pads[0], l.pads[2], l.ceil), outSize(w, l.kernel[1], l.stride[1], l.pads[1], l.pads[3], l.ceil)];
        break;
      }
      case 'gap': out = [a[0]!, 1, 1]; break;
      case 'flatten': out = [numel(a)]; break;
      case 'dense': out = [l.units]; break;
      case 'add': {
        const b = get(l, l.inputs[1]!);
        if (a.join() !== b.join()) throw new Error(`layer ${l.name}: add of [${a}] and [${b}]`);
        out = a;
        break;
      }
      case 'concat': {
        const all = l.inputs.map((n) => get(l, n));
        for (const s of all) if (s[1] !== a[1] || s[2] !== a[2]) throw new Error(`layer ${l.name}: concat of [${a}] and [${s}]`);
        out = [all.reduce((t, s) => t + s[0]!, 0), a[1]!, a[2]!];
        break;
      }
      case 'ssd_output': out = ssdOutputShape(l, l.inputs.map((n) => get(l, n))); break;
      default: out = a;
    }
    if (out.some((d) => !(d > 0))) throw new Error(`layer ${l.name}: output shape [${out}] is empty; the input resolution is too small for this family`);
    shapes.set(l.output, out);
  }
  return shapes;
}

/** [anchors, coords + classes] of an `ssd_output` layer; throws when a predictor does not fit its box count. */
export function ssdOutputShape(l: SsdOutputLayer, inputs: number[][]): number[] {
  const maps = l.boxes.length;
  if (maps === 0 || inputs.length !== 2 * maps) throw new Error(`layer ${l.name}: ${inputs.length} inputs for ${maps} feature maps (box then class predictors)`);
  let anchors = 0;
  for (let m = 0; m < maps; m++) {
    const [bc, bh, bw] = inputs[m] as [number, number, number];
    const [cc, ch, cw] = inputs[maps + m] as [number, number, number];
    const n = l.boxes[m]!;
    if (bc !== n * l.coords || cc !== n * l.classes || bh !== ch || bw !== cw) {
      throw new Error(`layer ${l.name}: map ${m} predictors [${inputs[m]}] and [${inputs[maps + m]}] do not hold ${n} boxes of ${l.coords} coords and ${l.classes} classes`);
    }
    anchors += bh * bw * n;
  }
  return [anchors, l.coords + l.classes];
}
