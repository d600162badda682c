import { describe, it, expect, afterAll } from 'vitest';
import { buildGraph, type BuildOptions } from '../../src/zoo/registry.js';
import { TfjsEngine } from '../../src/engine/tfjs/engine.js';
import { buildTfjsModel } from '../../src/engine/tfjs/model.js';
import { tf } from '../../src/engine/tfjs/backend.js';
import type { Graph, Layer } from '../../src/zoo/graph.js';
import { ortLogits, tfjsLogits } from './tfjs-helpers.js';
import { evaluate, fillParams, pixelsToInput, relErr, seededFrame } from './onnx-reference.js';

/**
 * onnxruntime (ONNX from emitOnnx, BN folded) against TensorFlow.js (layers built from the same Graph, BN unfolded,
 * NHWC) on the same seeded weights and the same uint8 frame. Error measure: max|a-b| <= 1e-4 * max|onnx|, on logits
 * (a softmax would hide errors in small scores).
 */
const TOL = 1e-4;

const cases: [string, Omit<BuildOptions, 'resolution'>, number[]][] = [
  ['MobileNet-v1 0.25', { family: 'mobilenet_v1', alpha: 0.25 }, [128, 160]],
  ['MobileNet-v1 0.25, dense classifier', { family: 'mobilenet_v1', alpha: 0.25, options: { classifier: 'dense' } }, [96]],
  ['MobileNet-v2 0.35', { family: 'mobilenet_v2', alpha: 0.35 }, [96, 128]],
  ['ShuffleNet-v1 0.5 g3', { family: 'shufflenet_v1', alpha: 0.5, options: { groups: 3 } }, [96, 131]],
  ['ShuffleNet-v1 0.25 g8', { family: 'shufflenet_v1', alpha: 0.25, options: { groups: 8 } }, [64]],
  ['SqueezeNet 1.0', { family: 'squeezenet', options: { version: '1.0' } }, [67, 96]],
  ['SqueezeNet 1.1', { family: 'squeezenet', options: { version: '1.1' } }, [64, 99]],
  // Xception (23M parameters) is in tfjs-xception.test.ts, so the two files can run side by side
];

describe('TensorFlow.js and onnxruntime agree on every family', () => {
  for (const [label, o, resolutions] of cases) {
    for (const r of resolutions) {
      it(`${label} at ${r}`, async () => {
        const g = buildGraph({ ...o, resolution: r, seed: 5 });
        const frame = seededFrame(r, r, r);
        const a = await ortLogits(g, frame, [r, r]);
        const b = await tfjsLogits(g, frame);
        expect(a.length).toBe(1000);
        expect(relErr(b, a)).toBeLessThanOrEqual(TOL);
      });
    }
  }
});

/** every op, odd sizes, asymmetric explicit pads, grouped conv with pads, ceil-mode and padded pools */
function tinyGraph(h: number, w: number): Graph {
  const L: Layer[] = [
    { name: 'c1', op: 'conv', inputs: ['img'], output: 'c1', outChannels: 8, kernel: [3, 3], stride: [2, 2], pads: [1, 0, 1, 1], group: 1, bias: false },
    { name: 'bn1', op: 'bn', inputs: ['c1'], output: 'bn1', epsilon: 1e-3 },
    { name: 'a1', op: 'relu6', inputs: ['bn1'], output: 'a1' },
    { name: 'dw', op: 'conv', inputs: ['a1'], output: 'dw', outChannels: 16, kernel: [3, 3], stride: [2, 1], pads: [0, 1, 2, 1], group: 8, bias: true },
    { name: 'a2', op: 'relu', inputs: ['dw'], output: 'a2' },
    { name: 'gc', op: 'conv', inputs: ['a2'], output: 'gc', outChannels: 12, kernel: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1], group: 4, bias: true },
    { name: 'gc2', op: 'conv', inputs: ['gc'], output: 'gc2', outChannels: 12, kernel: [3, 3], stride: [2, 2], pads: [0, 1, 1, 0], group: 2, bias: false },
    { name: 'bn2', op: 'bn', inputs: ['gc2'], output: 'bn2', epsilon: 1e-5 },
    { name: 'sh', op: 'shuffle', inputs: ['bn2'], output: 'sh', groups: 3 },
    { name: 'mp', op: 'maxpool', inputs: ['sh'], output: 'mp', kernel: [2, 2], stride: [2, 2], pads: [0, 0, 0, 0], ceil: true },
    { name: 'ap', op: 'avgpool', inputs: ['sh'], output: 'ap', kernel: [3, 3], stride: [2, 2], pads: [1, 0, 1, 0], ceil: true },
    { name: 'cat', op: 'concat', inputs: ['mp', 'ap'], output: 'cat' },
    { name: 'mp2', op: 'maxpool', inputs: ['cat'], output: 'mp2', kernel: [3, 3], stride: [1, 1], pads: [1, 0, 1, 2], ceil: false },
    { name: 'res', op: 'add', inputs: ['mp2', 'cat'], output: 'res' },
    { name: 'fl', op: 'flatten', inputs: ['res'], output: 'fl' },
    { name: 'fc', op: 'dense', inputs: ['fl'], output: 'fc', units: 10, bias: true },
  ];
  return fillParams({
    meta: { family: 'mobilenet_v1', alpha: 1, resolution: h, classes: 10, options: {} },
    input: { name: 'img', shape: [3, h, w] },
    layers: L,
    output: 'fc',
    params: new Map(),
  }, 4);
}

