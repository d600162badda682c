import { OnnxBuilder, makeTensor } from '../../onnx/builder.js';
import { DataType, type NodeProto } from '../../onnx/proto.js';
import { EdgefitError } from '../../util/errors.js';
import type { KerasWeights, KerasVar } from './h5.js';
import { asKerasFormatError, type KerasGraph, type KerasLayer } from './config.js';

export interface ConvertOptions {
  /** float input = pixel * scale + offset, folded into the graph in front of the first layer */
  scale: number;
  offset: number;
  /** used when the model leaves H/W open */
  resolution?: number;
  source: string;
}

export interface Converted {
  builder: OnnxBuilder;
  resolution: [number, number];
  classes: number;
  /** true when the graph ends in softmax */
  probabilities: boolean;
  inputName: string;
  outputName: string;
}

/** A tensor of the ONNX graph while it is built: 4-D feature maps are NCHW, everything else is [1, C]. */
interface Tensor {
  name: string;
  shape: number[];
  /** a ZeroPadding2D not materialised yet: [top, left, bottom, right], folded into the next conv/pool */
  pendingPad?: [number, number, number, number];
  /** the conv/dense that produced it, while a BatchNormalization could still be folded into it */
  foldable?: FoldTarget;
}

interface FoldTarget {
  node: NodeProto;
  weightName: string;
  weight: Float32Array;
  weightDims: number[];
  bias?: Float32Array;
  outChannels: number;
  /** Keras layer whose output this is: folding is only valid when that output has a single consumer */
  layer: string;
}

const IGNORED = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'ActivityRegularization']);

/**
 * Converts a parsed Keras graph with its weights into ONNX (NCHW inside). Input: uint8 NHWC RGB pixels, the
 * model's preprocessing folded in. BatchNormalization after a linear conv/dense is folded into its weights.
 */
export function convertKeras(g: KerasGraph, weights: KerasWeights, opts: ConvertOptions): Converted {
  try {
    return convert(g, weights, opts);
  } catch (err) {
    throw asKerasFormatError(err, opts.source);
  }
}

