import { describe, it, expect, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { emitOnnx, describeOnnx } from '../../src/onnx/emit.js';
import type { Graph, Layer } from '../../src/zoo/graph.js';
import { evaluate, fillParams, pixelsToInput, relErr, seededFrame, rng } from './onnx-reference.js';

const TOL = 1e-4;

/** Every op the emitter knows, at an odd, non-square size so transposes, pads and ceil-mode show. */
function tinyGraph(h = 20, w = 16, softmax = true): Graph {
  const L: Layer[] = [
    // TF-style asymmetric 'same' padding for stride 2
    { name: 'c1', op: 'conv', inputs: ['img'], output: 'c1', outChannels: 8, kernel: [3, 3], stride: [2, 2], pads: [0, 0, 1, 1], group: 1, bias: false },
    { name: 'bn1', op: 'bn', inputs: ['c1'], output: 'bn1', epsilon: 1e-3 },
    { name: 'a1', op: 'relu6', inputs: ['bn1'], output: 'a1' },
    { name: 'dw', op: 'conv', inputs: ['a1'], output: 'dw', outChannels: 8, kernel: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1], group: 8, bias: false },
    { name: 'bn2', op: 'bn', inputs: ['dw'], output: 'bn2', epsilon: 1e-5 },
    { name: 'a2', op: 'relu', inputs: ['bn2'], output: 'a2' },
    { name: 'pw', op: 'conv', inputs: ['a2'], output: 'pw', outChannels: 8, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], group: 1, bias: true },
    { name: 'res', op: 'add', inputs: ['pw', 'a1'], output: 'res' },
    // a BN that does not follow a conv stays a BatchNormalization node
    { name: 'bn3', op: 'bn', inputs: ['res'], output: 'bn3', epsilon: 1e-3 },
    { name: 'gc', op: 'conv', inputs: ['bn3'], output: 'gc', outChannels: 12, kernel: [1, 1], stride: [1, 1], pads: [0, 0, 0, 0], group: 4, bias: true },
    { name: 'cat', op: 'concat', inputs: ['gc', 'a1'], output: 'cat' },
    { name: 'sh', op: 'shuffle', inputs: ['cat'], output: 'sh', groups: 4 },
    { name: 'mp', op: 'maxpool', inputs: ['sh'], output: 'mp', kernel: [3, 3], stride: [2, 2], pads: [0, 0, 0, 0], ceil: true },
    { name: 'ap', op: 'avgpool', inputs: ['mp'], output: 'ap', kernel: [3, 3], stride: [1, 1], pads: [1, 1, 1, 1], ceil: false },
    { name: 'gap', op: 'gap', inputs: ['ap'], output: 'gap' },
    { name: 'fl', op: 'flatten', inputs: ['gap'], output: 'fl' },
    { name: 'fc', op: 'dense', inputs: ['fl'], output: 'fc', units: 10, bias: true },
  ];
  if (softmax) L.push({ name: 'sm', op: 'softmax', inputs: ['fc'], output: 'prob' });
  return fillParams({
    meta: { family: 'mobilenet_v1', alpha: 0.25, resolution: h, classes: 10, options: {} },
    input: { name: 'img', shape: [3, h, w] },
    layers: L,
    output: softmax ? 'prob' : 'fc',
    params: new Map(),
  }, 11);
}

const sessions: ort.InferenceSession[] = [];
async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, Float32Array>> {
  const s = await ort.InferenceSession.create(bytes);
  sessions.push(s);
  const out = await s.run(feeds);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
}
afterAll(async () => { for (const s of sessions) await s.release(); });

function reference(g: Graph, frame: Uint8Array, h: number, w: number, scale = [1 / 127.5, 1 / 127.5, 1 / 127.5], offset = [-1, -1, -1]) {
  const env = evaluate({ ...g, input: { ...g.input, shape: [3, h, w] } }, pixelsToInput(frame, h, w, scale, offset));
  return { logits: env.get('fc')!.data, prob: env.get('prob')?.data };
}

