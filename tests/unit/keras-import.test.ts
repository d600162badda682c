import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { importKeras, importKerasFloat, type KerasFloatImport } from '../../src/importers/keras/index.js';
import { convertKeras } from '../../src/importers/keras/convert.js';
import { parseKerasConfig } from '../../src/importers/keras/config.js';
import { readKerasH5, type KerasH5, type KerasModelConfig, type KerasVar, type KerasWeights } from '../../src/importers/keras/h5.js';
import type { KerasGraph } from '../../src/importers/keras/config.js';
import { loadEvalImages, runFrames, labelName, type EvalImage } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';
import { EdgefitError } from '../../src/util/errors.js';
import { readOnnx } from '../../src/onnx/reader.js';

const KERAS = join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5');
const VWW = join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5');

describe('Keras .h5 import (MobileNet-v1 0.25/224, ImageNet)', () => {
  let r: KerasFloatImport;
  let images: EvalImage[];
  beforeAll(async () => {
    r = await importKerasFloat(KERAS, { labelsPath: join(sharedData, 'labels/imagenet_labels_1000.txt') });
    images = await loadEvalImages(join(sharedData, 'images/test'), 224);
  });

  it('writes a card with the Keras Applications preprocessing folded in', () => {
    expect(r.card).toMatchObject({ name: 'mobilenet_0.25_224', family: 'mobilenet_v1', alpha: 0.25, resolution: 224, classes: 1000, output: 'probabilities', precision: 'fp32' });
    expect(r.card.input).toEqual({ layout: 'NHWC', dtype: 'uint8', scale: 1 / 127.5, offset: -1 });
    expect(r.card.source.format).toBe('keras');
    expect(r.card.source.sha256).toMatch(/^[0-9a-f]{64}$/);
    // every conv's BN was folded into it; ZeroPadding2D became conv pads
    const ops = readOnnx(r.onnx).graph!.node!.map((n) => n.opType);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(28);
    expect(ops).not.toContain('BatchNormalization');
    expect(ops).not.toContain('Pad');
    expect(r.weights.get('conv_pw_13_bn')?.get('moving_variance')?.shape).toEqual([256]);
  });

  it('classifies the labelled photos sensibly (14 of 16 top-1, all 16 top-5)', async () => {
    const out = await runFrames(r.onnx, images.map((i) => i.frame), 224);
    let top1 = 0, top5 = 0, n = 0;
    out.forEach((o, i) => {
      expect(o.out.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4);
      const im = images[i]!;
      if (!im.accept || im.kind === 'none') return;
      n++;
      const order = Array.from(o.out.keys()).sort((a, b) => o.out[b]! - o.out[a]!);
      const name = (k: number) => labelName(r.card.labels![k]!);
      if (im.accept.includes(name(order[0]!))) top1++;
      if (order.slice(0, 5).some((k) => im.accept!.includes(name(k)))) top5++;
    });
    expect(n).toBe(16);
    expect(top1).toBeGreaterThanOrEqual(14);
    expect(top5).toBe(16);
    const parrot = out[images.findIndex((i) => i.file === 'parrot.jpg')]!.out;
    expect(labelName(r.card.labels![parrot.indexOf(Math.max(...parrot))]!)).toBe('macaw');
  });

  it('the caller overrides the input scale/offset, and the model changes with it', async () => {
    const a = await importKeras(KERAS, { scale: 1 / 255, offset: 0 });
    expect(a.card.input.scale).toBeCloseTo(1 / 255, 12);
    const [x] = await runFrames(a.onnx, [images[0]!.frame], 224);
    const [y] = await runFrames(r.onnx, [images[0]!.frame], 224);
    expect(Math.max(...x!.out.map((v, i) => Math.abs(v - y!.out[i]!)))).toBeGreaterThan(1e-3);
    await expect(importKeras(KERAS, { scale: 0 })).rejects.toThrow(/scale 0/);
  });
});

describe('Keras .h5 import (person detector, VWW 96)', () => {
  it('imports the custom model with p/255, Dense softmax output [1,2], and a labels mismatch is refused', async () => {
    const r = await importKeras(VWW, { labelsPath: join(sharedData, 'labels/vww_labels.txt') });
    expect(r.card).toMatchObject({ resolution: 96, classes: 2, output: 'probabilities', labels: ['non_person', 'person'] });
    expect(r.card.input.scale).toBeCloseTo(1 / 255, 12);
    const s = await ort.InferenceSession.create(r.onnx);
    expect(s.inputNames).toEqual(['pixels']);
    await s.release();
    await expect(importKeras(VWW, { labelsPath: join(sharedData, 'labels/imagenet_labels_1000.txt') })).rejects.toThrow(/1000 lines but the model has 2 classes/);
  });
});

