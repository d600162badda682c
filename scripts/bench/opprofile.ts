import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attr, dimsOf, readOnnx } from '../../src/onnx/reader.js';
import { trimmedMean } from './stats.js';

/** What a conv computes, from the model's graph (or onnxruntime's reported weight dims where a node was renamed). */
export interface ConvShape {
  /** kernel height x width */
  kernel: number;
  group: number;
  inChannels: number;
  outChannels: number;
}

export interface OpEvent {
  name: string;
  op: string;
  /** time of the node in one run (mean of the runs between the 10th and 90th percentile) */
  us: number;
  conv?: ConvShape;
}

export const isConvOp = (op: string): boolean => /^(QLinear)?Conv$|^FusedConv$/.test(op);

function shapeOf(w: number[], group: number): ConvShape | undefined {
  if (w.length !== 4) return undefined;
  return { kernel: w[2]! * w[3]!, group, inChannels: w[1]! * group, outChannels: w[0]! };
}

/**
 * A renamed conv's shape from the weight dims onnxruntime reports (its second input); the group is not reported,
 * so one input channel per filter means depthwise. A QLinearConv's prepacked weights are not reported at all.
 */
function reportedShape(op: string, inputs: Record<string, number[]>[] | undefined): ConvShape | undefined {
  const w = Object.values(inputs?.[1] ?? {})[0];
  if (op === 'QLinearConv' || !w) return undefined;
  return shapeOf(w, w[1] === 1 && w[0]! > 1 ? w[0]! : 1);
}

/** Each Conv node's shape by name: weights are an initializer, or a DequantizeLinear of one (QDQ graphs). */
function convShapes(bytes: Uint8Array): Map<string, ConvShape> {
  const g = readOnnx(bytes).graph!;
  const inits = new Map((g.initializer ?? []).map((t) => [t.name ?? '', dimsOf(t)]));
  const dq = new Map((g.node ?? []).filter((n) => n.opType === 'DequantizeLinear').map((n) => [n.output?.[0] ?? '', n.input?.[0] ?? '']));
  const out = new Map<string, ConvShape>();
  for (const n of g.node ?? []) {
    if (n.opType !== 'Conv' || !n.name) continue;
    const wName = n.input?.[1] ?? '';
    const w = inits.get(wName) ?? inits.get(dq.get(wName) ?? '');
    const group = attr(n, 'group');
    const shape = w && shapeOf(w, typeof group === 'number' ? group : 1);
    if (shape) out.set(n.name, shape);
  }
  return out;
}

/**
 * onnxruntime's own per-node timing (enableProfiling) of a model at one intra-op thread, over `runs` (trimmed mean):
 * where the time of a run goes after graph optimization (fused, prepacked, layout-transformed nodes). Each conv
 * carries its shape: from the graph by name (onnxruntime keeps the name of a fused QLinearConv, with a _token_N
 * suffix), else from the weight dims onnxruntime reports (fp32 NCHWc convs are renamed after their activation;
 * a QLinearConv's prepacked weights are not reported).
 */
export async function profileOps(model: string | Uint8Array, frame: Uint8Array, runs: number, input: { resolution: number } | { dims: number[] }): Promise<OpEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-ortprof-'));
  try {
    const bytes = typeof model === 'string' ? readFileSync(model) : model;
    const shapes = convShapes(bytes);
    const s = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
    });
    const dims = 'dims' in input ? input.dims : [1, input.resolution, input.resolution, 3];
    const feeds = { [s.inputNames[0]!]: new ort.Tensor('uint8', frame, dims) };
    await s.run(feeds); // warm-up, excluded below by keeping the last `runs` runs only
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] } }[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    const perRun = kernels.length / (runs + 1);
    const kept = kernels.slice(kernels.length - Math.round(perRun * runs));
    const acc = new Map<string, { e: OpEvent; durs: number[] }>();
    for (const k of kept) {
      const name = k.name.replace(/_kernel_time$/, '');
      let x = acc.get(name);
      if (!x) {
        const op = k.args?.op_name ?? '?';
        const conv = isConvOp(op) ? shapes.get(name.replace(/_token_\d+$/, '')) ?? reportedShape(op, k.args?.input_type_shape) : undefined;
        x = { e: { name, op, us: 0, ...(conv ? { conv } : {}) }, durs: [] };
        acc.set(name, x);
      }
      x.durs.push(k.dur);
    }
    // trimmed per node: one preempted run must not move a 10 us node tenfold
    return [...acc.values()].map(({ e, durs }) => ({ ...e, us: trimmedMean(durs) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The role of a conv in a graph whose names the zoo rules do not read (imported models): the first conv run is
 * the stem, the TFLite importer's fcN and the zoo's classifier are the classifier, the rest go by shape, the same
 * way in int8 and fp32 graphs.
 */
function convRole(e: OpEvent, first: boolean): string | undefined {
  if (!isConvOp(e.op)) return undefined;
  if (first) return 'first conv';
  if (/^(fc\d|classifier)/.test(e.name.toLowerCase())) return 'classifier, pooling, other';
  const c = e.conv;
  if (!c) return 'other conv';
  if (c.group > 1 && c.group === c.inChannels) return 'depthwise conv';
  return c.kernel === 1 ? 'pointwise conv' : 'dense conv';
}

/** Groups node times of a MobileNet by role, from the node and op names the zoo and ORT give them. */
export function byRole(events: OpEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  let first = true;
  for (const e of events) {
    const n = e.name.toLowerCase();
    const role = /^(pixels_to_float|norm_)/.test(n) && !/quantize/i.test(e.op) ? 'input cast+normalize (float)'
      : /quantizelinear|dequantizelinear/i.test(e.op) ? 'Quantize/DequantizeLinear'
        : /reorder|transpose/i.test(e.op) ? 'layout (Reorder/Transpose)'
          : /\bdw\b|\.dw|_dw|dw_/.test(n) ? 'depthwise conv'
            : /\bpw\b|\.pw|_pw|pw_/.test(n) ? 'pointwise conv'
              : convRole(e, first) ?? 'classifier, pooling, other';
    if (isConvOp(e.op)) first = false;
    out[role] = (out[role] ?? 0) + e.us / 1000;
  }
  return out;
}
