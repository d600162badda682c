import type { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { importModel, type ImportOptions } from '../importers/index.js';
import type { ModelCard } from '../importers/types.js';
import { EngineHost } from '../engine/host.js';
import type { Engine } from '../engine/engine.js';
import { loadImageRgb } from '../image/load.js';
import { topK, type TopKEntry } from '../pipeline/topk.js';
import { EdgefitError } from '../util/errors.js';

function positiveInt(name: string, v: string | undefined, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new EdgefitError('E_FLAGS', `${name} ${v}: expected a positive integer`);
  return n;
}

interface Loaded {
  engine: Engine;
  card: ModelCard;
  resolution: number;
  close(): Promise<void>;
}

/**
 * importModel + the daemon's engine: the same worker-thread host `edgefit run` uses, so a photo is read as the
 * daemon would read a frame (same provider chain, same dequantization) and a model the engine refuses is
 * refused here with the engine's error. A .tflite or .h5 converted on the fly is handed to the engine as a
 * temporary .onnx, removed on close.
 */
async function loadForClassify(modelPath: string, opts: ImportOptions & { resolution?: number }): Promise<Loaded> {
  if (opts.resolution !== undefined && (opts.resolution < 8 || opts.resolution > 4096)) {
    throw new EdgefitError('E_FLAGS', `resolution ${opts.resolution} is not an integer between 8 and 4096`);
  }
  const { onnx, card } = await importModel(modelPath, opts);
  let path = modelPath;
  let tmp: string | undefined;
  if (extname(modelPath).toLowerCase() !== '.onnx') {
    tmp = await mkdtemp(join(tmpdir(), 'edgefit-classify-'));
    path = join(tmp, `${basename(modelPath, extname(modelPath))}.onnx`);
    await writeFile(path, onnx);
  }
  const removeTmp = async () => { if (tmp) await rm(tmp, { recursive: true, force: true }); };
  let engine: EngineHost;
  try {
    const resolution = opts.resolution ?? card.resolution;
    engine = await EngineHost.start(path, { providers: ['cpu'], threads: 0, ...(resolution ? { resolution } : {}) });
  } catch (err) {
    await removeTmp();
    if (err instanceof EdgefitError && err.code === 'E_ENGINE_SHAPE') {
      throw new EdgefitError('E_FLAGS', `${err.message}: ${modelPath} runs at any resolution and its card names none; pass --resolution N`, { cause: err });
    }
    throw err;
  }
  const close = async () => { await engine.close(); await removeTmp(); };
  const [, h, w] = engine.io.inputShape;
  const classes = engine.io.outputShape.reduce((a, b) => a * b, 1);
  let refusal: string | undefined;
  if (opts.resolution !== undefined && (h !== opts.resolution || w !== opts.resolution)) {
    refusal = `${modelPath} has a fixed ${h}x${w} input; drop --resolution or use a model that runs at any resolution`;
  } else if (h !== w) {
    refusal = `${modelPath} has a ${h}x${w} input; classify feeds square crops`;
  } else if (classes !== card.classes) {
    refusal = `${modelPath}: output has ${classes} values, the card says ${card.classes} classes`;
  }
  if (refusal) {
    await close();
    throw new EdgefitError(classes !== card.classes ? 'E_MODEL_OUTPUT' : 'E_FLAGS', refusal);
  }
  return { engine, card, resolution: h!, close };
}

async function classifyFile(m: Loaded, path: string, k: number): Promise<TopKEntry[]> {
  const { scores } = await m.engine.run(await loadImageRgb(path, m.resolution));
  return topK(scores, k, m.card.labels);
}

export function register(program: Command): void {
  program
    .command('classify')
    .description('classify image files (JPEG, PNG, BMP) with a model: .onnx with its card beside it, or .tflite/.h5 imported on the fly')
    .argument('<model>', 'the model (.onnx, .tflite, .h5)')
    .argument('<images...>', 'image files')
    .option('--top <k>', 'how many classes to print per image', '5')
    .option('--json', 'print JSON: [{path, top:[{label, score}]}]')
    .option('--labels <file>', 'class names, one per line (overrides the card)')
    .option('--resolution <n>', 'input size for models that run at any resolution')
    .action(async (model: string, images: string[], flags: { top: string; json?: boolean; labels?: string; resolution?: string }) => {
      const k = positiveInt('--top', flags.top, 5)!;
      const resolution = positiveInt('--resolution', flags.resolution);
      const loaded = await loadForClassify(model, { ...(flags.labels ? { labelsPath: flags.labels } : {}), ...(resolution !== undefined ? { resolution } : {}) });
      try {
        const results: { path: string; top: { label: string; score: number }[] }[] = [];
        for (const path of images) {
          const top = await classifyFile(loaded, path, k);
          results.push({ path, top: top.map((t) => ({ label: t.label, score: Number(t.score.toFixed(6)) })) });
          if (!flags.json) {
            process.stdout.write(`${path}\n`);
            for (const t of top) process.stdout.write(`  ${t.score.toFixed(4)}  ${t.label}\n`);
          }
        }
        if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
      } finally {
        await loaded.close();
      }
    });
}
