import { OnnxBuilder } from './builder.js';
import { DataType } from './proto.js';
import { foldBatchNorm } from '../zoo/fold.js';
import { inferShapes, numel, type Graph, type Layer } from '../zoo/graph.js';
import { EdgefitError } from '../util/errors.js';

export { describeOnnx, type OnnxDescription, type OnnxIO } from './describe.js';

export interface EmitOptions {
  /**
   * 'uint8-nhwc' (default): the model input is uint8 [1,H,W,3] RGB exactly as a camera frame arrives; the model
   * casts, transposes to NCHW and normalises itself. 'float-nchw': float32 [1,C,H,W] that is already normalised
   * (the graph's own input), unless `normalize` is given explicitly.
   */
  input?: 'uint8-nhwc' | 'float-nchw';
  /** network input = pixel * scale + offset, per channel or for all; default MobileNet style p/127.5 - 1 */
  normalize?: { scale: number[] | number; offset: number[] | number };
  /** fold conv+BN pairs into the conv (default true); other BNs become BatchNormalization nodes */
  foldBn?: boolean;
  /**
   * Symbolic H/W input dims when the graph is resolution-independent (global pooling before the classifier).
   * Falls back to fixed dims when it is not; metadata `dynamic_resolution` records which one was emitted.
   */
  dynamicResolution?: boolean;
  /** default: what the graph produces (probabilities when it ends in softmax, else logits) */
  output?: 'logits' | 'probabilities';
  /** ONNX opset, 13..17 (default 13) */
  opset?: number;
}

export const DEFAULT_NORMALIZE = { scale: 1 / 127.5, offset: -1 } as const;
const MIN_OPSET = 13;
// the builder writes IR version 8, which covers opsets up to 17
const MAX_OPSET = 17;

/**
 * Emits the zoo Graph as an ONNX model (NCHW inside). Same graph and options give byte-identical bytes.
 * The output is named 'logits' or 'probabilities', shape [1, classes]; a detector's (a graph ending in
 * `ssd_output`) is `raw`, [1, anchors, 4 + classes + 1] (src/types/detection.ts).
 */