describe('Keras conversion details', () => {
  const conv = (cfg: Record<string, unknown>) => ({ class_name: 'Conv2D', config: { name: 'c', filters: 1, kernel_size: [3, 3], strides: [2, 2], padding: 'same', use_bias: false, activation: 'linear', ...cfg } });
  const seq = (layers: unknown[]) => parseKerasConfig({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 4, 4, 3] } }, ...layers] } }, 'test.h5');

  it('an unsupported layer is refused naming the layer and its class', () => {
    const g = seq([{ class_name: 'LSTM', config: { name: 'my_lstm' } }]);
    expect(() => convertKeras(g, new Map(), { scale: 1, offset: 0, source: 'test.h5' })).toThrow(EdgefitError);
    expect(() => convertKeras(g, new Map(), { scale: 1, offset: 0, source: 'test.h5' })).toThrow(/my_lstm \(LSTM\)/);
  });

  it("'same' with stride 2 pads bottom/right only (TF semantics), checked against a direct computation", async () => {
    // 3x3 kernel of ones on channel 0: output pixel (i,j) sums input rows 2i..2i+2, cols 2j..2j+2 (pad at the end)
    const kernel = new Float32Array(27);
    for (let k = 0; k < 9; k++) kernel[k * 3] = 1;
    const w: KerasWeights = new Map([['c', new Map([['kernel', { shape: [3, 3, 3, 1], data: kernel }]])]]);
    const g = seq([conv({}), { class_name: 'Flatten', config: { name: 'f' } }]);
    const c = convertKeras(g, w, { scale: 1, offset: 0, source: 'test.h5' });
    const px = new Uint8Array(48);
    for (let i = 0; i < 16; i++) px[i * 3] = i + 1;
    const [o] = await runFrames(c.builder.toBytes(), [px], 4);
    const ref = [0, 1].flatMap((i) => [0, 1].map((j) => {
      let s = 0;
      for (let y = 2 * i; y < 2 * i + 3; y++) for (let x = 2 * j; x < 2 * j + 3; x++) if (y < 4 && x < 4) s += y * 4 + x + 1;
      return s;
    }));
    expect(Array.from(o!.out)).toEqual(ref);
  });
});

