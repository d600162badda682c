import { mkdir, readFile, rename } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';

/**
 * <stateDir>/quarantine holds model files whose conversion crashed, hung or ran out of memory, each beside a
 * <name>.reason.json. Moved out of models/download/, such a file is not converted again at the next start
 * (where it would crash again, every restart); `edgefit models pull` downloads it again on purpose.
 */
export function quarantineDir(stateDir: string): string {
  return join(resolve(stateDir), 'quarantine');
}

export interface QuarantineRecord {
  /** where the file was */
  source: string;
  /** where it is now */
  file: string;
  sha256: string;
  /** what the conversion was: 'native' or 'float' */
  mode: string;
  reason: string;
  /** the converter's last stderr output */
  stderrTail: string;
  at: string;
}

function names(stateDir: string, sha256: string, source: string): { file: string; reason: string } {
  const file = join(quarantineDir(stateDir), `${sha256}-${basename(source)}`);
  return { file, reason: `${file}.reason.json` };
}

/** Moves `source` into the quarantine with its reason; returns the record. */
export async function quarantine(stateDir: string, source: string, sha256: string, mode: string, reason: string, stderrTail: string): Promise<QuarantineRecord> {
  const n = names(stateDir, sha256, source);
  await mkdir(quarantineDir(stateDir), { recursive: true });
  const record: QuarantineRecord = { source, file: n.file, sha256, mode, reason, stderrTail, at: new Date().toISOString() };
  await writeFileAtomic(n.reason, JSON.stringify(record, null, 2) + '\n');
  await rename(source, n.file);
  return record;
}

/** The record of a quarantined catalog file, if there is one. */
export async function quarantined(stateDir: string, sha256: string, source: string): Promise<QuarantineRecord | undefined> {
  try {
    return JSON.parse(await readFile(names(stateDir, sha256, source).reason, 'utf8')) as QuarantineRecord;
  } catch {
    return undefined;
  }
}
