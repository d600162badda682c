import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { importKerasFloat } from '../../src/importers/keras/index.js';
import { onnx, type ModelProto } from '../../src/onnx/proto.js';
import { makeTensor } from '../../src/onnx/builder.js';
import { readOnnx } from '../../src/onnx/reader.js';
import { foldBatchNormOnnx } from '../../src/quant/fold-bn.js';
import { classifierToGemm } from '../../src/quant/classifier.js';
import { inputAsDequantize } from '../../src/quant/input-dq.js';
import { equalizeModel } from '../../src/quant/equalize.js';
import { runWithOutputs } from '../../src/quant/calibrate.js';
import { calibrationFrames, prepareQuantization, type PreparedQuantization } from '../../src/quant/quantize.js';
import { roundAdaptively, ADAROUND_DEFAULTS } from '../../src/quant/adaround.js';
import { weightAxis, weightScales, roundNearest } from '../../src/quant/qdq.js';
import { GraphIndex, cloneModel } from '../../src/quant/model.js';
import { augmentedFrames } from '../../src/quant/augment.js';
import { runFrames } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';

const CALIB = join(sharedData, 'images/calib');
const TEST = join(sharedData, 'images/test');

/** The float graph the quantizer works on: BN folded, classifier as Gemm, pixels fed through a DequantizeLinear. */
function quantizerFloatGraph(bytes: Uint8Array): ModelProto {
  const cls = classifierToGemm(foldBatchNormOnnx(readOnnx(bytes)).model).model;
  return inputAsDequantize(cls)?.model ?? cls;
}
const enc = (m: ModelProto) => onnx.ModelProto.encode(m).finish();

describe('cross-layer equalization', () => {
  for (const [name, file, res] of [['Keras MobileNet-v1 0.25/224', 'models/keras/mobilenet_v1_0.25_224_imagenet.h5', 224], ['VWW person detector 0.25/96', 'models/vww/mobilenet_v1_0.25_96_vww.h5', 96]] as const) {
    it(`keeps the float function of the ${name} on real photos in every view (max |diff| <= 1e-4), while rescaling channels`, async () => {
      const f = await importKerasFloat(join(sharedData, file));
      const before = quantizerFloatGraph(f.onnx);
      const eq = equalizeModel(before);
      console.log(`${name}: ${JSON.stringify(eq.report)}`);
      expect(eq.report.pairs).toBeGreaterThanOrEqual(20);
      // something really moved: otherwise equal outputs would prove nothing
      expect(eq.report.scaled).toBeGreaterThan(0);
      const ixA = new GraphIndex(before);
      const ixB = new GraphIndex(eq.model);
      let maxRel = 0;
      for (const [n, t] of ixA.inits) {
        const a = ixA.floatInit(n);
        const b = ixB.floatInit(n);
        if (!a || !b || t.dims?.length !== 4) continue;
        for (let i = 0; i < a.data.length; i++) maxRel = Math.max(maxRel, Math.abs(a.data[i]! - b.data[i]!) / (Math.abs(a.data[i]!) + 1e-12));
      }
      expect(maxRel).toBeGreaterThan(0.1);
      const frames = (await augmentedFrames(TEST, res)).map((a) => a.frame);
      const outA = await runFrames(enc(before), frames, res);
      const outB = await runFrames(enc(eq.model), frames, res);
      let maxDiff = 0;
      outA.forEach((o, i) => o.out.forEach((v, k) => { maxDiff = Math.max(maxDiff, Math.abs(v - outB[i]!.out[k]!)); }));
      console.log(`${name}: ${frames.length} frames, max |output diff| ${maxDiff.toExponential(2)}`);
      expect(maxDiff).toBeLessThanOrEqual(1e-4);
    });
  }
});

