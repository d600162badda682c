import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineFactory, engineNames, enginesFor, loadEngine, ortUnavailable, registerEngine } from '../../src/engine/registry.js';
import type { Engine, EngineFactory } from '../../src/engine/engine.js';
import { EdgefitError } from '../../src/util/errors.js';
import { tinyClassifier, testFrame } from '../helpers/tiny-model.js';
import { createFrameSource, frameSourceNames, registerFrameSource } from '../../src/camera/registry.js';
import { SyntheticSource } from '../../src/camera/synthetic.js';

const fake = (name: string, fail?: string): EngineFactory => ({
  name,
  async load(): Promise<Engine> {
    if (fail) throw new EdgefitError('E_ENGINE_LOAD', fail);
    return { name, provider: 'cpu', refused: [], io: { inputName: 'x', inputShape: [1, 8, 8, 3], inputType: 'uint8', outputName: 'y', outputShape: [1, 2] }, run: async () => ({ scores: new Float32Array(2), inferMs: 0 }), close: async () => undefined };
  },
});

// first: the test engines registered below take any provider
describe('engines by provider (issue 21)', () => {
  it('a provider chain picks its engine: tfjs for tfjs-wasm/tfjs-node, onnxruntime for cpu/cuda/tensorrt', () => {
    expect(enginesFor(['tfjs-wasm'])).toContain('tfjs');
    expect(enginesFor(['tfjs-wasm'])).not.toContain('onnxruntime');
    expect(enginesFor(['tfjs-node', 'tfjs-wasm'])).toContain('tfjs');
    expect(enginesFor(['tensorrt', 'cpu'])).toContain('onnxruntime');
    expect(enginesFor(['cpu'])).not.toContain('tfjs');
  });

  it('loads a real model on tfjs-wasm when only engine.providers asks for it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-reg-'));
    writeFileSync(join(dir, 'm.onnx'), tinyClassifier({ resolution: 16, classes: 4 }));
    const e = await loadEngine(join(dir, 'm.onnx'), { providers: ['tfjs-wasm'], threads: 1 });
    expect(e.name).toBe('tfjs');
    expect(e.provider).toBe('tfjs-wasm');
    expect((await e.run(testFrame(16))).scores).toHaveLength(4);
    await e.close();
  });

  it('onnxruntime is skipped with its reason where onnxruntime-node ships no binary (32-bit ARM)', () => {
    expect(ortUnavailable('linux', 'x64')).toBeNull();
    expect(ortUnavailable('linux', 'arm64')).toBeNull();
    expect(ortUnavailable('linux', 'arm')).toMatch(/no linux\/arm binary.*tfjs-wasm/);
  });
});

describe('engine registry', () => {
  it('ships onnxruntime as the only fallback engine, tfjs only by name, and no fault engine', () => {
    expect(engineNames()[0]).toBe('onnxruntime');
    expect(engineNames()).not.toContain('tfjs');
    expect(engineNames()).not.toContain('fault-hang');
    return expect(engineFactory('fault-hang')).rejects.toMatchObject({ code: 'E_ENGINE_UNKNOWN' });
  });

  it('loads a real model with the registered onnxruntime engine', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-reg-'));
    writeFileSync(join(dir, 'm.onnx'), tinyClassifier({ resolution: 16, classes: 4 }));
    const e = await loadEngine(join(dir, 'm.onnx'), { providers: ['cpu'], threads: 1 }, ['onnxruntime']);
    expect(e.name).toBe('onnxruntime');
    expect((await e.run(testFrame(16))).scores).toHaveLength(4);
    await e.close();
  });

  it('orders by priority, tries in order and reports every failure', async () => {
    registerEngine('test-bad-a', fake('test-bad-a', 'a refuses'), 1000);
    registerEngine('test-bad-b', async () => { throw new Error('b module missing'); }, 999);
    registerEngine('test-good', fake('test-good'), 998);
    registerEngine('test-hidden', fake('test-hidden'), -5);
    expect(engineNames().slice(0, 3)).toEqual(['test-bad-a', 'test-bad-b', 'test-good']);
    expect(engineNames()).not.toContain('test-hidden');
    // no hints: by priority, the first that loads
    expect((await loadEngine('/m.onnx', { providers: ['cpu'], threads: 1 })).name).toBe('test-good');
    // hints: in the order given; a negative priority is loadable by name
    expect((await loadEngine('/m.onnx', { providers: ['cpu'], threads: 1 }, ['test-hidden', 'test-good'])).name).toBe('test-hidden');
    const all = loadEngine('/m.onnx', { providers: ['cpu'], threads: 1 }, ['test-bad-a', 'test-bad-b', 'nope']);
    await expect(all).rejects.toThrow(/no engine could load \/m\.onnx: \[test-bad-a\] a refuses; \[test-bad-b\] b module missing; \[nope\] no engine is named "nope"/);
    // one engine tried: its own error, code kept
    await expect(loadEngine('/m.onnx', { providers: ['cpu'], threads: 1 }, ['test-bad-a'])).rejects.toMatchObject({ code: 'E_ENGINE_LOAD', message: 'a refuses' });
  });

  it('refuses a second engine under a taken name, accepts the same registration again, refuses bad names', async () => {
    const f = fake('test-twice');
    registerEngine('test-twice', f, 1);
    registerEngine('test-twice', f, 1);
    expect(() => registerEngine('test-twice', fake('test-twice'), 1)).toThrow(/already registered/);
    expect(() => registerEngine('onnxruntime', fake('x'), 1)).toThrow(/already registered/);
    expect(() => registerEngine('Bad Name', fake('x'), 1)).toThrow(/lower-case/);
    await expect(engineFactory('missing')).rejects.toThrow(/no engine is named "missing"; the engines are onnxruntime, tfjs/);
  });
});

describe('frame source registry (same style)', () => {
  it('asks factories by priority, ffmpeg last; a higher-priority registration wins', async () => {
    expect(frameSourceNames()).toEqual(['synthetic', 'rpicam', 'folder', 'ffmpeg']);
    let asked = 0;
    registerFrameSource('test-cam', { matches: (s) => s === 'synthetic', create: (_s, o) => { asked++; return new SyntheticSource(o); } }, 100);
    expect(frameSourceNames()[0]).toBe('test-cam');
    expect(frameSourceNames().at(-1)).toBe('ffmpeg');
    const src = await createFrameSource('synthetic', { width: 16, height: 16, fps: 5, watchdogSeconds: 10, loop: true });
    expect(src).toBeInstanceOf(SyntheticSource);
    expect(asked).toBe(1);
    expect(() => registerFrameSource('test-cam', { matches: () => false, create: (_s, o) => new SyntheticSource(o) }, 1)).toThrow(/already registered/);
  });
});
