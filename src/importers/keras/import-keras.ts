import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { EdgefitError } from '../../util/errors.js';
import type { ImportResult, ModelCard } from '../types.js';
import type { Family } from '../../zoo/graph.js';
import { readKerasH5, type KerasWeights } from './h5.js';
import { parseKerasConfig, type KerasGraph } from './config.js';
import { convertKeras } from './convert.js';
import { guessPreprocessing } from './preprocess.js';

export interface KerasImportOptions {
  labelsPath?: string;
  /** float input = pixel * scale + offset; overrides what the importer infers */
  scale?: number;
  offset?: number;
  /** for models whose input size is open (None) */
  resolution?: number;
}

export interface KerasFloatImport extends ImportResult {
  /** Keras weights by layer and variable, as stored (kernels HWIO), for mapping into other builders */
  weights: KerasWeights;
  graph: KerasGraph;
  /** where the input scale/offset came from */
  preprocessing: { scale: number; offset: number; source: string };
}

/** Imports a Keras .h5 into a float ONNX model taking uint8 NHWC pixels; also returns the raw weights. */
export async function importKerasFloat(path: string, opts: KerasImportOptions = {}): Promise<KerasFloatImport> {
  validate(opts);
  const h5 = await readKerasH5(path);
  const graph = parseKerasConfig(h5.config, path);
  const guess = guessPreprocessing(graph);
  const scale = opts.scale ?? guess.scale;
  const offset = opts.offset ?? guess.offset;
  const source = opts.scale !== undefined || opts.offset !== undefined ? 'caller' : guess.source;
  const conv = convertKeras(graph, h5.weights, { scale, offset, resolution: opts.resolution, source: path });
  const labels = opts.labelsPath ? await readLabels(opts.labelsPath, conv.classes) : undefined;
  const family = detectFamily(graph.name);
  conv.builder.metadata['edgefit.source'] = `keras:${basename(path)}`;
  conv.builder.metadata['edgefit.preprocessing'] = `pixel*${scale}+${offset} (${source})`;
  const onnx = conv.builder.toBytes();
  const bytes = await readFile(path);
  const card: ModelCard = {
    name: graph.name,
    ...(family ? { family: family.family, alpha: family.alpha } : {}),
    resolution: conv.resolution[0],
    anyResolution: false,
    precision: 'fp32',
    input: { layout: 'NHWC', dtype: 'uint8', scale, offset },
    output: conv.probabilities ? 'probabilities' : 'logits',
    classes: conv.classes,
    background: false,
    ...(labels ? { labels } : {}),
    source: { format: 'keras', file: basename(path), sha256: createHash('sha256').update(bytes).digest('hex') },
  };
  return { onnx, card, weights: h5.weights, graph, preprocessing: { scale, offset, source } };
}

/** The dispatcher's entry point: a Keras .h5 to an ONNX model and its card. */
export async function importKeras(path: string, opts?: { labelsPath?: string; scale?: number; offset?: number }): Promise<ImportResult> {
  const r = await importKerasFloat(path, opts ?? {});
  return { onnx: r.onnx, card: r.card };
}

function validate(o: KerasImportOptions): void {
  for (const k of ['scale', 'offset'] as const) {
    const v = o[k];
    if (v !== undefined && !Number.isFinite(v)) throw new EdgefitError('E_OPTIONS', `input ${k} must be a finite number, got ${v}`);
  }
  if (o.scale === 0) throw new EdgefitError('E_OPTIONS', 'input scale 0 would erase the image; use e.g. 0.00392157 (1/255)');
  if (o.resolution !== undefined && !(Number.isInteger(o.resolution) && o.resolution >= 8 && o.resolution <= 4096)) {
    throw new EdgefitError('E_OPTIONS', `resolution must be an integer in 8..4096, got ${o.resolution}`);
  }
}

async function readLabels(path: string, classes: number): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgefitError('E_LABELS', `cannot read labels file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]!.trim() === '') lines.pop();
  if (lines.length !== classes) {
    throw new EdgefitError('E_LABELS', `labels file ${path} has ${lines.length} lines but the model has ${classes} classes; give the matching labels file`);
  }
  return lines;
}

function detectFamily(name: string): { family: Family; alpha: number } | undefined {
  const m = /^mobilenet(v2)?_([\d.]+)_(\d+)$/i.exec(name);
  if (!m) return undefined;
  return { family: m[1] ? 'mobilenet_v2' : 'mobilenet_v1', alpha: Number(m[2]) };
}
