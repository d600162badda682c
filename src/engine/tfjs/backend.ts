import { createRequire } from 'node:module';
import { dirname, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { EdgefitError, errorMessage } from '../../util/errors.js';

/** Which TensorFlow.js backend runs: native TensorFlow (tfjs-node), WebAssembly (XNNPACK), or plain JS. */
export type TfjsBackend = 'tfjs-node' | 'tfjs-wasm' | 'tfjs-cpu';

export interface BackendChoice {
  backend: TfjsBackend;
  /** backends tried before, with the reason each failed */
  refused: { backend: TfjsBackend; reason: string }[];
}

const TF_NAME: Record<TfjsBackend, string> = { 'tfjs-node': 'tensorflow', 'tfjs-wasm': 'wasm', 'tfjs-cpu': 'cpu' };
const require_ = createRequire(import.meta.url);
let current: Promise<BackendChoice> | undefined;
let currentKey = '';

/**
 * Selects the first backend of `order` that initialises. tfjs keeps one backend per process, so the choice is
 * process-wide; asking again with the same order returns the same choice.
 */
export function initTfjsBackend(order: readonly TfjsBackend[] = ['tfjs-node', 'tfjs-wasm', 'tfjs-cpu']): Promise<BackendChoice> {
  const key = order.join(',');
  if (current && key === currentKey) return current;
  currentKey = key;
  current = choose(order).catch((err: unknown) => { current = undefined; throw err; });
  return current;
}

async function choose(order: readonly TfjsBackend[]): Promise<BackendChoice> {
  if (order.length === 0) throw new EdgefitError('E_TFJS_BACKEND', 'no TensorFlow.js backend was requested; list tfjs-node and/or tfjs-wasm in engine.providers');
  const refused: BackendChoice['refused'] = [];
  for (const b of order) {
    try {
      await register(b);
      const ok = await tf.setBackend(TF_NAME[b]);
      if (!ok || tf.getBackend() !== TF_NAME[b]) throw new Error(`tf.setBackend('${TF_NAME[b]}') did not take effect`);
      await tf.ready();
      return { backend: b, refused };
    } catch (err) {
      refused.push({ backend: b, reason: errorMessage(err).split('\n')[0]!.slice(0, 300) });
    }
  }
  throw new EdgefitError('E_TFJS_BACKEND', `no TensorFlow.js backend of [${order.join(', ')}] initialises (${refused.map((r) => `${r.backend}: ${r.reason}`).join('; ')}); install @tensorflow/tfjs-node or @tensorflow/tfjs-backend-wasm`);
}

async function register(b: TfjsBackend): Promise<void> {
  if (b === 'tfjs-node') {
    // optional dependency with a native addon: absent or unloadable on many boards
    await import('@tensorflow/tfjs-node' as string);
    return;
  }
  if (b === 'tfjs-wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Node cannot fetch the .wasm files by URL; point tfjs at the package's own dist directory
    const dist = dirname(require_.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(dist.endsWith(sep) ? dist : dist + sep);
  }
}

export { tf };
