import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { readOnnx } from '../onnx/reader.js';
import { refuseExternalData } from '../onnx/external-data.js';
import { writeFileAtomic } from '../util/atomic.js';
import { EdgefitError } from '../util/errors.js';
import type { ModelCard } from '../importers/types.js';
import { quantizeModel, type QuantReport, type WeightBits } from './quantize.js';
import { checkIntegerKernels, type KernelCheck } from './verify.js';
import { chooseRanges, chooseWeightBits, type RangeChoice, type WeightBitsChoice } from './choose.js';
import type { CalibMethod } from './calibrate.js';
import { evaluateFidelity, loadEvalImages, type FidelityReport } from './fidelity.js';

export interface QuantizeFileOptions {
  calibDir: string;
  /** 'auto' measures minmax, percentile and mse ranges on held-out calibration photos and keeps the best */
  method: CalibMethod | 'auto';
  /** 'auto' measures 8-bit, 7-bit and mixed weights on this machine and keeps the most faithful */
  weights: WeightBits | 'auto';
  labelsPath?: string;
  evalDir?: string;
  outDir?: string;
  resolution?: number;
}

export interface QuantizeFileResult {
  modelPath: string;
  cardPath: string;
  reportPath: string;
  report: { quantization: QuantReport; kernels: KernelCheck; rangeChoice?: RangeChoice; choice?: WeightBitsChoice['candidates']; fidelity?: FidelityReport; seconds: number };
}

/** `edgefit quantize`: float .onnx in, <name>-int8.onnx + card + fidelity report out (all written atomically). */
export async function quantizeFile(modelPath: string, o: QuantizeFileOptions): Promise<QuantizeFileResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(modelPath);
  } catch (err) {
    throw new EdgefitError('E_MODEL', `cannot read ${modelPath}: ${(err as Error).message}`, { cause: err });
  }
  const model = readOnnx(bytes, modelPath);
  refuseExternalData(bytes, modelPath);
  const input = model.graph!.input!.find((i) => !(model.graph!.initializer ?? []).some((t) => t.name === i.name));
  const dims = input?.type?.tensorType?.shape?.dim ?? [];
  if (input?.type?.tensorType?.elemType !== 2 || dims.length !== 4) {
    throw new EdgefitError('E_MODEL', `${modelPath}: the input must be uint8 [1, H, W, 3] pixels (import the model with edgefit import first)`);
  }
  const h = Number(dims[1]?.dimValue ?? 0);
  const w = Number(dims[2]?.dimValue ?? 0);
  // calibration, range and fidelity frames are square (resolution x resolution): onnxruntime would refuse a
  // non-square input only at the first run, with its own message
  if (h > 0 && w > 0 && h !== w) {
    throw new EdgefitError('E_MODEL', `${modelPath}: the input is ${h}x${w} (H x W); edgefit quantizes square inputs only: re-export the model at a square size (e.g. ${Math.max(h, w)}x${Math.max(h, w)}) and import it again`);
  }
  const fixed = h || w;
  if (o.resolution !== undefined && fixed > 0 && o.resolution !== fixed) {
    throw new EdgefitError('E_OPTIONS', `${modelPath} has a fixed input size ${fixed}; --resolution ${o.resolution} would not fit it: leave --resolution out`);
  }
  const resolution = o.resolution ?? fixed;
  if (!(resolution > 0)) throw new EdgefitError('E_OPTIONS', `${modelPath} has an open input size; pass --resolution`);
  const labels = o.labelsPath ? (await readFile(o.labelsPath, 'utf8')).split(/\r?\n/).filter((l, i, a) => l.trim() !== '' || i < a.length - 1) : undefined;

  const t0 = performance.now();
  let q: { onnx: Uint8Array; report: QuantReport };
  let choice: WeightBitsChoice['candidates'] | undefined;
  let rangeChoice: RangeChoice | undefined;
  let method: CalibMethod;
  if (o.method === 'auto') {
    rangeChoice = await chooseRanges(bytes, { calib: o.calibDir, weightBits: o.weights === 'auto' ? 8 : o.weights, resolution });
    method = rangeChoice.method;
  } else {
    method = o.method;
  }
  if (o.weights === 'auto') {
    const c = await chooseWeightBits(bytes, { calib: o.calibDir, method, resolution });
    q = { onnx: c.onnx, report: c.report };
    choice = c.candidates;
  } else {
    q = await quantizeModel(bytes, { calib: o.calibDir, method, weightBits: o.weights, resolution });
  }
  const seconds = (performance.now() - t0) / 1000;
  const kernels = await checkIntegerKernels(q.onnx);
  let fidelity: FidelityReport | undefined;
  if (o.evalDir) {
    const images = await loadEvalImages(o.evalDir, resolution);
    fidelity = await evaluateFidelity(bytes, q.onnx, { images, resolution, labels, quant: q.report });
  }
  const name = basename(modelPath, extname(modelPath));
  const outDir = resolve(o.outDir ?? dirname(modelPath));
  const outModel = join(outDir, `${name}-int8.onnx`);
  const cardPath = join(outDir, `${name}-int8.card.json`);
  const reportPath = join(outDir, `${name}-int8.fidelity.json`);
  const card = await cardFor(modelPath, name, resolution, q, labels);
  const report = { quantization: q.report, kernels, ...(rangeChoice ? { rangeChoice } : {}), ...(choice ? { choice } : {}), ...(fidelity ? { fidelity } : {}), seconds };
  // model first, card last: a card on disk always describes a complete model beside it
  await writeFileAtomic(outModel, q.onnx);
  await writeFileAtomic(reportPath, JSON.stringify(report, null, 2) + '\n');
  await writeFileAtomic(cardPath, JSON.stringify(card, null, 2) + '\n');
  return { modelPath: outModel, cardPath, reportPath, report };
}

async function cardFor(modelPath: string, name: string, resolution: number, q: { onnx: Uint8Array; report: QuantReport }, labels?: string[]): Promise<ModelCard> {
  let base: Partial<ModelCard> = {};
  try {
    base = JSON.parse(await readFile(join(dirname(modelPath), `${name}.card.json`), 'utf8')) as ModelCard;
  } catch { /* no card beside the float model: describe what the file itself says */ }
  const m = readOnnx(q.onnx);
  const out = m.graph!.output![0]!;
  const classes = Number(out.type?.tensorType?.shape?.dim?.[1]?.dimValue ?? labels?.length ?? 0);
  const src = await readFile(modelPath);
  return {
    name: `${base.name ?? name}-int8`,
    ...(base.family ? { family: base.family } : {}),
    ...(base.alpha !== undefined ? { alpha: base.alpha } : {}),
    resolution,
    anyResolution: false,
    precision: 'int8',
    input: base.input ?? { layout: 'NHWC', dtype: 'uint8' },
    output: base.output ?? (out.name === 'probabilities' ? 'probabilities' : 'logits'),
    classes,
    background: base.background ?? false,
    ...(labels ?? base.labels ? { labels: labels ?? base.labels } : {}),
    source: { format: 'onnx', file: basename(modelPath), sha256: createHash('sha256').update(src).digest('hex') },
    quantization: q.report.tag,
  };
}
