import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import { importKerasFloat } from '../../src/importers/keras/index.js';
import { quantizeModel, checkIntegerKernels, chooseWeightBits } from '../../src/quant/index.js';
import { evaluateFidelity, loadEvalImages, type FidelityReport } from '../../src/quant/fidelity.js';
import { sharedData } from '../../src/util/paths.js';

const CALIB = join(sharedData, 'images/calib');
const summary = (label: string, f: FidelityReport) =>
  `${label}: agree ${f.agreement.count}/${f.agreement.total}, margin>=0.05 ${f.agreement.withMargin.count}/${f.agreement.withMargin.total}, ` +
  `top-1 float ${f.float.correct1}/${f.float.n} int8 ${f.int8.correct1}/${f.int8.n}, top-5 float ${f.float.correct5} int8 ${f.int8.correct5}, ` +
  `cosine min ${f.cosine.min.toFixed(4)} mean ${f.cosine.mean.toFixed(4)}, ${f.sqnrRange ? `SQNR ${f.sqnrRange.min.toFixed(1)}..${f.sqnrRange.max.toFixed(1)} dB (median ${f.sqnrRange.median.toFixed(1)})` : ''}`;

describe('PTQ of the person detector (VWW 0.25/96)', () => {
  it('keeps every person / no-person decision of the float model on the test photos, on integer kernels', async () => {
    const r = await importKerasFloat(join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5'), { labelsPath: join(sharedData, 'labels/vww_labels.txt') });
    const images = await loadEvalImages(join(sharedData, 'images/test'), 96);
    for (const method of ['percentile', 'minmax'] as const) {
      const q = await quantizeModel(r.onnx, { calib: CALIB, method, weightBits: 7, resolution: 96 });
      const f = await evaluateFidelity(r.onnx, q.onnx, { images, resolution: 96, labels: r.card.labels, quant: q.report });
      console.log(summary(`VWW ${q.report.tag}`, f));
      // every clear decision; the one photo float calls by < 0.05 may tip (minmax w7: 18/19 since views + adaptive rounding)
      expect(f.agreement.withMargin.count).toBe(f.agreement.withMargin.total);
      expect(f.agreement.count).toBeGreaterThanOrEqual(18);
      const k = await checkIntegerKernels(q.onnx);
      expect(k.ok).toBe(true);
      expect(k.floatComputeNodes).toEqual([]);
    }
    // what the on-device chooser picks from the calibration frames alone (reported, see the report's caveat)
    const choice = await chooseWeightBits(r.onnx, { calib: CALIB, method: 'percentile', resolution: 96 });
    const f = await evaluateFidelity(r.onnx, choice.onnx, { images, resolution: 96, labels: r.card.labels });
    console.log(summary(`VWW chooser ${choice.report.tag}`, f));
    expect(f.agreement.withMargin.count).toBe(f.agreement.withMargin.total);
  }, 240_000);
});

describe('edgefit quantize (CLI)', () => {
  it('writes the int8 model, its card and the fidelity report, and refuses a bad --weights', async () => {
    const { spawnSync } = await import('node:child_process');
    const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { projectRoot } = await import('../../src/util/paths.js');
    const dir = await mkdtemp(join(tmpdir(), 'edgefit-quantize-'));
    try {
      const r = await importKerasFloat(join(sharedData, 'models/vww/mobilenet_v1_0.25_96_vww.h5'));
      await writeFile(join(dir, 'vww.onnx'), r.onnx);
      const cli = (args: string[]) => spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'quantize', ...args], { encoding: 'utf8', timeout: 170_000 });
      // the command's defaults (ranges and weight bits measured, adaptive rounding): every decision kept
      const ok = cli([join(dir, 'vww.onnx'), '--calib', join(sharedData, 'images/calib'),
        '--labels', join(sharedData, 'labels/vww_labels.txt'), '--eval', join(sharedData, 'images/test')]);
      expect(ok.status, ok.stderr).toBe(0);
      expect(ok.stdout).toMatch(/integer kernels: yes/);
      expect(ok.stdout).toMatch(/top-1 agreement\s+19\/19/);
      const card = JSON.parse(await readFile(join(dir, 'vww-int8.card.json'), 'utf8'));
      expect(card).toMatchObject({ precision: 'int8', classes: 2, resolution: 96, labels: ['non_person', 'person'] });
      expect(card.quantization).toMatch(/^ptq-(minmax|percentile|mse)-w[78].*-ar$/);
      const rep = JSON.parse(await readFile(join(dir, 'vww-int8.fidelity.json'), 'utf8'));
      expect(rep.kernels.ok).toBe(true);
      expect(rep.fidelity.agreement.count).toBe(19);
      expect((await readFile(join(dir, 'vww-int8.onnx'))).length).toBeGreaterThan(100_000);
      const bad = cli([join(dir, 'vww.onnx'), '--calib', join(sharedData, 'images/calib'), '--weights', '6']);
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toMatch(/--weights 6: use 8, 7 or auto/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
