import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { importKerasFloat, type KerasFloatImport } from '../../src/importers/keras/index.js';
import { quantizeModel } from '../../src/quant/index.js';
import { evaluateFidelity, loadEvalImages, type EvalImage, type FidelityReport } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';

const CALIB = join(sharedData, 'images/calib');
const summary = (label: string, f: FidelityReport) =>
  `${label}: agree ${f.agreement.count}/${f.agreement.total}, margin>=0.05 ${f.agreement.withMargin.count}/${f.agreement.withMargin.total}, ` +
  `top-1 float ${f.float.correct1}/${f.float.n} int8 ${f.int8.correct1}/${f.int8.n}, top-5 float ${f.float.correct5} int8 ${f.int8.correct5}, ` +
  `cosine min ${f.cosine.min.toFixed(4)} mean ${f.cosine.mean.toFixed(4)}, ${f.sqnrRange ? `SQNR ${f.sqnrRange.min.toFixed(1)}..${f.sqnrRange.max.toFixed(1)} dB (median ${f.sqnrRange.median.toFixed(1)})` : ''}`;

describe('PTQ figures of Keras MobileNet-v1 0.25/224: both calibration methods, both weight widths', () => {
  let r: KerasFloatImport;
  let images: EvalImage[];
  beforeAll(async () => {
    r = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'), { labelsPath: join(sharedData, 'labels/imagenet_labels_1000.txt') });
    images = await loadEvalImages(join(sharedData, 'images/test'), 224);
  });

  it('reports both calibration methods and both weight widths (figures, and what each one proves)', async () => {
    for (const method of ['minmax', 'percentile'] as const) {
      for (const [w, dw] of [[8, 8], [7, 7]] as const) {
        const q = await quantizeModel(r.onnx, { calib: CALIB, method, weightBits: w, depthwiseBits: dw, resolution: 224 });
        const f = await evaluateFidelity(r.onnx, q.onnx, { images, resolution: 224, labels: r.card.labels });
        console.log(summary(q.report.tag, f));
        expect(f.agreement.total).toBe(19);
      }
    }
    // without bias correction (plain PTQ) the clear-margin photos are not all kept
    const plain = await quantizeModel(r.onnx, { calib: CALIB, method: 'minmax', weightBits: 7, resolution: 224, biasCorrection: false,
      adaround: false, calibViews: [{ name: 'centre', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 1 }] });
    const pf = await evaluateFidelity(r.onnx, plain.onnx, { images, resolution: 224, labels: r.card.labels });
    console.log(summary(`${plain.report.tag} without bias correction`, pf));
    expect(pf.agreement.withMargin.count).toBeLessThan(15);
  }, 300_000);
});
