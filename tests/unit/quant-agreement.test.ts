import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { importKerasFloat } from '../../src/importers/keras/index.js';
import { quantizeFile } from '../../src/quant/file.js';
import { augmentedFrames, VIEWS } from '../../src/quant/augment.js';
import { loadImageRgb } from '../../src/image/load.js';
import { floatReference, measureAgreement } from '../../src/quant/agreement.js';
import { sharedData } from '../../src/util/paths.js';

const TEST = join(sharedData, 'images/test');

describe('edgefit quantize holds on photos calibration never saw (Keras MobileNet-v1 0.25/224)', () => {
  it('the augmented test set is deterministic, and its centre view is the camera path\'s frame', async () => {
    const a = await augmentedFrames(TEST, 224);
    const b = await augmentedFrames(TEST, 224);
    expect(a.length).toBe(19 * VIEWS.length);
    a.forEach((x, i) => expect(Buffer.compare(Buffer.from(x.frame), Buffer.from(b[i]!.frame))).toBe(0));
    const centre = a.find((x) => x.name === 'cat.bmp#centre')!;
    expect(Buffer.compare(Buffer.from(centre.frame), Buffer.from(await loadImageRgb(join(TEST, 'cat.bmp'), 224)))).toBe(0);
  });

  it('int8 keeps float\'s top-1 on >= 122 of the 125 test views where float leads by >= 0.05 (97.6%; target 97%)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgefit-agree-'));
    try {
      const f = await importKerasFloat(join(sharedData, 'models/keras/mobilenet_v1_0.25_224_imagenet.h5'));
      await writeFile(join(dir, 'm.onnx'), f.onnx);
      // the command's defaults: ranges and weight bits chosen by measurement, equalization, adaptive rounding
      const r = await quantizeFile(join(dir, 'm.onnx'), { calibDir: join(sharedData, 'images/calib'), method: 'auto', weights: 'auto' });
      console.log(`${r.report.quantization.tag} in ${r.report.seconds.toFixed(1)} s; ranges: ${r.report.rangeChoice!.candidates.map((c) => `${c.method} ${c.clearAgree}/${c.clear} cos ${c.cosineMean.toFixed(4)}`).join(', ')}`);
      expect(r.report.kernels.ok).toBe(true);
      expect(r.report.quantization.tag).toMatch(/-ar-fc32$/);
      // the classifier is the one float node, and it is declared
      expect(r.report.quantization.floatClassifier).toBe(true);
      const aug = await augmentedFrames(TEST, 224);
      const frames = aug.map((x) => x.frame);
      const ref = await floatReference(f.onnx, frames, 224);
      const a = await measureAgreement(ref, await readFile(r.modelPath), frames, 224, aug.map((x) => x.name));
      console.log(`clear-margin agreement ${a.clearAgree}/${a.clear}, all ${a.agree}/${a.frames}, cosine mean ${a.cosineMean.toFixed(4)} min ${a.cosineMin.toFixed(4)}; flipped: ${a.flipped.join(', ') || 'none'}`);
      // the set itself is pinned: a change of views or preprocessing shows here first
      expect(a.frames).toBe(152);
      expect(a.clear).toBe(125);
      // measured with the defaults: 122/125 (97.6%, the classifier's weights in float; 121 with them in int8): the
      // issue's target, 97%, is 122/125, so one frame decides it (docs/quantization.md)
      expect(a.clearAgree).toBeGreaterThanOrEqual(122);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
