import { readFile } from 'node:fs/promises';

/** One label per line; a missing file gives index names (the model still runs, results say "class 17"). */
export async function readLabels(path: string | undefined): Promise<string[] | undefined> {
  if (!path) return undefined;
  try {
    const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return lines;
  } catch {
    return undefined;
  }
}
