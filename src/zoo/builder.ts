/**
 * GraphBuilder: appends layers to a zoo Graph while tracking every tensor's shape, so builders can ask for
 * channels and spatial sizes as they go; weights are pulled from the WeightSource as each layer is made.
 * Tensor names equal the names of the layers that produce them.
 */
import {
  numel, outSize, ssdOutputShape,
  type Activation, type Graph, type GraphMeta, type Layer, type Param, type WeightRole, type WeightSource,
} from './graph.js';

/** Keras/TF use epsilon 1e-3 for BN in all of these families; importers rely on it. */
export const BN_EPSILON = 1e-3;

/** The input is too small for the layer being added (the registry turns this into a user-facing message). */
export class ResolutionTooSmallError extends Error {
  override name = 'ResolutionTooSmallError';
}

export type Pad = 'same' | 'valid' | number | [number, number, number, number];

export interface ConvSpec {
  out: number;
  kernel: number;
  stride?: number;
  /** 'same' is TensorFlow SAME (extra pixel at the end), computed for the actual input size */
  pad?: Pad;
  group?: number;
  bias?: boolean;
}

export interface PoolSpec {
  kernel: number;
  stride: number;
  pad?: Pad;
  ceil?: boolean;
}

/** TensorFlow SAME padding along one axis: output ceil(in/s), the odd pixel of padding goes at the end. */
export function samePads(inp: number, k: number, s: number): [number, number] {
  const out = Math.ceil(inp / s);
  const total = Math.max((out - 1) * s + k - inp, 0);
  const begin = Math.floor(total / 2);
  return [begin, total - begin];
}

export class GraphBuilder {
  readonly layers: Layer[] = [];
  readonly params = new Map<string, Param>();
  private readonly shapes = new Map<string, number[]>();

  constructor(
    readonly meta: GraphMeta,
    readonly weights: WeightSource,
    readonly activation: Activation,
    readonly inputName = 'input',
  ) {
    this.shapes.set(inputName, [3, meta.resolution, meta.resolution]);
  }

  shape(t: string): number[] {
    const s = this.shapes.get(t);
    if (!s) throw new Error(`zoo builder: tensor ${t} does not exist yet`);
    return s;
  }

  channels(t: string): number {
    return this.shape(t)[0]!;
  }

  private push(layer: Layer, outShape: number[]): string {
    if (this.shapes.has(layer.output)) throw new Error(`zoo builder: duplicate layer name ${layer.name}`);
    if (outShape.some((d) => !(d > 0))) {
      throw new ResolutionTooSmallError(`layer ${layer.name}: output shape [${outShape}] is empty`);
    }
    this.layers.push(layer);
    this.shapes.set(layer.output, outShape);
    return layer.output;
  }

  private param(name: string, shape: number[], role: WeightRole, fanIn: number): void {
    const data = this.weights(name, shape, role, fanIn);
    if (!(data instanceof Float32Array) || data.length !== numel(shape)) {
      throw new Error(`weight source gave ${name} ${data instanceof Float32Array ? `${data.length} values` : 'no Float32Array'}, expected [${shape}] = ${numel(shape)} values`);
    }
    this.params.set(name, { shape, data });
  }

  private pads(p: Pad | undefined, h: number, w: number, k: number, s: number): [number, number, number, number] {
    if (p === undefined || p === 'valid') return [0, 0, 0, 0];
    if (p === 'same') {
      const [t, b] = samePads(h, k, s);
      const [l, r] = samePads(w, k, s);
      return [t, l, b, r];
    }
    if (typeof p === 'number') return [p, p, p, p];
    return p;
  }

  /** A kernel larger than the padded input has no valid position (runtimes refuse it). */
  private checkWindow(name: string, h: number, w: number, k: number, pads: [number, number, number, number]): void {
    if (h + pads[0] + pads[2] < k || w + pads[1] + pads[3] < k) {
      throw new ResolutionTooSmallError(`layer ${name}: its ${k}x${k} window does not fit the ${h}x${w} input`);
    }
  }

  conv(name: string, x: string, spec: ConvSpec): string {
    const [c, h, w] = this.shape(x) as [number, number, number];
    const k = spec.kernel;
    const s = spec.stride ?? 1;
    const group = spec.group ?? 1;
    if (c % group !== 0 || spec.out % group !== 0) throw new Error(`layer ${name}: channels ${c}->${spec.out} not divisible by group ${group}`);
    const pads = this.pads(spec.pad, h, w, k, s);
    this.checkWindow(name, h, w, k, pads);
    const bias = spec.bias ?? false;
    const fanIn = (c / group) * k * k;
    this.param(`${name}.weight`, [spec.out, c / group, k, k], 'conv.weight', fanIn);
    if (bias) this.param(`${name}.bias`, [spec.out], 'conv.bias', fanIn);
    return this.push(
      { op: 'conv', name, inputs: [x], output: name, outChannels: spec.out, kernel: [k, k], stride: [s, s], pads, group, bias },
      [spec.out, outSize(h, k, s, pads[0], pads[2]), outSize(w, k, s, pads[1], pads[3])],
    );
  }