export function emitOnnx(graph: Graph, opts: EmitOptions = {}): Uint8Array {
  const o = checkOptions(graph, opts);
  let g = graph;
  const shapes0 = shapesOrThrow(g);
  if (o.foldBn) g = foldBatchNorm(g);
  const shapes = o.foldBn ? shapesOrThrow(g) : shapes0;

  const producer = new Map<string, Layer>();
  for (const l of g.layers) producer.set(l.output, l);
  const last = producer.get(g.output);
  if (!last && g.output !== g.input.name) throw badGraph(`output tensor ${g.output} is not produced by any layer`);
  const endsInSoftmax = last?.op === 'softmax';
  const detector = last?.op === 'ssd_output';
  if (detector && o.output !== undefined) throw badOpt(`a detector's output is 'raw' (boxes and class scores), not ${o.output}`);
  const outputKind = detector ? 'raw' : o.output ?? (endsInSoftmax ? 'probabilities' : 'logits');
  // the logits tensor: the softmax's input when the graph ends in one
  const logitsTensor = endsInSoftmax ? last!.inputs[0]! : g.output;
  const logitsShape = shapes.get(logitsTensor)!;
  if (detector ? logitsShape[1] !== 4 + g.meta.classes + 1 : numel(logitsShape) !== g.meta.classes) {
    throw badGraph(`output ${logitsTensor} has shape [${logitsShape}] but the graph declares ${g.meta.classes} classes`);
  }
  const skipLayer = endsInSoftmax ? last!.name : undefined;
  // anchors are fixed by the feature map sizes: a detector's input size is fixed
  const dynamic = o.dynamicResolution && !detector && isResolutionIndependent(g, shapes);

  const b = new OnnxBuilder(`${g.meta.family}_${g.meta.alpha}_${g.meta.resolution}`, o.opset);
  const [C, H, W] = g.input.shape;
  const hDim: number | string = dynamic ? 'H' : H;
  const wDim: number | string = dynamic ? 'W' : W;
  const outName = outputKind;
  // reserve the public names first so no graph tensor can take them
  const modelInput = b.input(o.input === 'uint8-nhwc' ? 'pixels' : 'input', o.input === 'uint8-nhwc' ? DataType.UINT8 : DataType.FLOAT,
    o.input === 'uint8-nhwc' ? [1, hDim, wDim, C] : [1, C, hDim, wDim]);
  b.fresh(outName);

  const names = new Map<string, string>();
  for (const l of g.layers) if (l.name !== skipLayer) names.set(l.output, b.fresh(safe(l.output)));
  const ref = (t: string): string => {
    const n = names.get(t);
    if (!n) throw badGraph(`tensor ${t} is used before it is produced`);
    return n;
  };

  // input stage: everything a camera frame needs happens inside the model, never per pixel in JS
  let x = modelInput;
  if (o.input === 'uint8-nhwc') {
    x = b.op('Cast', [x], { to: DataType.FLOAT }, 'pixels_to_float');
    x = b.op('Transpose', [x], { perm: [0, 3, 1, 2] }, 'nhwc_to_nchw');
  }
  if (o.normalize) {
    x = b.op('Mul', [x, b.initializer('norm_scale', [1, C, 1, 1], perChannel(o.normalize.scale, C))], {}, 'norm_mul');
    x = b.op('Add', [x, b.initializer('norm_offset', [1, C, 1, 1], perChannel(o.normalize.offset, C))], {}, 'norm_add');
  }
  names.set(g.input.name, x);

  let clipMin: string | undefined;
  let clipMax: string | undefined;
  const param = (key: string): Float32Array => {
    const p = g.params.get(key);
    if (!p) throw badGraph(`parameter ${key} is missing`);
    return p.data;
  };

  for (const l of g.layers) {
    if (l.name === skipLayer) continue;
    const ins = l.inputs.map(ref);
    // the layer making flat logits writes the public output name directly (no Identity node)
    const direct = l.output === logitsTensor && (detector || (outputKind === 'logits' && logitsShape.length === 1));
    const out = direct ? outName : ref(l.output);
    if (direct) names.set(l.output, outName);
    const inShape = shapes.get(l.inputs[0]!)!;
    switch (l.op) {
      case 'conv': {
        const inC = inShape[0]!;
        const w = b.initializer(`${safe(l.name)}.weight`, [l.outChannels, inC / l.group, l.kernel[0], l.kernel[1]], param(`${l.name}.weight`));
        const cin = [ins[0]!, w];
        if (l.bias) cin.push(b.initializer(`${safe(l.name)}.bias`, [l.outChannels], param(`${l.name}.bias`)));
        b.node('Conv', cin, [out], {
          kernel_shape: [...l.kernel], strides: [...l.stride], pads: [...l.pads], group: l.group, dilations: [1, 1],
        }, l.name);
        break;
      }
      case 'bn': {
        const c = inShape[0]!;
        const roles = ['gamma', 'beta', 'mean', 'var'].map((r) => b.initializer(`${safe(l.name)}.${r}`, [c], param(`${l.name}.${r}`)));
        b.node('BatchNormalization', [ins[0]!, ...roles], [out], { epsilon: { float: l.epsilon } }, l.name);
        break;
      }
      case 'relu': b.node('Relu', ins, [out], {}, l.name); break;
      case 'relu6': {
        clipMin ??= b.initializer('relu6_min', [], new Float32Array([0]));
        clipMax ??= b.initializer('relu6_max', [], new Float32Array([6]));
        b.node('Clip', [ins[0]!, clipMin, clipMax], [out], {}, l.name);
        break;
      }
      case 'add': b.node('Add', ins, [out], {}, l.name); break;
      case 'concat': b.node('Concat', ins, [out], { axis: 1 }, l.name); break;
      case 'shuffle': {
        const [c, h, w] = inShape as [number, number, number];
        if (c % l.groups !== 0) throw badGraph(`layer ${l.name}: ${c} channels do not split into ${l.groups} groups`);
        const s1 = b.initializer(`${safe(l.name)}.shape_split`, [4], new BigInt64Array([1n, BigInt(l.groups), BigInt(c / l.groups), -1n]));
        const r = b.op('Reshape', [ins[0]!, s1], {}, `${l.name}_split`);
        const t = b.op('Transpose', [r], { perm: [0, 2, 1, 3] }, `${l.name}_swap`);
        // dynamic H/W: take the shape back from the input at run time
        const s2 = dynamic
          ? b.op('Shape', [ins[0]!], {}, `${l.name}_shape`)
          : b.initializer(`${safe(l.name)}.shape_merge`, [4], new BigInt64Array([1n, BigInt(c), BigInt(h), BigInt(w)]));
        b.node('Reshape', [t, s2], [out], {}, `${l.name}_merge`);
        break;
      }
      case 'maxpool':
        b.node('MaxPool', ins, [out], { kernel_shape: [...l.kernel], strides: [...l.stride], pads: [...l.pads], ceil_mode: l.ceil ? 1 : 0 }, l.name);
        break;
      case 'avgpool':
        b.node('AveragePool', ins, [out], {
          kernel_shape: [...l.kernel], strides: [...l.stride], pads: [...l.pads], ceil_mode: l.ceil ? 1 : 0, count_include_pad: 0,
        }, l.name);
        break;
      case 'gap': b.node('GlobalAveragePool', ins, [out], {}, l.name); break;
      case 'flatten': b.node('Flatten', ins, [out], { axis: 1 }, l.name); break;
      case 'dense': {
        const inF = numel(inShape);
        let a = ins[0]!;
        if (inShape.length !== 1) a = b.op('Flatten', [a], { axis: 1 }, `${l.name}_flatten`);
        const w = b.initializer(`${safe(l.name)}.weight`, [l.units, inF], param(`${l.name}.weight`));
        const gin = [a, w];
        if (l.bias) gin.push(b.initializer(`${safe(l.name)}.bias`, [l.units], param(`${l.name}.bias`)));
        b.node('Gemm', gin, [out], { transB: 1 }, l.name);
        break;
      }
      case 'softmax': b.node('Softmax', ins, [out], { axis: 1 }, l.name); break;
      case 'ssd_output': {
        const maps = l.boxes.length;
        // NCHW [n*k, H, W] -> NHWC -> [1, H*W*n, k]: TensorFlow's reshape of its NHWC predictor output
        const flat = (i: number, k: number, tag: string): string => {
          const [c, h, w] = shapes.get(l.inputs[i]!)! as [number, number, number];
          const t = b.op('Transpose', [ins[i]!], { perm: [0, 2, 3, 1] }, `${l.name}_${tag}_nhwc`);
          const shape = b.initializer(`${safe(l.name)}.${tag}_shape`, [3], new BigInt64Array([1n, BigInt((h * w * c) / k), BigInt(k)]));
          return b.op('Reshape', [t, shape], {}, `${l.name}_${tag}`);
        };
        const boxes = b.op('Concat', l.boxes.map((_, m) => flat(m, l.coords, `box${m}`)), { axis: 1 }, `${l.name}_boxes`);
        const logits = b.op('Concat', l.boxes.map((_, m) => flat(maps + m, l.classes, `class${m}`)), { axis: 1 }, `${l.name}_class_logits`);
        const scores = b.op('Sigmoid', [logits], {}, `${l.name}_scores`);
        b.node('Concat', [boxes, scores], [out], { axis: 2 }, l.name);
        break;
      }
      default: {
        const never: never = l;
        throw badGraph(`unknown layer op in ${(never as Layer).name}`);
      }
    }
  }

  if (detector) {
    b.output(outName, DataType.FLOAT, [1, logitsShape[0]!, logitsShape[1]!]);
  } else {
    let final = names.get(logitsTensor) ?? x;
    if (logitsShape.length !== 1) final = b.op('Flatten', [final], { axis: 1 }, 'logits_flatten', outputKind === 'logits' ? outName : undefined);
    if (outputKind === 'probabilities') final = b.op('Softmax', [final], { axis: 1 }, 'softmax', outName);
    else if (final !== outName) final = b.op('Identity', [final], {}, 'logits_identity', outName);
    b.output(outName, DataType.FLOAT, [1, g.meta.classes]);
  }

  Object.assign(b.metadata, {
    family: g.meta.family,
    alpha: String(g.meta.alpha),
    resolution: String(g.meta.resolution),
    classes: String(g.meta.classes),
    producer: 'edgefit',
    options: stableJson(g.meta.options),
    input_layout: o.input,
    normalize: o.normalize ? stableJson(o.normalize) : 'none',
    output_kind: outputKind,
    dynamic_resolution: String(dynamic),
    bn_folded: String(o.foldBn),
  });
  return b.toBytes();
}

