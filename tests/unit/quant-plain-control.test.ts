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

// The control for quant-ptq.test.ts and quant-agreement.test.ts: the photos they hold the defaults to are hard
// enough that plain PTQ fails them. Every step's figures, in one run: scripts/quant-ablation.ts (README).
describe('plain PTQ of Keras MobileNet-v1 0.25/224 (the control for the defaults)', () => {
  let r: KerasFloatImport;
  let images: EvalImage[];
  beforeAll(async () => {
    r = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'), { labelsPath: join(sharedData, 'labels/imagenet_labels_1000.txt') });
    images = await loadEvalImages(join(sharedData, 'images/test'), 224);
  });

  it('without bias correction, adaptive rounding and calibration views, the clear-margin photos are not all kept', async () => {
    const plain = await quantizeModel(r.onnx, { calib: CALIB, method: 'minmax', weightBits: 7, resolution: 224, biasCorrection: false,
      adaround: false, calibViews: [{ name: 'centre', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 1 }] });
    const pf = await evaluateFidelity(r.onnx, plain.onnx, { images, resolution: 224, labels: r.card.labels });
    console.log(summary(`${plain.report.tag} without bias correction`, pf));
    // quant-ptq.test.ts holds the defaults to all 15 of these
    expect(pf.agreement.withMargin.total).toBe(15);
    expect(pf.agreement.withMargin.count).toBeLessThan(15);
  }, 300_000);
});
