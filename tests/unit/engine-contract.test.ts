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
