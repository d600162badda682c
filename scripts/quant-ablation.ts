// Ablation of the PTQ steps, measured in one run:
//   npm run build && EDGEFIT_SHARED_DATA=/work/shared/data node dist/scripts/quant-ablation.js [--vww] [--no-holdout]
// "test views": top-1 agreement int8 vs float on the test photos in every view of src/quant/augment.ts (none of
// them seen by calibration); "clear" counts the frames where float's top-1 leads by >= 0.05.
// "calib hold-out": 3-fold over the calibration photos, each fold calibrated on the other photos and judged on
// its own photos in every view.
import { join } from 'node:path';
import { importKerasFloat } from '../src/importers/keras/index.js';
import { emitQuantized, prepareQuantization, type QuantizeOptions } from '../src/quant/quantize.js';
import { chooseRanges, chooseWeightBits } from '../src/quant/choose.js';
import { augmentedFrames, VIEWS } from '../src/quant/augment.js';
import { floatReference, measureAgreement, type Agreement } from '../src/quant/agreement.js';
import { listImages } from '../src/quant/frames.js';
import type { CalibMethod } from '../src/quant/calibrate.js';
import { sharedData } from '../src/util/paths.js';

interface Recipe {
  name: string;
  equalize: false | 'weights' | 'activations';
  adaround: boolean;
  views: boolean;
  /** 'auto': chosen by chooseRanges on the recipe's own calibration photos */
  method: CalibMethod | 'auto';
  /** 'auto': chosen by chooseWeightBits, as `edgefit quantize` does by default */
  weights: 8 | 7 | 'auto';
  /** the classifier's weights in float (QuantizeOptions.floatClassifier) */
  floatClassifier: boolean;
}

const RECIPES: Recipe[] = [
  { name: 'plain min/max (nearest rounding, 9 frames)', equalize: false, adaround: false, views: false, method: 'minmax', weights: 8, floatClassifier: false },
  { name: '+ equalization (weight ranges, Nagel)', equalize: 'weights', adaround: false, views: false, method: 'minmax', weights: 8, floatClassifier: false },
  { name: '+ adaptive rounding', equalize: 'weights', adaround: true, views: false, method: 'minmax', weights: 8, floatClassifier: false },
  { name: '+ calibration views (72 frames)', equalize: 'weights', adaround: true, views: true, method: 'minmax', weights: 8, floatClassifier: false },
  { name: '+ range choice (held-out k-fold)', equalize: 'weights', adaround: true, views: true, method: 'auto', weights: 8, floatClassifier: false },
  { name: 'same, equalization of activation ranges instead', equalize: 'activations', adaround: true, views: true, method: 'auto', weights: 8, floatClassifier: false },
  { name: 'no equalization, weight bits chosen (the previous defaults)', equalize: false, adaround: true, views: true, method: 'auto', weights: 'auto', floatClassifier: false },
  { name: 'edgefit quantize defaults (same, classifier weights in float)', equalize: false, adaround: true, views: true, method: 'auto', weights: 'auto', floatClassifier: true },
];

async function quantize(floatOnnx: Uint8Array, r: Recipe, calib: { files: string[] }, res: number): Promise<{ onnx: Uint8Array; tag: string }> {
  const base = { calib, resolution: res, equalize: r.equalize, adaround: r.adaround, calibViews: r.views ? VIEWS : [VIEWS[0]!], floatClassifier: r.floatClassifier } satisfies Partial<QuantizeOptions>;
  const method = r.method === 'auto' ? (await chooseRanges(floatOnnx, { ...base, weightBits: r.weights === 'auto' ? 8 : r.weights })).method : r.method;
  if (r.weights === 'auto') {
    const c = await chooseWeightBits(floatOnnx, { ...base, method });
    return { onnx: c.onnx, tag: c.report.tag };
  }
  const q = await emitQuantized(await prepareQuantization(floatOnnx, base), { method, weightBits: r.weights, adaround: r.adaround, floatClassifier: r.floatClassifier });
  return { onnx: q.onnx, tag: q.report.tag };
}

const pct = (a: number, b: number) => `${(100 * a / b).toFixed(1)}% (${a}/${b})`;

async function main(): Promise<void> {
  const vww = process.argv.includes('--vww');
  const holdout = !process.argv.includes('--no-holdout');
  const [model, res] = vww ? ['models/vww/mobilenet_v1_0.25_96_vww.h5', 96] as const : ['models/keras/mobilenet_v1_0.25_224_imagenet.h5', 224] as const;
  const f = await importKerasFloat(join(sharedData, model));
  const aug = await augmentedFrames(join(sharedData, 'images/test'), res);
  const frames = aug.map((a) => a.frame);
  const ref = await floatReference(f.onnx, frames, res);
  const calibFiles = await listImages(join(sharedData, 'images/calib'));
  // the hold-out folds' frames and float outputs, shared by every recipe
  const folds = await Promise.all([0, 1, 2].map(async (k) => {
    const held = (await augmentedFrames(calibFiles.filter((_, i) => i % 3 === k), res)).map((a) => a.frame);
    return { train: calibFiles.filter((_, i) => i % 3 !== k), held, ref: await floatReference(f.onnx, held, res) };
  }));
  const rows: string[][] = [];
  for (const r of RECIPES) {
    const t0 = performance.now();
    const q = await quantize(f.onnx, r, { files: calibFiles }, res);
    const secs = (performance.now() - t0) / 1000;
    const a = await measureAgreement(ref, q.onnx, frames, res, aug.map((x) => x.name));
    const row = [r.name, q.tag, pct(a.clearAgree, a.clear), pct(a.agree, a.frames), a.cosineMean.toFixed(4), a.cosineMin.toFixed(4)];
    if (holdout) {
      const sum: Pick<Agreement, 'frames' | 'agree' | 'clear' | 'clearAgree'> & { cos: number } = { frames: 0, agree: 0, clear: 0, clearAgree: 0, cos: 0 };
      for (const fold of folds) {
        const qf = await quantize(f.onnx, r, { files: fold.train }, res);
        const h = await measureAgreement(fold.ref, qf.onnx, fold.held, res);
        sum.frames += h.frames; sum.agree += h.agree; sum.clear += h.clear; sum.clearAgree += h.clearAgree; sum.cos += h.cosineMean * h.frames;
      }
      row.push(pct(sum.clearAgree, sum.clear), (sum.cos / sum.frames).toFixed(4));
    }
    row.push(secs.toFixed(1));
    rows.push(row);
    process.stderr.write(`${r.name}: ${q.tag}, clear-margin test frames flipped: ${a.flipped.join(', ') || 'none'}\n`);
  }
  const head = ['recipe', 'tag', 'test views: agreement, margin >= 0.05', 'test views: agreement, all', 'cosine mean', 'cosine min',
    ...(holdout ? ['calib hold-out: agreement, margin >= 0.05', 'calib hold-out: cosine mean'] : []), 'quantize s'];
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  process.stdout.write([`${model}: ${aug.length} test frames (${aug.length / VIEWS.length} photos x ${VIEWS.length} views); calibration: images/calib (${calibFiles.length} photos)`,
    line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n') + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