  bn(name: string, x: string): string {
    const c = this.channels(x);
    this.param(`${name}.gamma`, [c], 'bn.gamma', c);
    this.param(`${name}.beta`, [c], 'bn.beta', c);
    this.param(`${name}.mean`, [c], 'bn.mean', c);
    this.param(`${name}.var`, [c], 'bn.var', c);
    return this.push({ op: 'bn', name, inputs: [x], output: name, epsilon: BN_EPSILON }, this.shape(x));
  }

  act(name: string, x: string, kind: Activation = this.activation): string {
    return this.push({ op: kind, name, inputs: [x], output: name }, this.shape(x));
  }

  add(name: string, a: string, b: string): string {
    const sa = this.shape(a);
    const sb = this.shape(b);
    if (sa.join() !== sb.join()) throw new Error(`layer ${name}: add of [${sa}] and [${sb}]`);
    return this.push({ op: 'add', name, inputs: [a, b], output: name }, sa);
  }

  concat(name: string, xs: string[]): string {
    const shapes = xs.map((t) => this.shape(t));
    const [, h, w] = shapes[0]!;
    for (const s of shapes) if (s[1] !== h || s[2] !== w) throw new Error(`layer ${name}: concat of [${shapes[0]}] and [${s}]`);
    return this.push({ op: 'concat', name, inputs: xs, output: name }, [shapes.reduce((t, s) => t + s[0]!, 0), h!, w!]);
  }

  shuffle(name: string, x: string, groups: number): string {
    if (this.channels(x) % groups !== 0) throw new Error(`layer ${name}: ${this.channels(x)} channels cannot shuffle in ${groups} groups`);
    return this.push({ op: 'shuffle', name, inputs: [x], output: name, groups }, this.shape(x));
  }

  pool(name: string, x: string, op: 'maxpool' | 'avgpool', spec: PoolSpec): string {
    const [c, h, w] = this.shape(x) as [number, number, number];
    const pads = this.pads(spec.pad, h, w, spec.kernel, spec.stride);
    this.checkWindow(name, h, w, spec.kernel, pads);
    const ceil = spec.ceil ?? false;
    const k = spec.kernel;
    const s = spec.stride;
    return this.push(
      { op, name, inputs: [x], output: name, kernel: [k, k], stride: [s, s], pads, ceil },
      [c, outSize(h, k, s, pads[0], pads[2], ceil), outSize(w, k, s, pads[1], pads[3], ceil)],
    );
  }

  gap(name: string, x: string): string {
    return this.push({ op: 'gap', name, inputs: [x], output: name }, [this.channels(x), 1, 1]);
  }

  flatten(name: string, x: string): string {
    return this.push({ op: 'flatten', name, inputs: [x], output: name }, [numel(this.shape(x))]);
  }

  dense(name: string, x: string, units: number, bias = true): string {
    const s = this.shape(x);
    if (s.length !== 1) throw new Error(`layer ${name}: dense needs a flat input, got [${s}]`);
    const inF = s[0]!;
    this.param(`${name}.weight`, [units, inF], 'dense.weight', inF);
    if (bias) this.param(`${name}.bias`, [units], 'dense.bias', inF);
    return this.push({ op: 'dense', name, inputs: [x], output: name, units, bias }, [units]);
  }

  softmax(name: string, x: string): string {
    return this.push({ op: 'softmax', name, inputs: [x], output: name }, this.shape(x));
  }

  /** SSD output: box predictors of every map, then class predictors (see SsdOutputLayer). */
  ssdOutput(name: string, boxes: string[], classes: string[], spec: { coords: number; classes: number; boxes: number[] }): string {
    const layer = { op: 'ssd_output' as const, name, inputs: [...boxes, ...classes], output: name, coords: spec.coords, classes: spec.classes, boxes: [...spec.boxes] };
    return this.push(layer, ssdOutputShape(layer, layer.inputs.map((t) => this.shape(t))));
  }

  finish(output: string): Graph {
    this.shape(output);
    return {
      meta: this.meta,
      input: { name: this.inputName, shape: [3, this.meta.resolution, this.meta.resolution] },
      layers: this.layers,
      output,
      params: this.params,
    };
  }
}
