// Ablation of the PTQ steps on the Keras MobileNet-v1 0.25/224, measured in one run:
//   npm run build && node dist/scripts/quant-ablation.js [--vww]
// Agreement is int8 top-1 == float top-1 on the test photos in every augmented view (src/quant/augment.ts),
// none of which calibration sees; "clear" counts frames where float's top-1 leads by >= 0.05.
import { join } from 'node:path';
import { importKerasFloat } from '../src/importers/keras/index.js';
import { quantizeModel, type QuantizeOptions } from '../src/quant/quantize.js';
import { augmentedFrames } from '../src/quant/augment.js';
import { floatReference, measureAgreement } from '../src/quant/agreement.js';
import { sharedData } from '../src/util/paths.js';

type Recipe = { name: string; opts: Partial<QuantizeOptions> };

const RECIPES: Recipe[] = [
  { name: 'plain min/max', opts: { method: 'minmax', equalize: false, adaround: false } },
  { name: '+ equalization', opts: { method: 'minmax', equalize: true, adaround: false } },
  { name: '+ adaptive rounding', opts: { method: 'minmax', equalize: true, adaround: true } },
  { name: '+ range choice (percentile)', opts: { method: 'percentile', equalize: true, adaround: true } },
  { name: '+ range choice (MSE)', opts: { method: 'mse', equalize: true, adaround: true } },
];

async function main(): Promise<void> {
  const vww = process.argv.includes('--vww');
  const [model, res] = vww ? ['models/vww/mobilenet_v1_0.25_96_vww.h5', 96] as const : ['models/keras/mobilenet_v1_0.25_224_imagenet.h5', 224] as const;
  const f = await importKerasFloat(join(sharedData, model));
  const aug = await augmentedFrames(join(sharedData, 'images/test'), res);
  const frames = aug.map((a) => a.frame);
  const ref = await floatReference(f.onnx, frames, res);
  const rows: string[][] = [];
  for (const r of RECIPES) {
    const t0 = performance.now();
    const q = await quantizeModel(f.onnx, { calib: join(sharedData, 'images/calib'), method: 'minmax', weightBits: 8, resolution: res, ...r.opts });
    const secs = (performance.now() - t0) / 1000;
    const a = await measureAgreement(ref, q.onnx, frames, res, aug.map((x) => x.name));
    rows.push([r.name, q.report.tag, `${(100 * a.clearAgree / a.clear).toFixed(1)}% (${a.clearAgree}/${a.clear})`, `${(100 * a.agree / a.frames).toFixed(1)}% (${a.agree}/${a.frames})`,
      a.cosineMean.toFixed(4), a.cosineMin.toFixed(4), secs.toFixed(1)]);
    process.stderr.write(`${r.name}: flipped ${a.flipped.join(', ') || 'none'}\n`);
  }
  const head = ['recipe', 'tag', 'agreement, float margin >= 0.05', 'agreement, all frames', 'cosine mean', 'cosine min', 'quantize s'];
  const line = (c: string[]) => `| ${c.join(' | ')} |`;
  process.stdout.write([`${model}: ${aug.length} frames (${aug.length / 8} test photos x 8 views), calibration: images/calib (9 photos), 8-bit weights`,
    line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n') + '\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
