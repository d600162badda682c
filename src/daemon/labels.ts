import { readFile } from 'node:fs/promises';

/** "17  traffic light": a label file that numbers its lines (COCO's, with gaps where a category was dropped) */
const NUMBERED = /^(\d{1,6})\s+(\S.*)$/;

/**
 * One label per line, or `id label` lines (every line numbered: the id is the class index, ids may have gaps,
 * named class_<id>).
 * A missing file gives index names (the model still runs, results say "class 17").
 */
export async function readLabels(path: string | undefined): Promise<string[] | undefined> {
  if (!path) return undefined;
  let lines: string[];
  try {
    lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  } catch {
    return undefined;
  }
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0 || !lines.every((l) => NUMBERED.test(l))) return lines;
  const out: string[] = [];
  for (const l of lines) {
    const m = NUMBERED.exec(l)!;
    out[Number(m[1])] = m[2]!.trim();
  }
  // a skipped id gets the name the importer gives it (src/importers/tflite/card.ts parseLabels), so a detection
  // is named alike by `edgefit infer` and the daemon
  for (let i = 0; i < out.length; i++) out[i] ??= `class_${i}`;
  return out;
}