describe('TensorFlow.js model of hand-built graphs', () => {
  const engines: TfjsEngine[] = [];
  afterAll(async () => { for (const e of engines) await e.close(); });

  it('matches the plain JS reference and onnxruntime (explicit pads, groups, ceil, spatial flatten)', async () => {
    for (const [h, w] of [[23, 18], [21, 27]] as const) {
      const g = tinyGraph(h, w);
      const frame = seededFrame(h, w, h + w);
      const ref = evaluate(g, pixelsToInput(frame, h, w, [1 / 127.5, 1 / 127.5, 1 / 127.5], [-1, -1, -1])).get('fc')!.data;
      for (const foldBn of [false, true]) {
        const e = await TfjsEngine.load(g, { foldBn });
        engines.push(e);
        expect(relErr((await e.run(frame)).scores, ref)).toBeLessThanOrEqual(TOL);
      }
      expect(relErr(await ortLogits(g, frame, [h, w]), ref)).toBeLessThanOrEqual(TOL);
      // sharp enough to see a transposed frame
      const swapped = seededFrame(h, w, h + w).reverse();
      expect(relErr((await engines.at(-1)!.run(swapped)).scores, ref)).toBeGreaterThan(100 * TOL);
    }
  });

  it('gives probabilities when asked, with custom normalisation', async () => {
    const g = tinyGraph(23, 18);
    const frame = seededFrame(23, 18, 1);
    const normalize = { scale: [0.02, 0.01, 0.015], offset: [-1.5, -0.5, -1] };
    const e = await TfjsEngine.load(g, { output: 'probabilities', normalize });
    engines.push(e);
    expect(e.io).toEqual({ inputName: 'pixels', inputShape: [1, 23, 18, 3], inputType: 'uint8', outputName: 'probabilities', outputShape: [1, 10] });
    const ref = evaluate(g, pixelsToInput(frame, 23, 18, normalize.scale, normalize.offset)).get('fc')!.data;
    const m = Math.max(...ref), ex = ref.map((v) => Math.exp(v - m)), z = ex.reduce((a, b) => a + b, 0);
    expect(relErr((await e.run(frame)).scores, ex.map((v) => v / z))).toBeLessThanOrEqual(TOL);
  });

  it('buildTfjsModel alone: float NHWC in, and no tensors leak per run', async () => {
    const g = tinyGraph(23, 18);
    const { model, outputKind } = buildTfjsModel(g);
    expect(outputKind).toBe('logits');
    expect(model.outputs[0]!.shape).toEqual([null, 10]);
    const e = await TfjsEngine.load(g);
    engines.push(e);
    const frame = seededFrame(23, 18, 2);
    await e.run(frame);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await e.run(frame);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('refuses wrong frames and bad options with a message', async () => {
    const g = tinyGraph(23, 18);
    const e = await TfjsEngine.load(g);
    engines.push(e);
    await expect(e.run(new Uint8Array(10))).rejects.toThrow(/23x18x3/);
    await expect(TfjsEngine.load(g, { normalize: { scale: [1, 2], offset: 0 } })).rejects.toThrow(/normalize\.scale/);
    await expect(TfjsEngine.load(g, { providers: ['cuda'] })).rejects.toThrow(/no TensorFlow\.js backend/);
  });
});
