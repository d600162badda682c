/**
 * ONNX -> zoo Graph, for the ops emitOnnx writes (and the same ops from other float exporters): lets a runtime
 * that is not onnxruntime (TensorFlow.js) run a model file from the catalog. The uint8 NHWC preprocessing
 * (Cast, Transpose, Mul/Add/Sub/Div by constants) is recognised and returned as a per-channel affine map.
 * A QDQ model (int8 imports and quantizations) is first read as the float graph it simulates (dequantize-qdq.ts).
 * Anything else (QLinear operators, dilated convs, other ops) is refused with a message naming the op.
 */
import { readOnnx, tensorValues, dimsOf, attr } from './reader.js';
import { dequantizeQdq, isQdq, type FakeQuant } from './dequantize-qdq.js';
import type { NodeProto, TensorProto } from './proto.js';
import { samePads } from '../zoo/builder.js';
import { inferShapes, numel, outSize, type Family, type Graph, type Layer, type Param } from '../zoo/graph.js';
import { EdgefitError } from '../util/errors.js';

export interface OnnxGraph {
  graph: Graph;
  /** network input = pixel * scale + offset, per RGB channel */
  normalize: { scale: number[]; offset: number[] };
  /** true when the file has symbolic H/W (the graph is built at the requested resolution) */
  dynamic: boolean;
  /** a QDQ file: the integer grid of each activation a layer produces (by tensor name), to round to as the integer kernels do */
  quantize?: Map<string, FakeQuant>;
  /** Clip(0, max) of another max than 6 (an import's ReLU6 cut to its quantized range): the relu layer's output, clamped at max */
  clampMax?: Map<string, number>;
}

const FAMILIES: readonly Family[] = ['mobilenet_v1', 'mobilenet_v2', 'shufflenet_v1', 'squeezenet', 'xception'];