describe('emitOnnx', () => {
  it('uint8 NHWC frame in, logits match a plain JS reference (folded BN, default normalisation)', async () => {
    const g = tinyGraph();
    const frame = seededFrame(20, 16);
    const out = await run(emitOnnx(g, { output: 'logits' }), { pixels: new ort.Tensor('uint8', frame, [1, 20, 16, 3]) });
    expect(Object.keys(out)).toEqual(['logits']);
    const ref = reference(g, frame, 20, 16);
    expect(relErr(out.logits!, ref.logits)).toBeLessThanOrEqual(TOL);
    // the check is sharp enough to see a one-pixel shift of the input
    const shifted = frame.slice(); shifted.copyWithin(0, 3);
    expect(relErr(out.logits!, reference(g, shifted, 20, 16).logits)).toBeGreaterThan(100 * TOL);
  });

  it('unfolded BN, probabilities by default when the graph ends in softmax', async () => {
    const g = tinyGraph();
    const frame = seededFrame(20, 16, 3);
    const bytes = emitOnnx(g, { foldBn: false });
    const d = describeOnnx(bytes);
    expect(d.opCounts.BatchNormalization).toBe(3);
    expect(d.outputs).toEqual([{ name: 'probabilities', elemType: 1, shape: [1, 10] }]);
    const out = await run(bytes, { pixels: new ort.Tensor('uint8', frame, [1, 20, 16, 3]) });
    const ref = reference(g, frame, 20, 16);
    expect(relErr(out.probabilities!, ref.prob!)).toBeLessThanOrEqual(TOL);
    expect(out.probabilities!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('folds exactly the BNs that follow a conv', () => {
    const d = describeOnnx(emitOnnx(tinyGraph()));
    expect(d.opCounts.BatchNormalization).toBe(1);
    expect(d.opCounts).toMatchObject({ Cast: 1, Transpose: 2, Mul: 1, Conv: 4, Clip: 1, Relu: 1, Concat: 1, Reshape: 2, MaxPool: 1, AveragePool: 1, GlobalAveragePool: 1, Flatten: 1, Gemm: 1, Softmax: 1 });
  });

  it('per-channel normalisation and float NCHW input', async () => {
    const g = tinyGraph(20, 16, false);
    const frame = seededFrame(20, 16, 5);
    const scale = [0.017, 0.018, 0.0175], offset = [-2.1, -2.0, -1.8];
    const ref = reference(g, frame, 20, 16, scale, offset);
    const a = await run(emitOnnx(g, { normalize: { scale, offset } }), { pixels: new ort.Tensor('uint8', frame, [1, 20, 16, 3]) });
    expect(relErr(a.logits!, ref.logits)).toBeLessThanOrEqual(TOL);
    // float-nchw takes the already-normalised tensor
    const x = pixelsToInput(frame, 20, 16, scale, offset);
    const b = await run(emitOnnx(g, { input: 'float-nchw' }), { input: new ort.Tensor('float32', Float32Array.from(x.data), [1, 3, 20, 16]) });
    expect(relErr(b.logits!, ref.logits)).toBeLessThanOrEqual(TOL);
  });

  it('dynamic resolution: one model runs at other sizes and matches the reference there', async () => {
    const g = tinyGraph(20, 16, false);
    const bytes = emitOnnx(g, { dynamicResolution: true });
    const d = describeOnnx(bytes);
    expect(d.inputs[0]!.shape).toEqual([1, 'H', 'W', 3]);
    expect(d.metadata.dynamic_resolution).toBe('true');
    const s = await ort.InferenceSession.create(bytes);
    sessions.push(s);
    for (const [h, w] of [[20, 16], [32, 24], [11, 17]] as const) {
      const frame = seededFrame(h, w, h);
      const out = await s.run({ pixels: new ort.Tensor('uint8', frame, [1, h, w, 3]) });
      expect(relErr(out.logits!.data as Float32Array, reference(g, frame, h, w).logits)).toBeLessThanOrEqual(TOL);
    }
  });

  it('keeps fixed dims when the classifier depends on the resolution', () => {
    const g = tinyGraph(20, 16, false);
    // flatten the spatial map straight into the dense layer: weights are tied to this size
    const layers = g.layers.filter((l) => l.name !== 'gap').map((l) => (l.name === 'fl' ? { ...l, inputs: ['ap'] } : l));
    const g2 = fillParams({ ...g, layers }, 2);
    const d = describeOnnx(emitOnnx(g2, { dynamicResolution: true }));
    expect(d.inputs[0]!.shape).toEqual([1, 20, 16, 3]);
    expect(d.metadata.dynamic_resolution).toBe('false');
  });

  it('flatten of a spatial map uses NCHW order', async () => {
    const g = tinyGraph(20, 16, false);
    const layers = g.layers.filter((l) => l.name !== 'gap').map((l) => (l.name === 'fl' ? { ...l, inputs: ['ap'] } : l));
    const g2 = fillParams({ ...g, layers }, 2);
    const frame = seededFrame(20, 16, 9);
    const out = await run(emitOnnx(g2), { pixels: new ort.Tensor('uint8', frame, [1, 20, 16, 3]) });
    expect(relErr(out.logits!, reference(g2, frame, 20, 16).logits)).toBeLessThanOrEqual(TOL);
  });

  it('is deterministic and records metadata', () => {
    const a = emitOnnx(tinyGraph());
    const b = emitOnnx(tinyGraph());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const g = tinyGraph();
    g.params.get('fc.bias')!.data[0]! += 1;
    expect(Buffer.from(emitOnnx(g)).equals(Buffer.from(a))).toBe(false);
    const d = describeOnnx(a);
    expect(d.metadata).toMatchObject({ family: 'mobilenet_v1', alpha: '0.25', resolution: '20', classes: '10', producer: 'edgefit' });
    expect(d.opset).toBe(13);
    expect(d.inputs).toEqual([{ name: 'pixels', elemType: 2, shape: [1, 20, 16, 3] }]);
    // folded: conv weights + biases, one BN, dense, norm, clip bounds, shuffle shapes
    let expected = 0;
    for (const [k, p] of tinyGraph().params) if (!/^bn[12]\./.test(k)) expected += p.data.length * 4;
    expected += 8 * 4 /* bias created for c1 */ + 8 * 4 /* dw bias */ + 6 * 4 /* norm */ + 2 * 4 /* clip */ + 2 * 4 * 8 /* shapes */;
    expect(d.initializerBytes).toBe(expected);
  });

  it('does not modify the graph it is given', () => {
    const g = tinyGraph();
    const before = new Map([...g.params].map(([k, v]) => [k, Float32Array.from(v.data)]));
    const n = g.layers.length;
    emitOnnx(g);
    expect(g.layers.length).toBe(n);
    for (const [k, v] of before) expect(g.params.get(k)!.data).toEqual(v);
  });

  it('refuses bad options and malformed graphs with a message', () => {
    const g = tinyGraph();
    expect(() => emitOnnx(g, { opset: 9 })).toThrow(/opset must be an integer in 13\.\.17/);
    expect(() => emitOnnx(g, { normalize: { scale: [1, 2], offset: 0 } })).toThrow(/normalize\.scale/);
    expect(() => emitOnnx(g, { input: 'nope' as 'float-nchw' })).toThrow(/input must be/);
    const missing = { ...g, params: new Map([...g.params].filter(([k]) => k !== 'fc.weight')) };
    expect(() => emitOnnx(missing)).toThrow(/parameter fc\.weight is missing/);
    const wrongClasses = { ...g, meta: { ...g.meta, classes: 11 } };
    expect(() => emitOnnx(wrongClasses)).toThrow(/declares 11 classes/);
    const r = rng(1); void r;
  });

  it('opset 17 loads too', async () => {
    const g = tinyGraph(20, 16, false);
    const frame = seededFrame(20, 16);
    const out = await run(emitOnnx(g, { opset: 17 }), { pixels: new ort.Tensor('uint8', frame, [1, 20, 16, 3]) });
    expect(relErr(out.logits!, reference(g, frame, 20, 16).logits)).toBeLessThanOrEqual(TOL);
  });
});
