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
  const labels = parseLabels(text);
  if (labels.length === 0) throw new EdgefitError('E_LABELS', `labels file ${path} is empty; it needs one class name per line`);
  return labels;
}

/**
 * Label text: one label per line, or `id label` / `id: label` lines. Numbered lines may skip ids (COCO's label
 * files list category ids with gaps): the label of output N is the line with id N, and a skipped id gets the
 * name `class_<id>` so every output has a stable name.
 */
export function parseLabels(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  const ids = lines.map((l) => /^(\d{1,6})(?::\s*|\s+)(\S.*)$/.exec(l));
  const numbered = lines.length > 0 && ids.every((m, i) => m !== null && (i === 0 ? Number(m[1]) >= 0 : Number(m[1]) > Number(ids[i - 1]![1])));
  if (!numbered) return lines;
  const out: string[] = [];
  for (const m of ids) {
    const id = Number(m![1]);
    while (out.length < id) out.push(`class_${out.length}`);
    out.push(m![2]!.trim());
  }
  return out;
}

/**
 * Fits labels to a detector's classes (without background): the same count, or one more when the file lists
 * background first. A shorter file would leave detections without names, a longer one is another model's list.
 */
export function fitDetectionLabels(labels: string[] | undefined, numClasses: number, source: string): string[] | undefined {
  if (!labels) return undefined;
  if (labels.length === numClasses) return labels;
  if (labels.length === numClasses + 1 && /^(background|\?\?\?)$/i.test(labels[0]!)) return labels.slice(1);
  throw new EdgefitError('E_LABELS', `${source}: the detector has ${numClasses} classes but the labels file names ${labels.length}; use the label list the model was trained with (for COCO SSD models, coco_labels.txt)`);
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
