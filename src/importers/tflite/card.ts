import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Family } from '../../zoo/graph.js';
import { EdgefitError } from '../../util/errors.js';

const FAMILIES: Record<string, Family> = {
  mobilenet_v1: 'mobilenet_v1', mobilenetv1: 'mobilenet_v1', mobilenet_v2: 'mobilenet_v2', mobilenetv2: 'mobilenet_v2',
  shufflenet: 'shufflenet_v1', shufflenet_v1: 'shufflenet_v1', squeezenet: 'squeezenet', xception: 'xception',
};

/**
 * family / alpha / resolution from a file name that follows the common zoo pattern
 * `<family>_<alpha>_<resolution>` (e.g. mobilenet_v1_0.25_128_quant.tflite, tf2_mobilenet_v2_1.0_224_ptq.tflite).
 */
export function guessFromName(file: string): { family?: Family; alpha?: number; resolution?: number } {
  const name = basename(file).toLowerCase();
  const m = /(mobilenet_?v[12]|shufflenet(?:_v1)?|squeezenet|xception)[_-](\d+(?:\.\d+)?)[_-](\d{2,4})(?![\d.])/.exec(name);
  if (m) {
    const alpha = Number(m[2]);
    const resolution = Number(m[3]);
    return { family: FAMILIES[m[1]!], alpha: alpha > 0 && alpha <= 4 ? alpha : undefined, resolution: resolution >= 16 && resolution <= 2048 ? resolution : undefined };
  }
  const f = /(mobilenet_?v[12]|shufflenet(?:_v1)?|squeezenet|xception)/.exec(name);
  return f ? { family: FAMILIES[f[1]!] } : {};
}

/** One label per non-empty line; "0 background" / "0: background" style numbered lines are stripped of the number. */
export async function loadLabels(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new EdgefitError('E_LABELS', `cannot read labels file ${path}: ${(err as Error).message}; pass --labels with a text file of one class name per line`, { cause: err });
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const numbered = lines.length > 0 && lines.every((l, i) => new RegExp(`^${i}[:\\s]`).test(l));
  const labels = numbered ? lines.map((l) => l.replace(/^\d+[:\s]\s*/, '')) : lines;
  if (labels.length === 0) throw new EdgefitError('E_LABELS', `labels file ${path} is empty; it needs one class name per line`);
  return labels;
}

/**
 * Fits labels to a classifier's output: the same count, or one fewer when class 0 is an implicit background
 * (TFLite ImageNet models have 1001 outputs for 1000 labels). Returns the labels per output and whether
 * output 0 is background.
 */
export function fitLabels(labels: string[] | undefined, classes: number, source: string): { labels?: string[]; background: boolean } {
  if (!labels) return { background: false };
  if (labels.length === classes) return { labels, background: /^background$/i.test(labels[0]!) };
  if (labels.length + 1 === classes) return { labels: ['background', ...labels], background: true };
  throw new EdgefitError('E_LABELS', `${source}: the model has ${classes} outputs but the labels file has ${labels.length} lines; use the labels the model was trained with`);
}