function convert(g: KerasGraph, weights: KerasWeights, opts: ConvertOptions): Converted {
  const src = opts.source;
  const b = new OnnxBuilder(g.name, 13);
  const consumers = new Map<string, number>();
  for (const l of g.layers) for (const i of l.inbound) consumers.set(i, (consumers.get(i) ?? 0) + 1);
  const tensors = new Map<string, Tensor>();
  let inputName = '';
  let resolution: [number, number] = [0, 0];

  const fail = (l: KerasLayer, why: string): never => {
    throw new EdgefitError('E_KERAS_UNSUPPORTED', `${src}: layer ${l.name} (${l.className}): ${why}`);
  };
  const vars = (l: KerasLayer): Map<string, KerasVar> => weights.get(l.name) ?? new Map();
  const need = (l: KerasLayer, v: string): KerasVar => {
    const x = vars(l).get(v);
    if (!x) throw new EdgefitError('E_KERAS_FORMAT', `${src}: layer ${l.name} (${l.className}) has no weight '${v}' in model_weights; the file is incomplete, re-save the model`);
    return x;
  };
  // The weights are read by index from sizes the config and the kernel imply: a shorter vector would be read
  // past its end (undefined, NaN in the model) and a longer one silently cut, so each is checked first.
  const mismatch = (l: KerasLayer, v: string, why: string): never => {
    throw new EdgefitError('E_KERAS_FORMAT', `${src}: weight ${v} of layer ${l.name} (${l.className}) ${why}; the weights do not belong to this architecture: re-save the model with model.save('x.h5') from the code that trained it`);
  };
  const vector = (l: KerasLayer, v: string, n: number): Float32Array => {
    const x = need(l, v);
    if (x.data.length !== n) mismatch(l, v, `has ${x.data.length} values, the layer needs ${n}`);
    return x.data;
  };
  const kernelOf = (l: KerasLayer, v: string, rank: number): KerasVar => {
    const x = need(l, v);
    if (x.shape.length !== rank || !x.shape.every((d) => Number.isInteger(d) && d > 0)) mismatch(l, v, `has shape [${x.shape.join(',')}], the layer needs a ${rank}-D kernel`);
    const count = x.shape.reduce((a, d) => a * d, 1);
    if (x.data.length !== count) mismatch(l, v, `has ${x.data.length} values for its shape [${x.shape.join(',')}] (${count})`);
    return x;
  };
  const materialize = (t: Tensor): Tensor => {
    if (!t.pendingPad) return t;
    const [pt, pl, pb, pr] = t.pendingPad;
    const pads = b.initializer('pads', [8], BigInt64Array.from([0, 0, pt, pl, 0, 0, pb, pr].map(BigInt)));
    const name = b.op('Pad', [t.name, pads], { mode: 'constant' });
    const s = t.shape;
    return { name, shape: [s[0]!, s[1]!, s[2]! + pt + pb, s[3]! + pl + pr] };
  };
  const inputOf = (l: KerasLayer, i = 0): Tensor => {
    const t = tensors.get(l.inbound[i] ?? '');
    if (!t) fail(l, `its input ${l.inbound[i]} is not available (unsupported graph order)`);
    return t!;
  };
  const activation = (l: KerasLayer, x: Tensor, act: string): Tensor => {
    switch (act) {
      case 'linear': return x;
      case 'relu': return { name: b.op('Relu', [x.name], {}, l.name), shape: x.shape };
      case 'relu6': return relu6(x, l.name);
      case 'sigmoid': return { name: b.op('Sigmoid', [x.name], {}, l.name), shape: x.shape };
      case 'tanh': return { name: b.op('Tanh', [x.name], {}, l.name), shape: x.shape };
      case 'softmax':
        if (x.shape.length !== 2) fail(l, 'softmax over a feature map is not supported; apply it to a flat tensor');
        return { name: b.op('Softmax', [x.name], { axis: 1 }, l.name), shape: x.shape };
      default: return fail(l, `activation '${act}' is not supported (linear, relu, relu6, sigmoid, tanh, softmax)`);
    }
  };
  const relu6 = (x: Tensor, name: string): Tensor => {
    const lo = b.initializer('zero', [], new Float32Array([0]));
    const hi = b.initializer('six', [], new Float32Array([6]));
    return { name: b.op('Clip', [x.name, lo, hi], {}, name), shape: x.shape };
  };

  for (const l of g.layers) {
    const c = l.config;
    let out: Tensor;
    switch (l.className) {
      case 'InputLayer': {
        const [h0, w0, ch] = g.inputShape;
        const h = h0 ?? opts.resolution;
        const w = w0 ?? opts.resolution;
        if (!h || !w) fail(l, 'the input size is open (None); pass a resolution');
        if (ch !== 3) fail(l, `the input has ${ch} channels; edgefit feeds RGB images (3 channels)`);
        resolution = [h!, w!];
        inputName = b.input('pixels', DataType.UINT8, [1, h!, w!, 3]);
        let x = b.op('Cast', [inputName], { to: DataType.FLOAT });
        if (opts.scale !== 1) x = b.op('Mul', [x, b.initializer('input_scale', [], new Float32Array([opts.scale]))]);
        if (opts.offset !== 0) x = b.op('Add', [x, b.initializer('input_offset', [], new Float32Array([opts.offset]))]);
        x = b.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'to_nchw');
        out = { name: x, shape: [1, 3, h!, w!] };
        break;
      }
      case 'Conv2D':
      case 'DepthwiseConv2D': {
        const x = inputOf(l);
        if (x.shape.length !== 4) fail(l, 'input is not a feature map');
        if ((c.data_format ?? 'channels_last') !== 'channels_last') fail(l, 'data_format channels_first is not supported');
        const depthwise = l.className === 'DepthwiseConv2D';
        const kernelName = depthwise ? 'depthwise_kernel' : 'kernel';
        const kernel = kernelOf(l, kernelName, 4);
        const [kh, kw, kin, kout] = kernel.shape as [number, number, number, number];
        const inC = x.shape[1]!;
        const groups = depthwise ? inC : Number(c.groups ?? 1);
        const outC = depthwise ? inC * kout : kout;
        if (depthwise && kin !== inC) mismatch(l, kernelName, `has shape [${kernel.shape.join(',')}] for ${kin} input channels, the layer's input has ${inC}`);
        if (!depthwise && kin * groups !== inC) fail(l, `kernel expects ${kin * groups} input channels, got ${inC}`);
        const strides = pair(c.strides, 1);
        const dil = pair(c.dilation_rate, 1);
        const { pads, shape } = spatial(l, x, [kh, kw], strides, dil, String(c.padding ?? 'valid'), fail);
        // HWIO -> OIHW; depthwise HW(C)(M) -> (C*M)1HW, output channel c*M+m as TF orders it
        const wData = new Float32Array(outC * (depthwise ? 1 : kin) * kh * kw);
        const inPer = depthwise ? 1 : kin;
        for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ci = 0; ci < kin; ci++) for (let o = 0; o < kout; o++) {
          const v = kernel.data[((i * kw + j) * kin + ci) * kout + o]!;
          const oc = depthwise ? ci * kout + o : o;
          const ic = depthwise ? 0 : ci;
          wData[((oc * inPer + ic) * kh + i) * kw + j] = v;
        }
        const wDims = [outC, inPer, kh, kw];
        const wName = b.initializer(`${l.name}.weight`, wDims, wData);
        const useBias = c.use_bias !== false && vars(l).has('bias');
        const bias = useBias ? vector(l, 'bias', outC).slice() : undefined;
        const ins = [x.name, wName];
        if (bias) ins.push(b.initializer(`${l.name}.bias`, [outC], bias));
        const y = b.op('Conv', ins, { kernel_shape: [kh, kw], strides, dilations: dil, pads, group: groups }, l.name);
        const node = b.nodes[b.nodes.length - 1]!;
        out = { name: y, shape: [1, outC, shape[0], shape[1]] };
        const act = String(c.activation ?? 'linear');
        if (act === 'linear') out.foldable = { node, weightName: wName, weight: wData, weightDims: wDims, bias, outChannels: outC, layer: l.name };
        else out = activation(l, out, act);
        break;
      }
      case 'Dense': {
        const x = materialize(inputOf(l));
        if (x.shape.length !== 2) fail(l, 'Dense on a feature map is not supported; Flatten or pool first');
        const kernel = kernelOf(l, 'kernel', 2);
        const [fin, units] = kernel.shape as [number, number];
        if (fin !== x.shape[1]) fail(l, `kernel expects ${fin} inputs, got ${x.shape[1]}`);
        const wData = new Float32Array(units * fin);
        for (let i = 0; i < fin; i++) for (let o = 0; o < units; o++) wData[o * fin + i] = kernel.data[i * units + o]!;
        const wName = b.initializer(`${l.name}.weight`, [units, fin], wData);
        const useBias = c.use_bias !== false && vars(l).has('bias');
        const bias = useBias ? vector(l, 'bias', units).slice() : new Float32Array(units);
        const bName = b.initializer(`${l.name}.bias`, [units], bias);
        const y = b.op('Gemm', [x.name, wName, bName], { transB: 1 }, l.name);
        const node = b.nodes[b.nodes.length - 1]!;
        out = { name: y, shape: [1, units] };
        const act = String(c.activation ?? 'linear');
        if (act === 'linear') out.foldable = { node, weightName: wName, weight: wData, weightDims: [units, fin], bias, outChannels: units, layer: l.name };
        else out = activation(l, out, act);
        break;
      }
      case 'BatchNormalization': {
        const x = inputOf(l);
        const axis = Array.isArray(c.axis) ? Number(c.axis[0]) : Number(c.axis ?? -1);
        const rank = x.shape.length === 4 ? 4 : 2;
        if (!(axis === -1 || axis === rank - 1)) fail(l, `normalising axis ${axis} is not supported (only the channel axis)`);
        const C = x.shape[1]!;
        const mean = vector(l, 'moving_mean', C);
        const variance = vector(l, 'moving_variance', C);
        const gamma = c.scale === false ? new Float32Array(C).fill(1) : vector(l, 'gamma', C);
        const beta = c.center === false ? new Float32Array(C) : vector(l, 'beta', C);
        const eps = Number(c.epsilon ?? 1e-3);
        const f = x.foldable;
        if (f && (consumers.get(f.layer) ?? 0) === 1 && !x.pendingPad) {
          foldBn(b, f, gamma, beta, mean, variance, eps, `${l.name}`);
          out = { name: x.name, shape: x.shape, foldable: { ...f, layer: l.name } };
        } else {
          const xin = materialize(x);
          const y = b.op('BatchNormalization', [xin.name,
            b.initializer(`${l.name}.gamma`, [C], gamma), b.initializer(`${l.name}.beta`, [C], beta),
            b.initializer(`${l.name}.mean`, [C], mean), b.initializer(`${l.name}.var`, [C], variance)], { epsilon: eps }, l.name);
          out = { name: y, shape: xin.shape };
        }
        break;
      }
      case 'ReLU': {
        const x = materialize(inputOf(l));
        const maxV = c.max_value == null ? undefined : Number(c.max_value);
        const slope = Number(c.negative_slope ?? 0);
        if (Number(c.threshold ?? 0) !== 0) fail(l, 'a non-zero threshold is not supported');
        if (slope !== 0) {
          if (maxV !== undefined) fail(l, 'negative_slope together with max_value is not supported');
          out = { name: b.op('LeakyRelu', [x.name], { alpha: { float: slope } }, l.name), shape: x.shape };
        } else if (maxV === undefined) out = activation(l, x, 'relu');
        else if (maxV === 6) out = relu6(x, l.name);
        else {
          const lo = b.initializer('zero', [], new Float32Array([0]));
          const hi = b.initializer('max', [], new Float32Array([maxV]));
          out = { name: b.op('Clip', [x.name, lo, hi], {}, l.name), shape: x.shape };
        }
        break;
      }
      case 'Activation':
        out = activation(l, materialize(inputOf(l)), String(c.activation ?? 'linear'));
        break;
      case 'Softmax': {
        const axis = Number(c.axis ?? -1);
        const x = materialize(inputOf(l));
        if (axis !== -1 && axis !== x.shape.length - 1) fail(l, `softmax over axis ${axis} is not supported`);
        out = activation(l, x, 'softmax');
        break;
      }
      case 'ZeroPadding2D': {
        const x = materialize(inputOf(l));
        if (x.shape.length !== 4) fail(l, 'input is not a feature map');
        const [[pt, pb], [pl, pr]] = padding2d(c.padding);
        out = { name: x.name, shape: x.shape, pendingPad: [pt, pl, pb, pr] };
        break;
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const x = materialize(inputOf(l));
        if (x.shape.length !== 4) fail(l, 'input is not a feature map');
        const y = b.op(l.className === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool', [x.name], {}, l.name);
        const C = x.shape[1]!;
        out = c.keepdims === true ? { name: y, shape: [1, C, 1, 1] } : { name: b.op('Flatten', [y], { axis: 1 }), shape: [1, C] };
        break;
      }
      case 'AveragePooling2D':
      case 'MaxPooling2D': {
        const x = inputOf(l);
        if (x.shape.length !== 4) fail(l, 'input is not a feature map');
        const k = pair(c.pool_size, 2);
        const s = c.strides == null ? k : pair(c.strides, 1);
        const { pads, shape } = spatial(l, x, k, s, [1, 1], String(c.padding ?? 'valid'), fail);
        if (x.pendingPad && l.className === 'AveragePooling2D') fail(l, 'ZeroPadding2D before average pooling is not supported');
        const y = b.op(l.className === 'AveragePooling2D' ? 'AveragePool' : 'MaxPool', [x.name], { kernel_shape: k, strides: s, pads }, l.name);
        out = { name: y, shape: [1, x.shape[1]!, shape[0], shape[1]] };
        break;
      }
      case 'Flatten': {
        const x = materialize(inputOf(l));
        out = toFlat(b, x);
        break;
      }
      case 'Reshape': {
        const x = materialize(inputOf(l));
        if (!Array.isArray(c.target_shape)) throw new EdgefitError('E_KERAS_FORMAT', `${src}: layer ${l.name} (Reshape) has no target_shape list in model_config; re-save the model with model.save('x.h5')`);
        const target = c.target_shape.map(Number);
        const flat = toFlat(b, x);
        const total = flat.shape[1]!;
        const known = target.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
        const dims = target.map((d) => (d === -1 ? total / known : d));
        if (dims.reduce((a, d) => a * d, 1) !== total) fail(l, `cannot reshape ${total} values to [${target}]`);
        if (dims.length === 1) out = flat;
        else if (dims.length === 3) {
          // Keras target is HWC: reshape the HWC-ordered values, then back to NCHW
          const shapeT = b.initializer('shape', [4], BigInt64Array.from([1, ...dims].map(BigInt)));
          const r = b.op('Reshape', [flat.name, shapeT]);
          out = { name: b.op('Transpose', [r], { perm: [0, 3, 1, 2] }), shape: [1, dims[2]!, dims[0]!, dims[1]!] };
        } else return fail(l, `reshape to rank ${dims.length} is not supported (1 or 3)`);
        break;
      }
      case 'Rescaling': {
        const x = materialize(inputOf(l));
        const C = x.shape[1]!;
        const vec = (v: unknown, dflt: number) => {
          const arr = Array.isArray(v) ? v.map(Number) : [v == null ? dflt : Number(v)];
          if (arr.length !== 1 && arr.length !== C) fail(l, `${arr.length} values for ${C} channels`);
          return Float32Array.from(arr);
        };
        const sc = vec(c.scale, 1);
        const of = vec(c.offset, 0);
        const dims = (a: Float32Array) => (a.length === 1 ? [] : x.shape.length === 4 ? [1, C, 1, 1] : [1, C]);
        const m = b.op('Mul', [x.name, b.initializer(`${l.name}.scale`, dims(sc), sc)]);
        out = { name: b.op('Add', [m, b.initializer(`${l.name}.offset`, dims(of), of)]), shape: x.shape };
        break;
      }
      case 'Add': {
        const xs = l.inbound.map((_, i) => materialize(inputOf(l, i)));
        let y = xs[0]!.name;
        for (const t of xs.slice(1)) {
          if (t.shape.join() !== xs[0]!.shape.join()) fail(l, `adds [${xs[0]!.shape}] and [${t.shape}]`);
          y = b.op('Add', [y, t.name]);
        }
        out = { name: y, shape: xs[0]!.shape };
        break;
      }
      case 'Concatenate': {
        const xs = l.inbound.map((_, i) => materialize(inputOf(l, i)));
        const rank = xs[0]!.shape.length;
        const axis = Number(c.axis ?? -1);
        if (axis !== -1 && axis !== rank - 1) fail(l, `concatenation along axis ${axis} is not supported (channels only)`);
        const y = b.op('Concat', xs.map((t) => t.name), { axis: 1 }, l.name);
        const shape = xs[0]!.shape.slice();
        shape[1] = xs.reduce((a, t) => a + t.shape[1]!, 0);
        out = { name: y, shape };
        break;
      }
      default:
        if (IGNORED.has(l.className)) { out = inputOf(l); break; }
        return fail(l, 'this layer type is not supported by the Keras importer; supported: Conv2D, DepthwiseConv2D, BatchNormalization, ReLU, Activation, ZeroPadding2D, (Global)AveragePooling2D, MaxPooling2D, Dense, Reshape, Flatten, Dropout, Rescaling, Add, Concatenate, InputLayer');
    }
    // a single-consumer rule for BN folding: the alias above keeps `foldable` only on the BN's own output
    tensors.set(l.name, out);
  }

  let y = tensors.get(g.outputs[0]!);
  if (!y) throw new EdgefitError('E_KERAS_FORMAT', `${src}: output layer ${g.outputs[0]} was not produced`);
  y = materialize(y);
  if (y.shape.length !== 2) y = toFlat(b, y);
  const lastLayer = g.layers.find((l) => l.name === g.outputs[0]);
  const probabilities = b.nodes[b.nodes.length - 1]?.opType === 'Softmax' || lastLayer?.config.activation === 'softmax';
  const outName = b.op('Identity', [y.name], {}, 'output', probabilities ? 'probabilities' : 'logits');
  b.output(outName, DataType.FLOAT, [1, y.shape[1]!]);
  return { builder: b, resolution, classes: y.shape[1]!, probabilities, inputName, outputName: outName };
}

