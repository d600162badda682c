import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { importKerasFloat } from '../../src/importers/keras/index.js';
import { kerasWeightSource } from '../../src/importers/keras/zoo-weights.js';
import { buildGraph } from '../../src/zoo/registry.js';
import { emitOnnx } from '../../src/onnx/emit.js';
import { loadEvalImages, runFrames } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';

describe('zoo MobileNet-v1 builder with the real Keras weights', () => {
  it('computes the same probabilities as the imported Keras graph on real photos (the builder is the real architecture)', async () => {
    const r = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'));
    const g = buildGraph({ family: 'mobilenet_v1', alpha: 0.25, resolution: 224, classes: 1000, weights: kerasWeightSource(r.weights), options: { softmax: true } });
    const zoo = emitOnnx(g, { normalize: { scale: r.preprocessing.scale, offset: r.preprocessing.offset } });
    const frames = (await loadEvalImages(join(sharedData, 'images/test'), 224)).map((i) => i.frame);
    const a = await runFrames(r.onnx, frames, 224);
    const b = await runFrames(zoo, frames, 224);
    let worst = 0;
    for (let i = 0; i < frames.length; i++) for (let k = 0; k < 1000; k++) worst = Math.max(worst, Math.abs(a[i]!.out[k]! - b[i]!.out[k]!));
    expect(worst).toBeLessThan(1e-4);
    // and the comparison can fail: the seeded zoo weights are far from it
    const seeded = await runFrames(emitOnnx(buildGraph({ family: 'mobilenet_v1', alpha: 0.25, resolution: 224, classes: 1000, options: { softmax: true } })), frames.slice(0, 1), 224);
    expect(Math.max(...seeded[0]!.out.map((v, k) => Math.abs(v - a[0]!.out[k]!)))).toBeGreaterThan(0.01);
  });
});
