/**
 * QDQ vs QLinear emission of imported TFLite models: which runs faster in onnxruntime-node on this machine?
 * Both sessions live side by side and runs are interleaved (A B A B ...), so drift (thermal, other load)
 * hits both alike; the figure is the median per model.
 *   npm run build && node dist/scripts/bench-tflite-emit.js [--runs N] [--threads T] [models...]
 */
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { convertTflite } from '../src/importers/tflite/index.js';
import { loadImageRgb } from '../src/image/load.js';
import { sharedData } from '../src/util/paths.js';

const MODELS = [
  'tflite/mobilenet_v1_0.25_128_quant.tflite',
  'tflite/mobilenet_v1_0.5_160_quant.tflite',
  'tflite/mobilenet_v1_0.75_192_quant.tflite',
  'tflite/mobilenet_v2_1.0_224_quant.tflite',
  'tflite/tf2_mobilenet_v2_1.0_224_ptq.tflite',
  'vww/mobilenet_v1_0.25_96_vww_int8.tflite',
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    if (i < 0) return dflt;
    const v = Number(args[i + 1]);
    args.splice(i, 2);
    return v;
  };
  const runs = flag('--runs', 40);
  const threads = flag('--threads', 0);
  const models = args.length ? args : MODELS;
  // qdq: the default (int8 weights stored as uint8 + 128); qdq-s8: int8 weights as the file has them
  const modes = ['qdq', 'qdq-s8', 'qlinear'] as const;
  console.log(`onnxruntime-node, ${runs} interleaved runs per mode, intra-op threads ${threads || 'default'}`);
  console.log('model'.padEnd(44) + modes.map((m) => `${m} ms`.padStart(14)).join('') + '   qlinear/qdq');
  for (const rel of models) {
    const path = join(sharedData, 'models', rel);
    const sessions = [];
    let res = 0;
    const bytes = readFileSync(path);
    for (const mode of modes) {
      const r = convertTflite(bytes, path, { emit: mode === 'qlinear' ? 'qlinear' : 'qdq', uint8Weights: mode !== 'qdq-s8' });
      res = r.card.resolution!;
      sessions.push(await ort.InferenceSession.create(r.onnx, { intraOpNumThreads: threads, logSeverityLevel: 3 }));
    }
    const px = await loadImageRgb(join(sharedData, 'images/test/cat.bmp'), res);
    const feeds = { input: new ort.Tensor('uint8', px, [1, res, res, 3]) };
    for (const s of sessions) for (let i = 0; i < 3; i++) await s.run(feeds); // warm-up
    const times: number[][] = modes.map(() => []);
    for (let i = 0; i < runs; i++) {
      for (let k = 0; k < sessions.length; k++) {
        const idx = (i % 2 === 0) ? k : sessions.length - 1 - k; // alternate which mode goes first
        const t0 = process.hrtime.bigint();
        await sessions[idx]!.run(feeds);
        times[idx]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
    const med = times.map(median);
    console.log(rel.padEnd(44) + med.map((m) => m.toFixed(2).padStart(14)).join('') + (med[2]! / med[0]!).toFixed(2).padStart(14));
    for (const s of sessions) await s.release();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
