import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface OpEvent { name: string; op: string; us: number }

/**
 * onnxruntime's own per-node timing (enableProfiling) of a model at one intra-op thread, averaged over `runs`:
 * where the time of a run goes after graph optimization (fused, prepacked, layout-transformed nodes).
 */
export async function profileOps(modelPath: string, resolution: number, frame: Uint8Array, runs: number): Promise<OpEvent[]> {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-ortprof-'));
  try {
    const s = await ort.InferenceSession.create(readFileSync(modelPath), {
      intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
      enableProfiling: true, profileFilePrefix: join(dir, 'prof'),
    });
    const feeds = { [s.inputNames[0]!]: new ort.Tensor('uint8', frame, [1, resolution, resolution, 3]) };
    await s.run(feeds); // warm-up, excluded below by keeping the last `runs` runs only
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
    const file = readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    const kernels = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'));
    const perRun = kernels.length / (runs + 1);
    const kept = kernels.slice(kernels.length - Math.round(perRun * runs));
    const acc = new Map<string, OpEvent>();
    for (const e of kept) {
      const name = e.name.replace(/_kernel_time$/, '');
      const x = acc.get(name) ?? { name, op: e.args?.op_name ?? '?', us: 0 };
      x.us += e.dur / runs;
      acc.set(name, x);
    }
    return [...acc.values()];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
              : /^conv1/.test(n) ? 'first conv'
                : 'classifier, pooling, other';
    out[role] = (out[role] ?? 0) + e.us / 1000;
  }
  return out;
}