export function graphFromOnnx(bytes: Uint8Array, opts: { source?: string; resolution?: number } = {}): OnnxGraph {
  const source = opts.source ?? 'model';
  const m = readOnnx(bytes, source);
  const g = m.graph!;
  const refuse = (msg: string): EdgefitError => new EdgefitError('E_ONNX_UNSUPPORTED', `${source}: ${msg}; run this model with the onnxruntime engine`);

  const inits = new Map<string, TensorProto>();
  for (const t of g.initializer ?? []) inits.set(t.name ?? '', t);
  const constF = (name: string): { dims: number[]; data: Float32Array } | undefined => {
    const t = inits.get(name);
    if (!t) return undefined;
    const v = tensorValues(t);
    if (!(v instanceof Float32Array)) throw refuse(`initializer ${name} is not float32 (a quantized model?)`);
    return { dims: dimsOf(t), data: v };
  };
  const constI = (name: string): number[] | undefined => {
    const t = inits.get(name);
    return t ? Array.from(tensorValues(t) as ArrayLike<number | bigint>, Number) : undefined;
  };

  const inputs = (g.input ?? []).filter((v) => !inits.has(v.name ?? ''));
  if (inputs.length !== 1 || (g.output ?? []).length !== 1) throw refuse(`needs one input and one output, has ${inputs.length} and ${(g.output ?? []).length}`);
  const inVi = inputs[0]!;
  const tt = inVi.type?.tensorType;
  const dims = (tt?.shape?.dim ?? []).map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : undefined));
  if (tt?.elemType !== 2 || dims.length !== 4 || dims[3] !== 3) throw refuse('the input is not uint8 [1, H, W, 3] RGB');
  const dynamic = dims[1] === undefined || dims[2] === undefined;
  const H = dims[1] ?? opts.resolution;
  const W = dims[2] ?? opts.resolution;
  if (!H || !W) throw new EdgefitError('E_ENGINE_SHAPE', `${source} has symbolic H/W; give the resolution to run it at`);

  const qdq = isQdq(g.node ?? []) ? dequantizeQdq(g.node ?? [], inits, inVi.name ?? '', source) : undefined;
  const nodes = qdq?.nodes ?? g.node ?? [];
  const consumers = new Map<string, NodeProto[]>();
  for (const n of nodes) for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const only = (t: string): NodeProto | undefined => {
    const c = consumers.get(t) ?? [];
    return c.length === 1 ? c[0] : undefined;
  };

  // --- preprocessing chain: Cast, Transpose(0,3,1,2), affine by constants, in any order
  const handled = new Set<NodeProto>();
  let t = inVi.name ?? '';
  let nchw = false;
  let cast = false;
  const scale = [1, 1, 1];
  const offset = [0, 0, 0];
  for (;;) {
    const n = only(t);
    if (!n) break;
    const op = n.opType;
    if (op === 'Cast' && !cast) { cast = true; }
    else if (op === 'Transpose' && !nchw && String(attr(n, 'perm')) === '0,3,1,2') { nchw = true; }
    else if (cast && (op === 'Mul' || op === 'Add' || op === 'Sub' || op === 'Div') && n.input!.length === 2 && n.input![0] === t && inits.has(n.input![1]!)) {
      const c = constF(n.input![1]!)!;
      const per = perChannel(c, nchw);
      if (!per) throw refuse(`preprocessing ${op} by a constant of shape [${c.dims}] is not per channel`);
      for (let i = 0; i < 3; i++) {
        if (op === 'Mul') { scale[i]! *= per[i]!; offset[i]! *= per[i]!; }
        else if (op === 'Div') { scale[i]! /= per[i]!; offset[i]! /= per[i]!; }
        else if (op === 'Add') offset[i]! += per[i]!;
        else offset[i]! -= per[i]!;
      }
    } else break;
    handled.add(n);
    t = n.output![0]!;
  }
  if (!cast || !nchw) throw refuse('the uint8 input is not followed by Cast and Transpose(0,3,1,2) to NCHW');

  // --- layers
  const names = new Set<string>();
  const lname = (base: string): string => {
    const b = base || 'layer';
    let n = b;
    for (let i = 1; names.has(n); i++) n = `${b}_${i}`;
    names.add(n);
    return n;
  };
  const alias = new Map<string, string>();
  const clampMax = new Map<string, number>();
  const real = (x: string): string => alias.get(x) ?? x;
  const layers: Layer[] = [];
  const params = new Map<string, Param>();
  const setParam = (key: string, shape: number[], data: Float32Array) => params.set(key, { shape, data });
  const graphInput = t;
  // zero Pad nodes, folded into the Conv that follows them
  const padBefore = new Map<string, { input: string; pads: [number, number, number, number] }>();
  // spatial size of each tensor so far, for auto_pad SAME_* (what the TFLite importer writes for symbolic H/W)
  const hw = new Map<string, [number, number]>([[graphInput, [H, W]]]);
  const autoPads = (n: NodeProto, x: string, k: number[], stride: number[], explicit: [number, number, number, number]): [number, number, number, number] => {
    const ap = attr(n, 'auto_pad');
    if (!ap || ap === 'NOTSET') return explicit;
    if (ap === 'VALID') return [0, 0, 0, 0];
    const size = hw.get(x);
    if ((ap !== 'SAME_UPPER' && ap !== 'SAME_LOWER') || !size) throw refuse(`${n.opType} ${n.name}: auto_pad ${String(ap)} is not supported here`);
    const [t, b] = samePads(size[0], k[0]!, stride[0]!);
    const [l, r] = samePads(size[1], k[1]!, stride[1]!);
    return ap === 'SAME_UPPER' ? [t, l, b, r] : [b, r, t, l];
  };
  const track = (l: Layer): void => {
    const inHw = hw.get(l.inputs[0]!);
    if (!inHw) return;
    if (l.op === 'conv' || l.op === 'maxpool' || l.op === 'avgpool') {
      const [kh, kw] = l.kernel;
      const [sh, sw] = l.stride;
      const ceil = l.op !== 'conv' && l.ceil;
      hw.set(l.output, [outSize(inHw[0], kh, sh, l.pads[0], l.pads[2], ceil), outSize(inHw[1], kw, sw, l.pads[1], l.pads[3], ceil)]);
    } else if (l.op === 'gap') hw.set(l.output, [1, 1]);
    else if (l.op !== 'flatten' && l.op !== 'dense' && l.op !== 'softmax') hw.set(l.output, inHw);
  };

  for (const n of nodes) {
    if (handled.has(n)) continue;
    const op = n.opType ?? '';
    const ins = (n.input ?? []).map(real);
    const out = n.output![0]!;
    const name = lname(n.name || `${op}_${layers.length}`);
    const base = { name, inputs: [ins[0]!], output: out };
    const before = layers.length;
    switch (op) {
      case 'Shape': continue; // checked below: only shuffle merges may use it
      case 'Identity': alias.set(out, ins[0]!); continue;
      case 'Conv': {
        const w = constF(ins[1]!);
        if (!w || w.dims.length !== 4) throw refuse(`Conv ${n.name}: weights must be a 4-D initializer`);
        const dil = (attr(n, 'dilations') as number[] | undefined) ?? [1, 1];
        if (dil.some((d) => d !== 1)) throw refuse(`Conv ${n.name}: dilated convolution is not supported`);
        let x = ins[0]!;
        const stride = ((attr(n, 'strides') as number[] | undefined) ?? [1, 1]) as [number, number];
        let pads = autoPads(n, x, w.dims.slice(2), stride, ((attr(n, 'pads') as number[] | undefined) ?? [0, 0, 0, 0]).slice() as [number, number, number, number]);
        // a zero Pad in front (Keras 'valid' after ZeroPadding2D) merges into the conv's pads
        const pad = padBefore.get(x);
        if (pad) { x = pad.input; pads = [pads[0] + pad.pads[0], pads[1] + pad.pads[1], pads[2] + pad.pads[2], pads[3] + pad.pads[3]]; }
        const [O, , kh, kw] = w.dims as [number, number, number, number];
        const k = (attr(n, 'kernel_shape') as number[] | undefined) ?? [kh, kw];
        if (k[0] !== kh || k[1] !== kw) throw refuse(`Conv ${n.name}: kernel_shape [${k}] does not match the weights [${w.dims}]`);
        const bias = ins[2] ? constF(ins[2]) : undefined;
        setParam(`${name}.weight`, w.dims, w.data);
        if (bias) setParam(`${name}.bias`, [O], bias.data);
        layers.push({ ...base, inputs: [x], op: 'conv', outChannels: O, kernel: [kh, kw], stride, pads, group: Number(attr(n, 'group') ?? 1), bias: !!bias });
        break;
      }
      case 'Pad': {
        const mode = attr(n, 'mode') ?? 'constant';
        const p = constI(ins[1] ?? '') ?? (attr(n, 'pads') as number[] | undefined);
        const value = ins[2] ? constF(ins[2])?.data[0] : Number(attr(n, 'value') ?? 0);
        const users = consumers.get(out) ?? [];
        if (mode !== 'constant' || value !== 0 || !p || p.length !== 8 || p[0] !== 0 || p[1] !== 0 || p[4] !== 0 || p[5] !== 0 || users.length !== 1 || users[0]!.opType !== 'Conv') {
          throw refuse(`Pad ${n.name}: only a zero spatial pad in front of a Conv is supported`);
        }
        padBefore.set(out, { input: ins[0]!, pads: [p[2]!, p[3]!, p[6]!, p[7]!] });
        continue;
      }
      case 'BatchNormalization': {
        const roles = ['gamma', 'beta', 'mean', 'var'];
        for (let i = 0; i < 4; i++) {
          const c = constF(ins[i + 1] ?? '');
          if (!c) throw refuse(`BatchNormalization ${n.name}: ${roles[i]} must be an initializer`);
          setParam(`${name}.${roles[i]}`, [c.data.length], c.data);
        }
        const eps = attr(n, 'epsilon');
        layers.push({ ...base, op: 'bn', epsilon: typeof eps === 'number' ? eps : 1e-5 });
        break;
      }
      case 'Relu': layers.push({ ...base, op: 'relu' }); break;
      case 'Clip': {
        const lo = ins[1] ? constF(ins[1])?.data[0] : (attr(n, 'min') as number | undefined);
        const hi = ins[2] ? constF(ins[2])?.data[0] : (attr(n, 'max') as number | undefined);
        // an import of a quantized ReLU6 clips at the top of its integer range: 6 within far less than one step
        if (lo === 0 && hi !== undefined && Math.abs(hi - 6) <= 1e-3) layers.push({ ...base, op: 'relu6' });
        else if (lo === 0 && (hi === undefined || hi === Infinity)) layers.push({ ...base, op: 'relu' });
        else if (lo === 0 && hi !== undefined && hi > 0 && Number.isFinite(hi)) { layers.push({ ...base, op: 'relu' }); clampMax.set(out, hi); }
        else throw refuse(`Clip ${n.name}: only Clip(0, 6) (ReLU6) and Clip(0) (ReLU) are supported, got (${String(lo)}, ${String(hi)})`);
        break;
      }
      case 'Add': {
        if (ins.some((i) => inits.has(i))) throw refuse(`Add ${n.name}: adding a constant is not supported`);
        layers.push({ ...base, inputs: ins, op: 'add' });
        break;
      }
      case 'Concat': {
        const axis = Number(attr(n, 'axis'));
        if (axis !== 1 && axis !== -3) throw refuse(`Concat ${n.name}: only channel concatenation (axis 1) is supported`);
        layers.push({ ...base, inputs: ins, op: 'concat' });
        break;
      }
      case 'Reshape': {
        // channel shuffle: Reshape [1, g, C/g, ...] -> Transpose swapping axes 1 and 2 -> Reshape back
        const shape = constI(ins[1] ?? '');
        const tr = only(out);
        const back = tr ? only(tr.output![0]!) : undefined;
        const perm = tr ? String(attr(tr, 'perm')) : '';
        if (!shape || shape.length < 4 || !tr || tr.opType !== 'Transpose' || (perm !== '0,2,1,3' && perm !== '0,2,1,3,4') || !back || back.opType !== 'Reshape') {
          throw refuse(`Reshape ${n.name}: only the Reshape-Transpose-Reshape channel shuffle is supported`);
        }
        handled.add(tr);
        handled.add(back);
        layers.push({ ...base, output: back.output![0]!, op: 'shuffle', groups: shape[1]! });
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const k = attr(n, 'kernel_shape') as [number, number];
        const stride = ((attr(n, 'strides') as number[] | undefined) ?? [1, 1]) as [number, number];
        const pads = autoPads(n, ins[0]!, k, stride, ((attr(n, 'pads') as number[] | undefined) ?? [0, 0, 0, 0]) as [number, number, number, number]);
        const ceil = Number(attr(n, 'ceil_mode') ?? 0) === 1;
        if (op === 'AveragePool' && Number(attr(n, 'count_include_pad') ?? 0) === 1 && (pads.some((p) => p > 0) || ceil)) {
          throw refuse(`AveragePool ${n.name}: count_include_pad=1 with padding is not supported`);
        }
        const dil = (attr(n, 'dilations') as number[] | undefined) ?? [1, 1];
        if (dil.some((d) => d !== 1)) throw refuse(`${op} ${n.name}: dilated pooling is not supported`);
        layers.push({ ...base, op: op === 'MaxPool' ? 'maxpool' : 'avgpool', kernel: k, stride, pads, ceil });
        break;
      }
      case 'GlobalAveragePool': layers.push({ ...base, op: 'gap' }); break;
      case 'Flatten': {
        if (Number(attr(n, 'axis') ?? 1) !== 1) throw refuse(`Flatten ${n.name}: only axis 1 is supported`);
        layers.push({ ...base, op: 'flatten' });
        break;
      }
      case 'Gemm': {
        const w = constF(ins[1]!);
        if (!w || w.dims.length !== 2) throw refuse(`Gemm ${n.name}: B must be a 2-D initializer`);
        if (Number(attr(n, 'transA') ?? 0) !== 0 || (attr(n, 'alpha') ?? 1) !== 1 || (attr(n, 'beta') ?? 1) !== 1) throw refuse(`Gemm ${n.name}: only transA=0, alpha=beta=1 is supported`);
        const transB = Number(attr(n, 'transB') ?? 0) === 1;
        const [units, inF] = transB ? w.dims as [number, number] : [w.dims[1]!, w.dims[0]!];
        const data = transB ? w.data : transpose2d(w.data, inF, units);
        const bias = ins[2] ? constF(ins[2]) : undefined;
        if (ins[2] && (!bias || bias.data.length !== units)) throw refuse(`Gemm ${n.name}: C must be a [${units}] initializer`);
        setParam(`${name}.weight`, [units, inF], data);
        if (bias) setParam(`${name}.bias`, [units], bias.data);
        layers.push({ ...base, op: 'dense', units, bias: !!bias });
        break;
      }
      case 'Softmax': {
        const axis = Number(attr(n, 'axis') ?? -1);
        if (axis !== 1 && axis !== -1) throw refuse(`Softmax ${n.name}: only the class axis is supported`);
        layers.push({ ...base, op: 'softmax' });
        break;
      }
      default:
        throw refuse(`op ${op}${n.domain ? ` (${n.domain})` : ''} is not supported by the TensorFlow.js engine`);
    }
    if (layers.length > before) track(layers[layers.length - 1]!);
  }
  // Shape nodes may only feed shuffle merges (handled); anything else would be silently dropped
  for (const n of nodes) {
    if (n.opType !== 'Shape') continue;
    for (const c of consumers.get(n.output![0]!) ?? []) if (!handled.has(c)) throw refuse(`Shape ${n.name} feeds ${c.opType}, which is not supported`);
  }

  const output = real(g.output![0]!.name ?? '');
  const md = Object.fromEntries((m.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const fam = md.family as Family;
  const graph0: Graph = {
    meta: {
      // the family only names things; files from other producers are labelled as the closest default
      family: FAMILIES.includes(fam) ? fam : 'mobilenet_v1',
      alpha: Number(md.alpha) || 1,
      resolution: H,
      classes: 0,
      options: { source: 'onnx' },
    },
    input: { name: graphInput, shape: [3, H, W] },
    layers,
    output,
    params,
  };
  let shapes: Map<string, number[]>;
  try {
    shapes = inferShapes(graph0);
  } catch (err) {
    throw refuse(`the graph does not fit together at ${H}x${W} (${(err as Error).message})`);
  }
  const outShape = shapes.get(output);
  if (!outShape) throw refuse(`output ${output} is not produced by a supported layer`);
  let quantize: Map<string, FakeQuant> | undefined;
  if (qdq) {
    // the normalised input too: an int8 model re-quantizes the uint8 pixels onto its own input grid
    const produced = new Set([graphInput, ...layers.map((l) => l.output)]);
    quantize = new Map();
    for (const [t, q] of qdq.quantize) if (produced.has(real(t))) quantize.set(real(t), q);
  }
  return { graph: { ...graph0, meta: { ...graph0.meta, classes: numel(outShape) } }, normalize: { scale, offset }, dynamic, ...(quantize ? { quantize } : {}), ...(clampMax.size > 0 ? { clampMax } : {}) };
}

function perChannel(c: { dims: number[]; data: Float32Array }, nchw: boolean): number[] | undefined {
  if (c.data.length === 1) return [c.data[0]!, c.data[0]!, c.data[0]!];
  if (c.data.length !== 3) return undefined;
  const d = c.dims;
  // NCHW: [3,1,1] or [1,3,1,1]; NHWC: [3] or [1,1,1,3] (broadcast on the last axis)
  const ok = nchw ? d.length >= 3 && d[d.length - 3] === 3 : d[d.length - 1] === 3;
  return ok ? Array.from(c.data) : undefined;
}

function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
