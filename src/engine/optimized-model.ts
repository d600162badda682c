import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { arch, cpus } from 'node:os';
import { join } from 'node:path';
import { atomicTempPath, commitFileAtomic } from '../util/atomic.js';
import { distModule } from '../util/paths.js';
import { errorMessage } from '../util/errors.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';

/** What makes onnxruntime's optimized graph valid: the model file, the runtime, and this CPU's instruction set. */
function cacheKey(model: { path: string; size: number; mtimeMs: number }, ortVersion: string): string {
  let flags = '';
  try {
    flags = /^(flags|Features)\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[2]?.trim() ?? '';
  } catch { /* not Linux: the CPU model name stands in */ }
  const cpu = `${arch()} ${cpus()[0]?.model ?? ''} ${flags}`;
  return createHash('sha256').update(JSON.stringify([model.path, model.size, model.mtimeMs, ortVersion, cpu])).digest('hex').slice(0, 32);
}

async function runChild(model: string, out: string, timeoutMs: number): Promise<void> {
  try {
    await runIsolated(distModule('engine/optimize-child.js'), { model, out }, { timeoutMs });
  } catch (err) {
    const why = err instanceof IsolatedFailure ? `${err.detail}${err.lastLine ? `: ${err.lastLine}` : ''}` : errorMessage(err);
    throw new Error(`the optimizer child failed (${why})`, { cause: err });
  }
}

/**
 * onnxruntime's fully optimized graph of a CPU model on this machine, made once in a child process and kept in
 * `cacheDir`. A session created from it with optimization disabled runs the same kernels (outputs bit-identical,
 * speed within noise, measured) but skips the optimizer, whose transient copies of the weights otherwise stay in
 * the process's heap: 15-20 MB less resident for MobileNet-v2 1.0/224. Returns undefined (and says why through
 * `warn`) when it cannot be made; the caller then loads the original model as before.
 */
export async function optimizedModel(modelPath: string, cacheDir: string, ortVersion: string, warn: (msg: string) => void = () => undefined): Promise<string | undefined> {
  try {
    const path = await realpath(modelPath);
    const st = await stat(path);
    const out = join(cacheDir, `${cacheKey({ path, size: st.size, mtimeMs: st.mtimeMs }, ortVersion)}.onnx`);
    try {
      if ((await stat(out)).size > 0) return out;
    } catch { /* not made yet */ }
    await mkdir(cacheDir, { recursive: true });
    const tmp = atomicTempPath(out);
    try {
      await runChild(path, tmp, 300_000);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    await commitFileAtomic(tmp, out);
    return out;
  } catch (err) {
    warn(`cannot keep onnxruntime's optimized graph of ${modelPath} in ${cacheDir} (${errorMessage(err)}); optimizing at every load instead`);
    return undefined;
  }
}

/** Removes a cached optimized graph that failed to load (it is made again next time). */
export async function dropOptimized(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
