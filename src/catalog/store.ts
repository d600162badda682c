import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join, relative, resolve, isAbsolute, sep } from 'node:path';
import { EdgefitError } from '../util/errors.js';
import { isSafeRelativePath } from './catalog.js';

/**
 * On-disk layout below <stateDir>/models:
 *   download/<file>          pulled files, exactly as the catalog's relative path
 *   onnx/<sha256>.onnx       converted model, keyed by the sha256 of the pulled source file
 *   onnx/<sha256>.onnx.sha256  the converted model's own sum, checked before reuse
 *   onnx/<sha256>.card.json  its ModelCard
 *   onnx/<sha256>.float.*    dequantized fp32 conversion of a quantized TFLite source
 *   zoo/<id>.onnx            zoo-generated fallback models (random weights)
 */
export function modelsDir(stateDir: string): string {
  return join(resolve(stateDir), 'models');
}

/** Joins a catalog-relative path below root, refusing anything that would leave it. */
export function safeJoin(root: string, rel: string): string {
  if (!isSafeRelativePath(rel)) throw new EdgefitError('E_CATALOG_PATH', `refusing file path ${JSON.stringify(rel)}: it must be relative and stay inside ${root}`);
  const full = resolve(root, rel);
  const r = relative(resolve(root), full);
  if (r === '' || r.startsWith('..') || isAbsolute(r) || r.split(sep).includes('..')) {
    throw new EdgefitError('E_CATALOG_PATH', `refusing file path ${JSON.stringify(rel)}: it leaves ${root}`);
  }
  return full;
}

export function downloadPath(stateDir: string, file: string): string {
  return safeJoin(join(modelsDir(stateDir), 'download'), file);
}

/** 'native' keeps the source's precision; 'float' is a dequantized fp32 conversion of a quantized source. */
export type ConvertMode = 'native' | 'float';

export function convertedPaths(stateDir: string, sourceSha256: string, mode: ConvertMode = 'native'): { onnx: string; card: string } {
  if (!/^[0-9a-f]{64}$/.test(sourceSha256)) throw new EdgefitError('E_CATALOG', `bad sha256 ${JSON.stringify(sourceSha256)}`);
  const dir = join(modelsDir(stateDir), 'onnx');
  const base = mode === 'float' ? `${sourceSha256}.float` : sourceSha256;
  return { onnx: join(dir, `${base}.onnx`), card: join(dir, `${base}.card.json`) };
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * sha256 of a file, or undefined when it does not exist. The file goes through one buffer: a read stream
 * allocates a Buffer per 64 KB chunk, and the daemon hashes every model at start (~75 MB for the shipped
 * catalog), which left ~12 MB of freed chunks pinned in the malloc heap for the life of the process.
 */
export async function sha256File(path: string): Promise<string | undefined> {
  const h = createHash('sha256');
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buf = Buffer.allocUnsafe(HASH_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, HASH_CHUNK, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}
const HASH_CHUNK = 64 * 1024;
