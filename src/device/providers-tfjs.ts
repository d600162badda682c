import type { ProviderName } from '../engine/engine.js';
import { errorMessage } from '../util/errors.js';
import type { ProviderCheck, ProvidersInfo } from './types.js';

const TFJS: readonly ('tfjs-node' | 'tfjs-wasm')[] = ['tfjs-node', 'tfjs-wasm'];
const INPUT = [1, -2, 3, -4];
const EXPECTED = [1, 0, 3, 0];

/**
 * Proves a TensorFlow.js provider as onnxruntime's are proven: its backend initialises and computes the probe
 * model (a Relu of [1, -2, 3, -4]) on that backend. tfjs-node is an optional dependency with a native addon,
 * often not installed: the check says so, with the command that installs it.
 */
export async function checkTfjsProvider(name: 'tfjs-node' | 'tfjs-wasm'): Promise<ProviderCheck> {
  const base = { name, listed: true, bundled: name === 'tfjs-wasm', placedOn: [] as string[] };
  try {
    const { initTfjsBackend, tf } = await import('../engine/tfjs/backend.js');
    await initTfjsBackend([name]);
    const backend = tf.getBackend();
    const got = await tf.tidy(() => tf.relu(tf.tensor2d(INPUT, [1, 4]))).data();
    const values = Array.from(got);
    if (values.some((v, i) => v !== EXPECTED[i])) {
      return { ...base, placedOn: [backend], works: false, evidence: `backend ${backend} computed ${JSON.stringify(values)} instead of ${JSON.stringify(EXPECTED)}`, error: null };
    }
    return { ...base, placedOn: [backend], works: true, evidence: `TensorFlow.js backend ${backend} initialised and ran the probe model`, error: null };
  } catch (err) {
    const msg = errorMessage(err).split('\n')[0]!.trim().slice(0, 400);
    const absent = name === 'tfjs-node' && /cannot find (module|package)|ERR_MODULE_NOT_FOUND/i.test(msg);
    return {
      ...base, listed: !absent, works: false,
      evidence: absent ? '@tensorflow/tfjs-node (an optional dependency) is not installed: `npm install @tensorflow/tfjs-node` where its prebuilt binary exists (linux x64/arm64)' : 'the TensorFlow.js backend did not initialise',
      error: absent ? null : msg,
    };
  }
}

/** The probe's answer with the TensorFlow.js providers checked too (after onnxruntime's, in preference order). */
export async function withTfjsProviders(info: ProvidersInfo): Promise<ProvidersInfo> {
  const checks: ProviderCheck[] = [];
  for (const name of TFJS) checks.push(await checkTfjsProvider(name));
  const usable: ProviderName[] = [...info.usable, ...TFJS.filter((p) => checks.some((c) => c.name === p && c.works))];
  return { ...info, checks: [...info.checks, ...checks], usable };
}
