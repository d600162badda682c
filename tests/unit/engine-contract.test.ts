import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineContract } from '../contract/engine.js';
import { OrtEngine } from '../../src/engine/onnxruntime.js';
import { EngineHost } from '../../src/engine/host.js';
import { tinyClassifier } from '../helpers/tiny-model.js';

const dir = mkdtempSync(join(tmpdir(), 'edgefit-engine-'));
const fixed = join(dir, 'tiny32.onnx');
const anyRes = join(dir, 'tiny-any.onnx');
writeFileSync(fixed, tinyClassifier({ resolution: 32 }));
writeFileSync(anyRes, tinyClassifier({ symbolicHW: true }));

const direct = () => OrtEngine.load(fixed, { providers: ['cpu'], threads: 1 });
const reference = async (f: Uint8Array) => {
  const e = await direct();
  const s = (await e.run(f)).scores.slice();
  await e.close();
  return s;
};

engineContract('onnxruntime in-process', direct, { resolution: 32, classes: 10 });
engineContract('onnxruntime in a worker thread', () => EngineHost.start(fixed, { providers: ['cpu'], threads: 1, timeoutMs: 10_000 }), { resolution: 32, classes: 10, reference });
engineContract('onnxruntime, symbolic H/W run at 48', () => OrtEngine.load(anyRes, { providers: ['cpu'], threads: 1, resolution: 48 }), { resolution: 48, classes: 10 });
engineContract('provider chain falls back to cpu', () => OrtEngine.load(fixed, { providers: ['tensorrt', 'cuda', 'cpu'], threads: 1 }), { resolution: 32, classes: 10, reference });

import { describe, it, expect } from 'vitest';
import { importModel } from '../../src/importers/index.js';
import { loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';

describe('OrtEngine on an imported uint8 model', () => {
  it('dequantizes the integer output with the scale the importer recorded: probabilities, not raw steps', async () => {
    const { onnx } = await importModel(join(sharedData, 'models/tflite/mobilenet_v1_0.25_128_quant.tflite'));
    const path = join(dir, 'v1q.onnx');
    writeFileSync(path, onnx);
    const e = await OrtEngine.load(path, { providers: ['cpu'], threads: 1, resolution: 128 });
    const r = await e.run(await loadImageRgb(join(sharedData, 'images/test/parrot.jpg'), 128));
    const sum = Array.from(r.scores).reduce((a, b) => a + b, 0);
    expect(Math.max(...r.scores)).toBeLessThanOrEqual(1);
    expect(sum).toBeGreaterThan(0.9);
    expect(sum).toBeLessThan(1.1);
    await e.close();
  });
});

// issue 21: the TensorFlow.js engine under the same contract, off the main thread as the daemon runs it (the
// registry picks tfjs for the tfjs-wasm provider), and against onnxruntime's scores
engineContract('tfjs-wasm in a worker thread', () => EngineHost.start(fixed, { providers: ['tfjs-wasm'], threads: 1, timeoutMs: 30_000 }), { resolution: 32, classes: 10, reference });
engineContract('tfjs-wasm, symbolic H/W run at 48, in a worker thread', () => EngineHost.start(anyRes, { providers: ['tfjs-wasm'], threads: 1, resolution: 48, timeoutMs: 30_000 }), { resolution: 48, classes: 10 });
