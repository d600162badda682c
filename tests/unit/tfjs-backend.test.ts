import { describe, it, expect } from 'vitest';
import { TfjsEngine } from '../../src/engine/tfjs/engine.js';
import { tf } from '../../src/engine/tfjs/backend.js';
import { buildGraph } from '../../src/zoo/registry.js';
import { relErr, seededFrame } from './onnx-reference.js';

// Own file: tfjs keeps one backend per process, and this one switches it.
describe('TensorFlow.js backend chain', () => {
  it('skips a backend that does not load, reports why, and the plain-JS cpu backend agrees with wasm', async () => {
    const g = buildGraph({ family: 'mobilenet_v2', alpha: 0.35, resolution: 64, classes: 10, seed: 9 });
    const frame = seededFrame(64, 64, 1);
    let tfjsNode = true;
    try { await import('@tensorflow/tfjs-node' as string); } catch { tfjsNode = false; }

    const cpu = await TfjsEngine.load(g, { providers: ['tfjs-node', 'cpu'] });
    expect(cpu.provider).toBe(tfjsNode ? 'tfjs-node' : 'cpu');
    if (!tfjsNode) {
      expect(tf.getBackend()).toBe('cpu');
      expect(cpu.refused).toEqual([{ provider: 'tfjs-node', reason: expect.stringMatching(/tfjs-node/) }]);
    }
    const a = Float32Array.from((await cpu.run(frame)).scores);
    await cpu.close();

    const wasm = await TfjsEngine.load(g, { providers: ['tfjs-wasm'] });
    expect(wasm.provider).toBe('tfjs-wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(relErr((await wasm.run(frame)).scores, a)).toBeLessThanOrEqual(1e-4);
    await wasm.close();
  });

  it('refuses providers that are not TensorFlow.js ones', async () => {
    const g = buildGraph({ family: 'squeezenet', resolution: 64, classes: 3, options: { version: '1.1' } });
    await expect(TfjsEngine.load(g, { providers: ['tensorrt', 'cuda'] })).rejects.toThrow(/no TensorFlow\.js backend was requested/);
  });
});
