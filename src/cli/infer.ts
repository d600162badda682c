import type { Command } from 'commander';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { importModel, type ImportOptions } from '../importers/index.js';
import type { ModelCard } from '../importers/types.js';
import { EngineHost } from '../engine/host.js';
import type { Engine } from '../engine/engine.js';
import { decodeRgb, loadImageRgb } from '../image/load.js';
import { drawDetections } from '../image/draw-boxes.js';
import { topK, type TopKEntry } from '../pipeline/topk.js';
import { bindTask, type Interpret } from '../pipeline/tasks.js';
import { anchorsFor } from '../detect/anchors.js';
import type { Detection } from '../types/detection.js';
import { writeFileAtomic } from '../util/atomic.js';
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
  /** detectors: raw output -> boxes (bound once: the anchors for this resolution) */
  detect?: Interpret;
  close(): Promise<void>;
}

function fraction(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new EdgefitError('E_FLAGS', `${name} ${v}: expected a number from 0 to 1`);
  return n;
}

/**
 * importModel + the daemon's engine: the same worker-thread host `edgefit run` uses, so a photo is read as the
 * daemon would read a frame (same provider chain, same dequantization) and a model the engine refuses is
 * refused here with the engine's error. A .tflite or .h5 converted on the fly is handed to the engine as a
 * temporary .onnx, removed on close.
 */