/**
 * True when no layer's weights depend on the spatial size: whatever is flattened into the classifier went through
 * a global pool first. A tensor is "global" when made by a global pool, or by any layer whose inputs are all
 * global (a conv or pool of a 1x1 map gives the same size at every resolution). A 7x7 average pool that happens to
 * give 1x1 at 224 is not global: at 256 it gives 2x2 and the classifier's weights no longer fit.
 */
export function isResolutionIndependent(g: Graph, shapes = inferShapes(g)): boolean {
  const global = new Set<string>();
  for (const l of g.layers) {
    if (l.op === 'gap' || l.inputs.every((i) => global.has(i))) global.add(l.output);
    if (l.op !== 'flatten' && l.op !== 'dense') continue;
    const x = l.inputs[0]!;
    if (shapes.get(x)!.length !== 1 && !global.has(x)) return false;
  }
  return true;
}

interface ResolvedOptions {
  input: 'uint8-nhwc' | 'float-nchw';
  normalize?: { scale: number[] | number; offset: number[] | number };
  foldBn: boolean;
  dynamicResolution: boolean;
  output?: 'logits' | 'probabilities';
  opset: number;
}

function checkOptions(g: Graph, opts: EmitOptions): ResolvedOptions {
  const input = opts.input ?? 'uint8-nhwc';
  if (input !== 'uint8-nhwc' && input !== 'float-nchw') throw badOpt(`input must be 'uint8-nhwc' or 'float-nchw', got ${String(input)}`);
  const C = g.input.shape[0];
  if (input === 'uint8-nhwc' && C !== 3) throw badOpt(`input 'uint8-nhwc' needs a 3-channel RGB graph, this one takes ${C} channels; use input 'float-nchw'`);
  const normalize = opts.normalize ?? (input === 'uint8-nhwc' ? DEFAULT_NORMALIZE : undefined);
  if (normalize) {
    for (const k of ['scale', 'offset'] as const) {
      const v = normalize[k];
      const arr = typeof v === 'number' ? [v] : v;
      if (!Array.isArray(arr) || (arr.length !== 1 && arr.length !== C) || !arr.every(Number.isFinite)) {
        throw badOpt(`normalize.${k} must be a finite number or ${C} finite numbers (one per channel), got ${JSON.stringify(v)}`);
      }
    }
  }
  const opset = opts.opset ?? MIN_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) throw badOpt(`opset must be an integer in ${MIN_OPSET}..${MAX_OPSET}, got ${opset}`);
  if (opts.output !== undefined && opts.output !== 'logits' && opts.output !== 'probabilities') {
    throw badOpt(`output must be 'logits' or 'probabilities', got ${String(opts.output)}`);
  }
  return { input, normalize, foldBn: opts.foldBn ?? true, dynamicResolution: opts.dynamicResolution ?? false, output: opts.output, opset };
}

function shapesOrThrow(g: Graph): Map<string, number[]> {
  try {
    return inferShapes(g);
  } catch (err) {
    throw new EdgefitError('E_GRAPH', `cannot emit ONNX for ${g.meta.family}: ${(err as Error).message}`, { cause: err });
  }
}

function perChannel(v: number[] | number, c: number): Float32Array {
  const arr = typeof v === 'number' ? [v] : v;
  return Float32Array.from({ length: c }, (_, i) => arr.length === 1 ? arr[0]! : arr[i]!);
}

/** ONNX names may be anything, but readable ones help in Netron; keep them printable and unambiguous. */
function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.\-/:]/g, '_') || 't';
}

function stableJson(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => (val && typeof val === 'object' && !Array.isArray(val)
    ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : val));
}

function badGraph(msg: string): EdgefitError {
  return new EdgefitError('E_GRAPH', `cannot emit ONNX: ${msg}; the graph is malformed, rebuild it with the zoo builder`);
}

function badOpt(msg: string): EdgefitError {
  return new EdgefitError('E_OPTIONS', `emitOnnx: ${msg}`);
}