describe('Keras weights that do not fit their layers (the person detector .h5, one weight altered)', () => {
  let h5: KerasH5;
  let graph: KerasGraph;
  beforeAll(async () => {
    h5 = await readKerasH5(VWW);
    graph = parseKerasConfig(h5.config, VWW);
  });
  /** the file's real weights with one variable replaced */
  const altered = (layer: string, v: string, value: KerasVar): KerasWeights => {
    const w: KerasWeights = new Map([...h5.weights].map(([k, m]) => [k, new Map(m)]));
    w.get(layer)!.set(v, value);
    return w;
  };
  const refusal = (w: KerasWeights): unknown => {
    try {
      convertKeras(graph, w, { scale: 1 / 255, offset: 0, source: VWW });
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const vec = (n: number): KerasVar => ({ shape: [n], data: new Float32Array(n).fill(0.5) });

  it('the unaltered weights convert (the baseline the cases below change one thing of)', () => {
    expect(refusal(h5.weights)).toBeUndefined();
  });

  // BatchNormalization vectors are folded into the conv before them (foldBn), biases become initializers
  const vectors: [layer: string, className: string, v: string, n: number][] = [
    ['batch_normalization_1', 'BatchNormalization', 'moving_mean', 8],
    ['batch_normalization_1', 'BatchNormalization', 'moving_variance', 8],
    ['batch_normalization_2', 'BatchNormalization', 'gamma', 16],
    ['batch_normalization_2', 'BatchNormalization', 'beta', 16],
    ['conv2d', 'Conv2D', 'bias', 8],
    ['depthwise_conv2d', 'DepthwiseConv2D', 'bias', 8],
    ['dense', 'Dense', 'bias', 2],
  ];
  for (const [layer, cls, v, n] of vectors) {
    it(`${layer} ${v} shorter or longer than the layer's ${n} channels is refused with E_KERAS_FORMAT, naming both sizes`, () => {
      for (const m of [n - 1, n + 3]) {
        const err = refusal(altered(layer, v, vec(m)));
        expect(err).toBeInstanceOf(EdgefitError);
        expect((err as EdgefitError).code).toBe('E_KERAS_FORMAT');
        expect((err as EdgefitError).message).toMatch(new RegExp(`weight ${v} of layer ${layer} \\(${cls}\\) has ${m} values, the layer needs ${n}; .*re-save the model`));
      }
    });
  }

  it('kernels that do not fit are refused: a depthwise kernel for other input channels, a rank-2 conv kernel, values short of the shape', () => {
    const cases: [string, string, KerasVar, RegExp][] = [
      // same number of values as the real [3,3,8,1]: only the shape tells
      ['depthwise_conv2d', 'depthwise_kernel', { shape: [3, 3, 4, 2], data: new Float32Array(72) }, /weight depthwise_kernel of layer depthwise_conv2d \(DepthwiseConv2D\) has shape \[3,3,4,2\] for 4 input channels, the layer's input has 8/],
      ['conv2d', 'kernel', { shape: [27, 8], data: new Float32Array(216) }, /weight kernel of layer conv2d \(Conv2D\) has shape \[27,8\], the layer needs a 4-D kernel/],
      ['dense', 'kernel', { shape: [256, 2], data: new Float32Array(300) }, /weight kernel of layer dense \(Dense\) has 300 values for its shape \[256,2\] \(512\)/],
    ];
    for (const [layer, v, value, why] of cases) {
      const err = refusal(altered(layer, v, value));
      expect(err, `${layer} ${v}`).toBeInstanceOf(EdgefitError);
      expect((err as EdgefitError).code).toBe('E_KERAS_FORMAT');
      expect((err as EdgefitError).message).toMatch(why);
    }
  });
});

describe('Keras model_config of the wrong types', () => {
  const refusal = (f: () => unknown): EdgefitError => {
    try {
      f();
    } catch (err) {
      expect(err, String(err)).toBeInstanceOf(EdgefitError);
      return err as EdgefitError;
    }
    throw new Error('accepted');
  };
  const parse = (mc: unknown) => () => parseKerasConfig(mc as KerasModelConfig, 'bad.h5');
  const input = { class_name: 'InputLayer', config: { name: 'in', batch_input_shape: [null, 4, 4, 3] } };

  it('is refused with E_KERAS_FORMAT saying what is wrong, never a TypeError', () => {
    const cases: [unknown, RegExp][] = [
      [{ class_name: 'Sequential', config: { name: 's' } }, /the Sequential model_config has no list of layers/],
      [{ class_name: 'Functional', config: { layers: 5, input_layers: [['a', 0, 0]], output_layers: [['a', 0, 0]] } }, /the Functional model_config has no list of layers/],
      [{ class_name: 'Sequential', config: { layers: [input, null] } }, /no list of layers/],
      [{ class_name: 'Sequential', config: { layers: [{ class_name: 'InputLayer', config: { name: 'in', batch_input_shape: 'NHWC' } }] } }, /layer in has input shape "NHWC", not a list of sizes/],
      [null, /model_config is not a JSON object/],
    ];
    for (const [mc, why] of cases) {
      const err = refusal(parse(mc));
      expect(err.code).toBe('E_KERAS_FORMAT');
      expect(err.message).toMatch(why);
      expect(err.message).toMatch(/re-save the model/);
    }
    const g = parseKerasConfig({ class_name: 'Sequential', config: { name: 's', layers: [input, { class_name: 'Flatten', config: { name: 'f' } }, { class_name: 'Reshape', config: { name: 'r' } }] } }, 'bad.h5');
    const err = refusal(() => convertKeras(g, new Map(), { scale: 1, offset: 0, source: 'bad.h5' }));
    expect([err.code, err.message]).toEqual(['E_KERAS_FORMAT', expect.stringMatching(/layer r \(Reshape\) has no target_shape list/)]);
  });

  it('a failure with no check of its own becomes E_KERAS_FORMAT with the original error as its cause', () => {
    // a Concatenate that is given no inputs: nothing checks for that, the conversion trips over it
    const mc = { class_name: 'Functional', config: { name: 'm', input_layers: [['in', 0, 0]], output_layers: [['cat', 0, 0]], layers: [
      { ...input, name: 'in', inbound_nodes: [] },
      { class_name: 'Concatenate', name: 'cat', config: { name: 'cat' }, inbound_nodes: [] },
    ] } };
    const g = parseKerasConfig(mc, 'bad.h5');
    const err = refusal(() => convertKeras(g, new Map(), { scale: 1, offset: 0, source: 'bad.h5' }));
    expect(err.code).toBe('E_KERAS_FORMAT');
    expect(err.message).toMatch(/^bad\.h5: cannot convert this Keras model \(.+\); .*re-save the model/);
    expect(err.cause).toBeInstanceOf(TypeError);
  });
});
