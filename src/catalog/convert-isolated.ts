import { stat } from 'node:fs/promises';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import { readConverted, type Converted } from './convert.js';
import { quarantine } from './quarantine.js';
import type { ConvertMode } from './store.js';

export interface IsolatedConvertOptions {
  /** default CONVERT_TIMEOUT_MS */
  timeoutMs?: number;
  /** default convertMemoryLimitMb(size of the file) */
  maxRssMb?: number;
  signal?: AbortSignal;
  /** the child's script; tests give one that dies */
  childScript?: string;
}

/** Catalog models convert in 0.2-2 s here; a Raspberry Pi Zero is some 20x slower. Past this it hangs. */
export const CONVERT_TIMEOUT_MS = 600_000;

/**
 * What a conversion may take: measured peak RSS of the converter process 58-140 MB for the catalog's 0.3-4 MB
 * models (node itself ~40 MB; at most ~35x the file on top), so 512 MB plus 40x the file. A file that
 * declares more (an HDF5 dataset of fill values is a few KB on disk and GBs in memory) is stopped here instead
 * of by the kernel's out-of-memory killer, which on a board may pick the daemon.
 */
export function convertMemoryLimitMb(sourceBytes: number): number {
  return 512 + (40 * sourceBytes) / 1048576;
}

/**
 * convertOnce (src/catalog/convert.ts) in a child process (src/catalog/convert-child.ts). A cached conversion is
 * returned without one. A converter that crashes, hangs past the timeout or passes the memory limit on this file
 * gets the file QUARANTINED (src/catalog/quarantine.ts) and an E_CONVERT_CRASHED error; a converter that refuses
 * the file cleanly (E_CONVERT, E_NO_IMPORTER...) comes back with its code and leaves the file where it is.
 */
export async function convertIsolated(stateDir: string, sourcePath: string, sourceSha256: string, labelsPath: string | undefined, mode: ConvertMode = 'native', o: IsolatedConvertOptions = {}): Promise<Converted> {
  const cached = await readConverted(stateDir, sourceSha256, labelsPath, mode);
  if (cached) return cached;
  const size = (await stat(sourcePath)).size;
  try {
    return await runIsolated<Converted>(o.childScript ?? distModule('catalog/convert-child.js'), { stateDir, sourcePath, sourceSha256, labelsPath, mode }, {
      timeoutMs: o.timeoutMs ?? CONVERT_TIMEOUT_MS,
      maxRssMb: o.maxRssMb ?? convertMemoryLimitMb(size),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (err) {
    if (!(err instanceof IsolatedFailure)) throw err;
    if (err.end === 'aborted' || err.end === 'spawn') {
      throw new EdgefitError('E_CONVERT', `converting ${sourcePath} did not run to its end (${err.detail}); it is tried again next time`, { cause: err });
    }
    const reason = `the converter ${err.detail}${err.lastLine ? ` (${err.lastLine})` : ''}`;
    let file: string;
    try {
      file = (await quarantine(stateDir, sourcePath, sourceSha256, mode, reason, err.stderrTail)).file;
    } catch (qerr) {
      throw new EdgefitError('E_CONVERT_CRASHED', `converting ${sourcePath}: ${reason}; moving the file to quarantine failed too (${errorMessage(qerr)}): delete it by hand`, { cause: err });
    }
    throw new EdgefitError('E_CONVERT_CRASHED', `converting ${sourcePath}: ${reason}; the file is QUARANTINED as ${file} (the reason is in ${file}.reason.json) and is not converted again: delete it there and run \`edgefit models pull\` to try again`, { cause: err });
  }
}
