import { describe, it, expect } from 'vitest';
import * as ort from 'onnxruntime-node';
import { buildGraph } from '../../src/zoo/registry.js';
import { foldBatchNorm, foldablePairs } from '../../src/zoo/fold.js';
import { heInit, mulberry32 } from '../../src/zoo/init.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import type { ConvLayer, Graph, WeightSource } from '../../src/zoo/graph.js';
import { inferShapes } from '../../src/zoo/graph.js';

/** He weights, but BN with non-trivial statistics and conv biases, so folding has something to do. */
function busyWeights(seed: number): WeightSource {
  const he = heInit(seed);
  return (name, shape, role, fanIn) => {
    const r = mulberry32(seed ^ name.length ^ (name.charCodeAt(name.length - 2) << 8));
    const n = shape.reduce((a, b) => a * b, 1);
    const u = (lo: number, hi: number) => Float32Array.from({ length: n }, () => lo + (hi - lo) * r());
    switch (role) {
      case 'bn.gamma': return u(0.5, 1.5);
      case 'bn.beta': return u(-0.3, 0.3);
      case 'bn.mean': return u(-0.5, 0.5);
      case 'bn.var': return u(0.2, 2);
      case 'conv.bias': return u(-0.1, 0.1);
      default: return he(name, shape, role, fanIn);
    }
  };
}

/** Plain reference convolution, NCHW without batch, groups and asymmetric pads. */
function refConv(x: Float32Array, [c, h, w]: number[], l: ConvLayer, weight: Float32Array, bias?: Float32Array): { y: Float32Array; shape: number[] } {
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const [pt, pl, pb, pr] = l.pads;
  const oh = Math.floor((h! + pt + pb - kh) / sh) + 1;
  const ow = Math.floor((w! + pl + pr - kw) / sw) + 1;
  const icg = c! / l.group;
  const ocg = l.outChannels / l.group;
  const y = new Float32Array(l.outChannels * oh * ow);
  for (let o = 0; o < l.outChannels; o++) {
    const g = Math.floor(o / ocg);
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      let s = bias ? bias[o]! : 0;
      for (let ic = 0; ic < icg; ic++) for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
        const yy = i * sh + a - pt;
        const xx = j * sw + b - pl;
        if (yy < 0 || yy >= h! || xx < 0 || xx >= w!) continue;
        s += x[(g * icg + ic) * h! * w! + yy * w! + xx]! * weight[((o * icg + ic) * kh + a) * kw + b]!;
      }
      y[(o * oh + i) * ow + j] = s;
    }
  }
  return { y, shape: [l.outChannels, oh, ow] };
}

function refBn(x: Float32Array, c: number, g: Graph, name: string, eps: number): Float32Array {
  const p = (r: string) => g.params.get(`${name}.${r}`)!.data;
  const [gamma, beta, mean, variance] = [p('gamma'), p('beta'), p('mean'), p('var')];
  const per = x.length / c;
  return x.map((v, i) => {
    const ch = Math.floor(i / per);
    return (gamma[ch]! * (v - mean[ch]!)) / Math.sqrt(variance[ch]! + eps) + beta[ch]!;
  });
}

describe('foldBatchNorm', () => {
  it('folded conv == conv then BN, on each kind of conv (full, depthwise, grouped, with bias)', () => {
    const graphs = [
      buildGraph({ family: 'mobilenet_v1', alpha: 0.25, resolution: 32, weights: busyWeights(1) }),
      buildGraph({ family: 'shufflenet_v1', alpha: 0.25, resolution: 32, weights: busyWeights(2) }),
      buildGraph({ family: 'squeezenet', resolution: 40, options: { version: '1.1' }, weights: busyWeights(3) }),
    ];
    const picks = [['conv1', 'block2.dw', 'block2.pw'], ['stage3.unit2.gconv1', 'stage3.unit1.dw'], ['conv1', 'fire2.expand3x3']];
    graphs.forEach((g, gi) => {
      const folded = foldBatchNorm(g);
      const shapes = inferShapes(g);
      const pairs = foldablePairs(g);
      const bnOf = new Map([...pairs].map(([bn, conv]) => [conv.name, bn]));
      const r = mulberry32(99 + gi);
      for (const name of picks[gi]!) {
        const conv = g.layers.find((l) => l.name === name) as ConvLayer;
        const inShape = shapes.get(conv.inputs[0]!)!;
        const x = Float32Array.from({ length: inShape.reduce((a, b) => a * b, 1) }, () => r() * 2 - 1);
        const bnName = bnOf.get(name)!;
        const bn = g.layers.find((l) => l.name === bnName)!;
        const eps = bn.op === 'bn' ? bn.epsilon : NaN;
        const a = refConv(x, inShape, conv, g.params.get(`${name}.weight`)!.data, g.params.get(`${name}.bias`)?.data);
        const want = refBn(a.y, a.shape[0]!, g, bnName, eps);
        const fc = folded.layers.find((l) => l.name === name) as ConvLayer;
        expect(fc).toMatchObject({ bias: true, output: bn.output });
        const got = refConv(x, inShape, fc, folded.params.get(`${name}.weight`)!.data, folded.params.get(`${name}.bias`)!.data).y;
        let maxErr = 0;
        for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
        expect([name, maxErr < 1e-4]).toEqual([name, true]);
      }
      // every BN in these graphs follows a conv: none is left, and no BN parameter survives
      expect(folded.layers.some((l) => l.op === 'bn')).toBe(false);
      expect([...folded.params.keys()].some((k) => /\.(gamma|beta|mean|var)$/.test(k))).toBe(false);
      expect(inferShapes(folded).get(folded.output)).toEqual(shapes.get(g.output));
      // the input graph is untouched
      expect(g.layers.some((l) => l.op === 'bn')).toBe(true);
    });
  });

  it('whole networks give the same outputs folded and unfolded (onnxruntime)', async () => {
    for (const opts of [
      { family: 'mobilenet_v2', alpha: 0.35, resolution: 48 },
      { family: 'shufflenet_v1', alpha: 0.5, resolution: 48, options: { groups: 2 } },
      { family: 'squeezenet', resolution: 64 },
    ] as const) {
      const g = buildGraph({ ...opts, classes: 16, weights: busyWeights(5) });
      const x = Float32Array.from({ length: 3 * opts.resolution * opts.resolution }, (_, i) => Math.sin(i * 0.37));
      const run = async (foldBn: boolean) => {
        const s = await ort.InferenceSession.create(emitOnnx(g, { input: 'float-nchw', foldBn }));
        try {
          const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('float32', x, [1, 3, opts.resolution, opts.resolution]) });
          return out[s.outputNames[0]!]!.data as Float32Array;
        } finally { await s.release(); }
      };
      const [a, b] = [await run(false), await run(true)];
      const scale = Math.max(...Array.from(a, Math.abs));
      expect(scale).toBeGreaterThan(0);
      let maxErr = 0;
      for (let i = 0; i < a.length; i++) maxErr = Math.max(maxErr, Math.abs(a[i]! - b[i]!));
      expect([opts.family, maxErr / scale < 1e-4]).toEqual([opts.family, true]);
    }
  });
});
