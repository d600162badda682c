import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { emitOnnx, describeOnnx } from '../../src/onnx/emit.js';
import { buildGraph, zooLadder, FAMILIES, type BuildOptions } from '../../src/zoo/registry.js';
import type { WeightSource } from '../../src/zoo/graph.js';

/**
 * Structure checks over the whole zoo. The He initialiser's Box-Muller costs more than everything else here, so the
 * grid uses a cheap deterministic weight source (scaled by fan-in so activations stay finite); weight values do
 * not change the ONNX structure. Seeded He weights are used for the determinism check.
 */
const cheap: WeightSource = (_name, shape, role, fanIn) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  if (role === 'bn.var' || role === 'bn.gamma') return out.fill(1);
  if (role === 'bn.mean' || role === 'bn.beta') return out;
  const s = Math.sqrt(3 / fanIn);
  let x = n >>> 0;
  for (let i = 0; i < n; i++) { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; out[i] = (x / 4294967296 * 2 - 1) * s; }
  return out;
};

async function runOnce(bytes: Uint8Array, res: number): Promise<ort.Tensor> {
  const s = await ort.InferenceSession.create(bytes);
  try {
    const frame = new Uint8Array(res * res * 3).map((_, i) => (i * 31) & 255);
    const out = await s.run({ pixels: new ort.Tensor('uint8', frame, [1, res, res, 3]) });
    expect(Object.keys(out)).toEqual(s.outputNames);
    return out[s.outputNames[0]!]!;
  } finally {
    await s.release();
  }
}

function checkLogits(t: ort.Tensor, classes: number): void {
  expect(t.dims).toEqual([1, classes]);
  const d = t.data as Float32Array;
  expect(d.every(Number.isFinite)).toBe(true);
  // a broken graph (zeroed path, wrong transpose to a constant) tends to give identical scores
  expect(Math.max(...d) - Math.min(...d)).toBeGreaterThan(0);
}

const grid: BuildOptions[] = [
  ...[0.25, 0.5, 0.75, 1.0].flatMap((alpha) => [128, 160, 192, 224].map((resolution) => ({ family: 'mobilenet_v1' as const, alpha, resolution }))),
  ...[0.35, 0.5, 0.75, 1.0, 1.3, 1.4].flatMap((alpha) => [96, 128, 160, 192, 224].map((resolution) => ({ family: 'mobilenet_v2' as const, alpha, resolution }))),
];
const key = (o: BuildOptions) => JSON.stringify([o.family, o.alpha, o.resolution, o.options ?? {}]);
const ladderExtra = zooLadder().filter((o) => !grid.some((g) => key(g) === key(o)));
// every family option value and the smallest accepted resolutions
const variants: BuildOptions[] = [
  ...[1, 2, 3, 4, 8].map((groups, i) => ({ family: 'shufflenet_v1' as const, alpha: [0.25, 0.5, 1.0, 1.5, 2.0][i]!, resolution: 96, options: { groups } })),
  { family: 'squeezenet', resolution: 35, options: { version: '1.0' } },
  { family: 'squeezenet', resolution: 35, options: { version: '1.1' } },
  { family: 'xception', resolution: 71, options: { separable_order: 'pointwise-first' } },
  { family: 'xception', resolution: 71, options: { separable_order: 'depthwise-first' } },
  { family: 'mobilenet_v1', alpha: 0.25, resolution: 32, options: { classifier: 'dense' } },
  { family: 'mobilenet_v2', alpha: 0.35, resolution: 32, activation: 'relu' },
];

describe('emitOnnx over the zoo', () => {
  it(`the MobileNet grids (${grid.length} models, 1000 classes) load and run in onnxruntime`, async () => {
    // weights do not depend on the resolution: draw them once per (family, alpha)
    let cacheKey = '';
    let cache = new Map<string, Float32Array>();
    for (const o of grid) {
      if (cacheKey !== `${o.family}/${o.alpha}`) { cacheKey = `${o.family}/${o.alpha}`; cache = new Map(); }
      const weights: WeightSource = (name, shape, role, fanIn) => {
        let w = cache.get(name);
        if (!w) cache.set(name, (w = cheap(name, shape, role, fanIn)));
        return w;
      };
      const g = buildGraph({ ...o, weights });
      checkLogits(await runOnce(emitOnnx(g), o.resolution), 1000);
    }
  });

  it(`the rest of the default ladder (${ladderExtra.length} models) and every family option`, async () => {
    const seen = new Set<string>();
    for (const o of [...ladderExtra, ...variants]) {
      const g = buildGraph({ ...o, weights: cheap });
      seen.add(g.meta.family);
      const bytes = emitOnnx(g);
      const d = describeOnnx(bytes);
      expect(d.opCounts.BatchNormalization ?? 0).toBe(0);
      expect(d.metadata.family).toBe(o.family);
      checkLogits(await runOnce(bytes, o.resolution), 1000);
    }
    expect([...seen].sort()).toEqual([...FAMILIES].sort());
  });

  it('every family emits a resolution-independent model that runs at other sizes', async () => {
    for (const [o, other] of [
      [{ family: 'mobilenet_v1', alpha: 0.25, resolution: 128 }, 97],
      [{ family: 'mobilenet_v2', alpha: 0.35, resolution: 96 }, 150],
      [{ family: 'shufflenet_v1', alpha: 0.5, resolution: 96, options: { groups: 3 } }, 130],
      [{ family: 'squeezenet', resolution: 64, options: { version: '1.1' } }, 101],
      [{ family: 'xception', resolution: 71, options: {} }, 90],
    ] as [BuildOptions, number][]) {
      const bytes = emitOnnx(buildGraph({ ...o, classes: 7, weights: cheap }), { dynamicResolution: true });
      expect(describeOnnx(bytes).inputs[0]!.shape).toEqual([1, 'H', 'W', 3]);
      const s = await ort.InferenceSession.create(bytes);
      for (const r of [o.resolution, other]) {
        const out = await s.run({ pixels: new ort.Tensor('uint8', new Uint8Array(r * r * 3).fill(90), [1, r, r, 3]) });
        expect(out.logits!.dims).toEqual([1, 7]);
      }
      await s.release();
    }
  });

  it('softmax graphs give probabilities, or logits on request', async () => {
    const g = buildGraph({ family: 'mobilenet_v2', alpha: 0.35, resolution: 96, classes: 5, weights: cheap, options: { softmax: true } });
    const p = await runOnce(emitOnnx(g), 96);
    expect(describeOnnx(emitOnnx(g)).outputs[0]!.name).toBe('probabilities');
    const l = await runOnce(emitOnnx(g, { output: 'logits' }), 96);
    const pd = p.data as Float32Array, ld = l.data as Float32Array;
    const m = Math.max(...ld), e = Array.from(ld, (v) => Math.exp(v - m)), z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 5; i++) expect(pd[i]!).toBeCloseTo(e[i]! / z, 6);
  });

  it('the same seed gives byte-identical ONNX; another seed does not', () => {
    const o: BuildOptions = { family: 'shufflenet_v1', alpha: 0.5, resolution: 224, seed: 42, options: { groups: 3 } };
    const a = emitOnnx(buildGraph(o));
    const b = emitOnnx(buildGraph(o));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(emitOnnx(buildGraph({ ...o, seed: 43 }))).equals(Buffer.from(a))).toBe(false);
  });
});
