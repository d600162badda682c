import { describe, it, expect, beforeAll } from 'vitest';
import { join } from 'node:path';
import { importKerasFloat, type KerasFloatImport } from '../../src/importers/keras/index.js';
import { checkIntegerKernels, chooseWeightBits } from '../../src/quant/index.js';
import { evaluateFidelity, loadEvalImages, formatFidelity, type EvalImage, type FidelityReport } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';

const CALIB = join(sharedData, 'images/calib');
const summary = (label: string, f: FidelityReport) =>
  `${label}: agree ${f.agreement.count}/${f.agreement.total}, margin>=0.05 ${f.agreement.withMargin.count}/${f.agreement.withMargin.total}, ` +
  `top-1 float ${f.float.correct1}/${f.float.n} int8 ${f.int8.correct1}/${f.int8.n}, top-5 float ${f.float.correct5} int8 ${f.int8.correct5}, ` +
  `cosine min ${f.cosine.min.toFixed(4)} mean ${f.cosine.mean.toFixed(4)}, ${f.sqnrRange ? `SQNR ${f.sqnrRange.min.toFixed(1)}..${f.sqnrRange.max.toFixed(1)} dB (median ${f.sqnrRange.median.toFixed(1)})` : ''}`;

describe('PTQ of Keras MobileNet-v1 0.25/224 calibrated on images/calib only', () => {
  let r: KerasFloatImport;
  let images: EvalImage[];
  beforeAll(async () => {
    r = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'), { labelsPath: join(sharedData, 'labels/imagenet_labels_1000.txt') });
    images = await loadEvalImages(join(sharedData, 'images/test'), 224);
  });

  it('the weight bits chosen on this device keep every clear-margin top-1, >= 16/19 overall, and the same accuracy', async () => {
    const choice = await chooseWeightBits(r.onnx, { calib: CALIB, method: 'percentile', resolution: 224 });
    for (const c of choice.candidates) console.log(`candidate w${c.weightBits}/dw${c.depthwiseBits}: calib agreement ${c.agree}/${c.frames}, cosine mean ${c.meanCosine.toFixed(4)} min ${c.minCosine.toFixed(4)}`);
    const f = await evaluateFidelity(r.onnx, choice.onnx, { images, resolution: 224, labels: r.card.labels, quant: choice.report, sqnrFrames: images.slice(0, 4).map((i) => i.frame) });
    console.log(summary(`chosen ${choice.report.tag}`, f));
    console.log(formatFidelity(f));
    expect(f.agreement.withMargin.total).toBe(15);
    expect(f.agreement.withMargin.count).toBe(15);
    // 16 since calibration views + adaptive rounding (17 before): the photo that tipped has float margin < 0.05
    expect(f.agreement.count).toBeGreaterThanOrEqual(16);
    // no accuracy lost (measured: int8 14/16 = float before the pixels fed the first conv directly; 15/16 since,
    // one near-tie photo tipping to its right class)
    expect(f.int8.correct1).toBeGreaterThanOrEqual(f.float.correct1);
    expect(f.float.n).toBe(16);
    // the report's structure: logits stay float (QGemm), ReLU6 tensors use [0, 6] without calibration
    expect(choice.report.floatLogitsFrom).toBe('conv_preds');
    const clips = choice.report.tensors.filter((t) => t.kind === 'clip');
    expect(clips.length).toBe(27);
    for (const t of clips) { expect(t.lo).toBe(0); expect(t.hi).toBeCloseTo(6, 6); expect(t.observed).toBeUndefined(); }
    const k = await checkIntegerKernels(choice.onnx);
    expect(k.ok).toBe(true);
    expect(k.ops['com.microsoft.QLinearConv'] ?? k.ops['QLinearConv']).toBe(27);
    expect(k.floatComputeNodes).toEqual([]);
  }, 240_000);
});