describe('adaptive rounding (Keras MobileNet-v1 0.25/224)', () => {
  let p: PreparedQuantization;
  let calib: Uint8Array[];
  const qmaxOf = () => 127;
  beforeAll(async () => {
    const f = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'));
    calib = await calibrationFrames(CALIB, 224);
    p = await prepareQuantization(f.onnx, { calib, resolution: 224 });
  });

  it('is deterministic with a seed and the seed is the only choice it makes', () => {
    const a = roundAdaptively(p.layerInputs!, qmaxOf, { ...ADAROUND_DEFAULTS, seed: 7 });
    const b = roundAdaptively(p.layerInputs!, qmaxOf, { ...ADAROUND_DEFAULTS, seed: 7 });
    expect([...a.rounded.keys()]).toEqual([...b.rounded.keys()]);
    expect(a.rounded.size).toBeGreaterThanOrEqual(20);
    for (const [n, q] of a.rounded) expect(Array.from(b.rounded.get(n)!)).toEqual(Array.from(q));
    const changed = a.layers.reduce((s, l) => s + l.changed, 0);
    expect(changed).toBeGreaterThan(1000);
  });

  it('does not increase any layer\'s output error against the float layer (onnxruntime, calibration frames), and lowers it in total', async () => {
    const r = roundAdaptively(p.layerInputs!, qmaxOf, ADAROUND_DEFAULTS);
    const ix = new GraphIndex(p.model);
    const layers = ['conv1', 'conv_dw_3', 'conv_pw_3', 'conv_dw_7', 'conv_pw_6', 'conv_pw_12'];
    const frames = calib;
    const unseen = (await augmentedFrames(TEST, 224)).filter((_, i) => i % 12 === 0).map((a) => a.frame);
    let nearestTotal = 0;
    let adaptiveTotal = 0;
    // the float model's output of every layer, in one run per frame set
    const outs = layers.map((name) => ix.nodes.find((n) => n.name === name)!.output![0]!);
    const refs: Record<'calib' | 'unseen', Map<string, Float32Array[]>> = { calib: new Map(), unseen: new Map() };
    for (const [set, fr] of [['calib', frames], ['unseen', unseen]] as const) {
      for (const o of outs) refs[set].set(o, []);
      await runWithOutputs(p.model, outs, fr, 224, (_f, v) => { for (const o of outs) refs[set].get(o)!.push(v.get(o)!.slice()); });
    }
    for (const name of layers) {
      const node = ix.nodes.find((n) => n.name === name)!;
      const wName = node.input![1]!;
      const w = ix.floatInit(wName)!;
      const axis = weightAxis(node);
      const { scale } = weightScales(w, axis, 127);
      const deq = (q: Int8Array) => Float32Array.from(q, (v, k) => v * scale[Math.floor(k / (w.data.length / scale.length))]!);
      const variant = (data: Float32Array) => {
        const m = cloneModel(p.model);
        const at = m.graph!.initializer!.findIndex((t) => t.name === wName);
        m.graph!.initializer![at] = makeTensor(wName, w.dims, data);
        return m;
      };
      const out = node.output![0]!;
      const errs: Record<string, number[]> = {};
      for (const [set, fr] of [['calib', frames], ['unseen', unseen]] as const) {
        const ref = refs[set].get(out)!;
        const mse = async (m: ModelProto) => {
          let s = 0, n = 0;
          await runWithOutputs(m, [out], fr, 224, (i, v) => { const y = v.get(out)!; const x = ref[i]!; for (let k = 0; k < y.length; k++) { s += (y[k]! - x[k]!) ** 2; n++; } });
          return s / n;
        };
        errs[set] = [await mse(variant(deq(roundNearest(w, axis, scale, 127)))), await mse(variant(deq(r.rounded.get(name)!)))];
      }
      console.log(`${name}: output MSE nearest -> adaptive: calibration ${errs.calib![0]!.toExponential(2)} -> ${errs.calib![1]!.toExponential(2)}, unseen ${errs.unseen![0]!.toExponential(2)} -> ${errs.unseen![1]!.toExponential(2)}`);
      expect(errs.calib![1]!).toBeLessThanOrEqual(errs.calib![0]! * 1.0001);
      nearestTotal += errs.unseen![0]!;
      adaptiveTotal += errs.unseen![1]!;
    }
    // on photos the search never saw, the error falls too (summed over the layers)
    expect(adaptiveTotal).toBeLessThan(nearestTotal);
  }, 240_000);
});