function foldBn(b: OnnxBuilder, f: FoldTarget, gamma: Float32Array, beta: Float32Array, mean: Float32Array, variance: Float32Array, eps: number, bnName: string): void {
  const C = f.outChannels;
  const per = f.weight.length / C;
  const bias = f.bias ?? new Float32Array(C);
  for (let o = 0; o < C; o++) {
    const k = gamma[o]! / Math.sqrt(variance[o]! + eps);
    for (let i = 0; i < per; i++) f.weight[o * per + i]! *= k;
    bias[o] = (bias[o]! - mean[o]!) * k + beta[o]!;
  }
  const idx = b.initializers.findIndex((t) => t.name === f.weightName);
  b.initializers[idx] = makeTensor(f.weightName, f.weightDims, f.weight);
  const input = f.node.input!;
  if (input.length >= 3) {
    const bi = b.initializers.findIndex((t) => t.name === input[2]);
    b.initializers[bi] = makeTensor(input[2]!, [C], bias);
  } else {
    input.push(b.initializer(`${bnName}.folded_bias`, [C], bias));
  }
  f.bias = bias;
}

function toFlat(b: OnnxBuilder, x: Tensor): Tensor {
  if (x.shape.length === 2) return x;
  const [, C, H, W] = x.shape as [number, number, number, number];
  // Keras flattens HWC; with 1x1 maps that is the same order as CHW
  const src = H * W === 1 ? x.name : b.op('Transpose', [x.name], { perm: [0, 2, 3, 1] });
  return { name: b.op('Flatten', [src], { axis: 1 }), shape: [1, C * H * W] };
}