async function loadForInfer(modelPath: string, opts: ImportOptions & { resolution?: number; minScore: number }): Promise<Loaded> {
  if (opts.resolution !== undefined && (opts.resolution < 8 || opts.resolution > 4096)) {
    throw new EdgefitError('E_FLAGS', `resolution ${opts.resolution} is not an integer between 8 and 4096`);
  }
  const { onnx, card } = await importModel(modelPath, opts);
  let path = modelPath;
  let tmp: string | undefined;
  if (extname(modelPath).toLowerCase() !== '.onnx') {
    tmp = await mkdtemp(join(tmpdir(), 'edgefit-infer-'));
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
  const values = engine.io.outputShape.reduce((a, b) => a * b, 1);
  const spec = card.task === 'detection' ? card.detection : undefined;
  // a detector's one output is [1, anchors, 4 + classes (+ background)] for the anchors of its input size
  const expected = spec ? (h === w && h ? (anchorsFor(spec, h, card.resolution).length / 4) * (4 + spec.postprocess.numClasses + (spec.background ? 1 : 0)) : -1) : card.classes;
  let refusal: string | undefined;
  if (card.task === 'detection' && !spec) {
    refusal = `${modelPath}: the card says detection but has no detection section; import the model again`;
  } else if (opts.resolution !== undefined && (h !== opts.resolution || w !== opts.resolution)) {
    refusal = `${modelPath} has a fixed ${h}x${w} input; drop --resolution or use a model that runs at any resolution`;
  } else if (h !== w) {
    refusal = `${modelPath} has a ${h}x${w} input; infer feeds square frames`;
  } else if (values !== expected) {
    refusal = spec
      ? `${modelPath}: output has ${values} values, the card's detector at ${h}x${w} gives ${expected} (anchors x (4 + classes))`
      : `${modelPath}: output has ${values} values, the card says ${card.classes} classes`;
  }
  if (refusal) {
    await close();
    throw new EdgefitError(values !== expected ? 'E_MODEL_OUTPUT' : 'E_FLAGS', refusal);
  }
  const detect = spec
    ? bindTask('detection', { variantId: basename(modelPath), resolution: h!, ...(card.resolution ? { nativeResolution: card.resolution } : {}), labels: card.labels, detection: spec }, { topK: 0, scoreThreshold: 0, minScore: opts.minScore, labels: [] })
    : undefined;
  return { engine, card, resolution: h!, ...(detect ? { detect } : {}), close };
}

async function classifyFile(m: Loaded, path: string, k: number): Promise<TopKEntry[]> {
  const { scores } = await m.engine.run(await loadImageRgb(path, m.resolution));
  return topK(scores, k, m.card.labels);
}

/** the whole photo stretched to the input, as the camera and folder sources feed a detector */
async function detectFile(m: Loaded, path: string): Promise<{ detections: Detection[]; counts: Record<string, number> }> {
  const { scores } = await m.engine.run(await loadImageRgb(path, m.resolution, 'stretch'));
  const out = m.detect!(scores);
  return { detections: out.detections ?? [], counts: out.counts ?? {} };
}

/** where --draw writes the picture of one photo: the file itself for one photo, else <dir>/<name>.boxes.jpg */
function drawTarget(draw: string, path: string, many: boolean): string {
  return many ? join(draw, `${basename(path, extname(path))}.boxes.jpg`) : draw;
}

async function draw(target: string, path: string, detections: Detection[]): Promise<void> {
  const img = await decodeRgb(path);
  await writeFileAtomic(target, await drawDetections(img.data, img.width, img.height, detections));
}

const r4 = (x: number) => Number(x.toFixed(4));
const fmtBox = (b: Detection['box']) => `[${b.map((x) => x.toFixed(3)).join(', ')}]`;

export function register(program: Command): void {
  program
    .command('infer')
    .alias('classify')
    .description('run a model on image files (JPEG, PNG, BMP): a classifier prints its top classes, a detector its boxes; the model is .onnx with its card beside it, or .tflite/.h5 imported on the fly')
    .argument('<model>', 'the model (.onnx, .tflite, .h5)')
    .argument('<images...>', 'image files')
    .option('--top <k>', 'classifier: how many classes to print per image', '5')
    .option('--min-score <s>', 'detector: leave out boxes scoring below this (0..1)', '0.5')
    .option('--draw <out.jpg>', 'detector: write the photo with its boxes, labels and scores drawn (JPEG); with several photos, a directory that gets <name>.boxes.jpg each')
    .option('--json', 'print JSON: [{path, top:[{label, score}]}], or for a detector [{path, detections:[{label, index, score, box}], counts}]')
    .option('--labels <file>', 'class names, one per line (overrides the card)')
    .option('--resolution <n>', 'input size for models that run at any resolution')
    .action(async (model: string, images: string[], flags: { top: string; minScore: string; draw?: string; json?: boolean; labels?: string; resolution?: string }) => {
      const k = positiveInt('--top', flags.top, 5)!;
      const minScore = fraction('--min-score', flags.minScore, 0.5);
      const resolution = positiveInt('--resolution', flags.resolution);
      const loaded = await loadForInfer(model, { ...(flags.labels ? { labelsPath: flags.labels } : {}), ...(resolution !== undefined ? { resolution } : {}), minScore });
      try {
        if (flags.draw !== undefined && !loaded.detect) throw new EdgefitError('E_FLAGS', `--draw draws a detector's boxes; ${model} is a classifier`);
        if (loaded.detect) await detectAll(loaded, images, flags);
        else await classifyAll(loaded, images, k, flags.json === true);
      } finally {
        await loaded.close();
      }
    });
}

async function classifyAll(loaded: Loaded, images: string[], k: number, json: boolean): Promise<void> {
  const results: { path: string; top: { label: string; score: number }[] }[] = [];
  for (const path of images) {
    const top = await classifyFile(loaded, path, k);
    results.push({ path, top: top.map((t) => ({ label: t.label, score: Number(t.score.toFixed(6)) })) });
    if (!json) {
      process.stdout.write(`${path}\n`);
      for (const t of top) process.stdout.write(`  ${t.score.toFixed(4)}  ${t.label}\n`);
    }
  }
  if (json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}

async function detectAll(loaded: Loaded, images: string[], flags: { draw?: string; json?: boolean }): Promise<void> {
  const many = images.length > 1;
  if (flags.draw !== undefined && many) await mkdir(flags.draw, { recursive: true });
  const results: { path: string; detections: Detection[]; counts: Record<string, number>; drawn?: string }[] = [];
  for (const path of images) {
    const { detections, counts } = await detectFile(loaded, path);
    const drawn = flags.draw !== undefined ? drawTarget(flags.draw, path, many) : undefined;
    if (drawn) await draw(drawn, path, detections);
    results.push({ path, detections: detections.map((d) => ({ label: d.label, index: d.index, score: r4(d.score), box: d.box.map(r4) as Detection['box'] })), counts, ...(drawn ? { drawn } : {}) });
    if (!flags.json) {
      process.stdout.write(`${path}${detections.length === 0 ? ': nothing at or above --min-score' : ''}\n`);
      for (const d of detections) process.stdout.write(`  ${d.score.toFixed(4)}  ${d.label.padEnd(14)} [ymin, xmin, ymax, xmax] ${fmtBox(d.box)}\n`);
      if (drawn) process.stdout.write(`  drawn: ${drawn}\n`);
    }
  }
  if (flags.json) process.stdout.write(JSON.stringify(results, null, 2) + '\n');
}
