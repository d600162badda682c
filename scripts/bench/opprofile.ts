import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpEvent {
  name: string;
  op: string;
  us: number;
  /** the kernel's input dims as onnxruntime reports them (prepacked weights are left out) */
  inputs?: number[][];
}

/**
 * onnxruntime's own per-node timing (enableProfiling) of a model at one intra-op thread, averaged over `runs`:
 * where the time of a run goes after graph optimization (fused, prepacked, layout-transformed nodes).
 */
export async function profileOps(model: string | Uint8Array, resolution: number, frame: Uint8Array, runs: number, dims = [1, resolution, resolution, 3]): Promise<OpEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-ortprof-'));
  try {
    const s = await ort.InferenceSession.create(typeof model === 'string' ? readFileSync(model) : model, {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
    });
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
    const acc = new Map<string, OpEvent>();
    for (const e of kept) {
      const name = e.name.replace(/_kernel_time$/, '');
      const x = acc.get(name) ?? { name, op: e.args?.op_name ?? '?', us: 0, inputs: (e.args?.input_type_shape ?? []).map((t) => Object.values(t)[0] ?? []) };
      x.us += e.dur / runs;
      acc.set(name, x);
    }
    return [...acc.values()];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The role of a conv from what onnxruntime reports of it: the TFLite importer's node names (conv0 the stem,
 * dwconvN, convN, fc) survive into the int8 graph's fused QLinearConv names; the fp32 graph's NCHWc convs are
 * named after their activation, so there the weight dims tell ([C, 1, k, k] depthwise, 1x1 pointwise).
 */
function convRole(e: OpEvent): string | undefined {
  if (!/^(QLinear)?Conv$|^FusedConv$/.test(e.op)) return undefined;
  const n = e.name.toLowerCase();
  const [x, w] = e.op === 'QLinearConv' ? [e.inputs?.[0], undefined] : [e.inputs?.[0], e.inputs?.[1]];
  if (/^dwconv\d/.test(n) || (w && w[1] === 1 && (w[2] ?? 1) * (w[3] ?? 1) > 1)) return 'depthwise conv';
  if (/^conv0_/.test(n) || (w && w[1]! <= 3 && !/^fc/.test(n))) return 'first conv';
  if (/^fc\d/.test(n) || (x && x[2] === 1 && x[3] === 1)) return 'classifier, pooling, other';
  if (/^conv\d/.test(n) || (w && w[2] === 1 && w[3] === 1)) return 'pointwise conv';
  return undefined;
}

/** Groups node times of a MobileNet by role, from the node and op names the zoo and ORT give them. */
export function byRole(events: OpEvent[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    const n = e.name.toLowerCase();
    const role = /^(pixels_to_float|norm_)/.test(n) && !/quantize/i.test(e.op) ? 'input cast+normalize (float)'
      : /quantizelinear|dequantizelinear/i.test(e.op) ? 'Quantize/DequantizeLinear'
        : /reorder|transpose/i.test(e.op) ? 'layout (Reorder/Transpose)'
          : /\bdw\b|\.dw|_dw|dw_/.test(n) ? 'depthwise conv'
            : /\bpw\b|\.pw|_pw|pw_/.test(n) ? 'pointwise conv'
              : /^conv1($|[._])/.test(n) ? 'first conv'
                : convRole(e) ?? 'classifier, pooling, other';
    out[role] = (out[role] ?? 0) + e.us / 1000;
  }
  return out;
}