function pair(v: unknown, dflt: number): [number, number] {
  if (Array.isArray(v)) return [Number(v[0]), Number(v[1] ?? v[0])];
  if (v == null) return [dflt, dflt];
  return [Number(v), Number(v)];
}

function padding2d(v: unknown): [[number, number], [number, number]] {
  if (typeof v === 'number') return [[v, v], [v, v]];
  const a = v as unknown[];
  const p = (x: unknown): [number, number] => (Array.isArray(x) ? [Number(x[0]), Number(x[1])] : [Number(x), Number(x)]);
  return [p(a[0]), p(a[1])];
}

/**
 * ONNX pads for a Keras conv/pool, including a pending ZeroPadding2D. Keras 'same' puts the odd pixel at the
 * bottom/right (TF semantics), which ONNX expresses as explicit asymmetric pads.
 */
function spatial(l: KerasLayer, x: Tensor, k: [number, number], s: [number, number], d: [number, number], padding: string,
  fail: (l: KerasLayer, why: string) => never): { pads: [number, number, number, number]; shape: [number, number] } {
  const pads: [number, number, number, number] = x.pendingPad ? [...x.pendingPad] : [0, 0, 0, 0];
  const inH = x.shape[2]! + pads[0] + pads[2];
  const inW = x.shape[3]! + pads[1] + pads[3];
  const ext = [(k[0] - 1) * d[0] + 1, (k[1] - 1) * d[1] + 1];
  if (padding === 'same') {
    const tot = (n: number, i: 0 | 1) => Math.max((Math.ceil(n / s[i]) - 1) * s[i] + ext[i]! - n, 0);
    const th = tot(inH, 0);
    const tw = tot(inW, 1);
    pads[0] += Math.floor(th / 2); pads[2] += th - Math.floor(th / 2);
    pads[1] += Math.floor(tw / 2); pads[3] += tw - Math.floor(tw / 2);
  } else if (padding !== 'valid') fail(l, `padding '${padding}' is not supported (same, valid)`);
  const oh = Math.floor((x.shape[2]! + pads[0] + pads[2] - ext[0]!) / s[0]) + 1;
  const ow = Math.floor((x.shape[3]! + pads[1] + pads[3] - ext[1]!) / s[1]) + 1;
  if (!(oh > 0 && ow > 0)) fail(l, `the input ${x.shape[2]}x${x.shape[3]} is too small for this layer`);
  return { pads, shape: [oh, ow] };
}
