import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { testFrame } from '../helpers/tiny-model.js';

/**
 * The Engine contract: every implementation (in-process onnxruntime, the worker host, TensorFlow.js) passes it.
 * `load` returns an engine for a model whose input is uint8 [1,R,R,3] and whose output has `classes` scores.
 */
export function engineContract(name: string, load: () => Promise<Engine>, expect_: { resolution: number; classes: number; reference?: (frame: Uint8Array) => Promise<Float32Array> }): void {
  describe(`Engine contract: ${name}`, () => {
    let engine: Engine;
    beforeAll(async () => { engine = await load(); });
    afterAll(async () => { await engine?.close(); });

    it('reports its io and a verified provider', () => {
      expect(engine.io.inputShape).toEqual([1, expect_.resolution, expect_.resolution, 3]);
      expect(engine.io.inputType).toBe('uint8');
      expect(engine.io.outputShape.reduce((a, b) => a * b, 1)).toBe(expect_.classes);
      expect(typeof engine.provider).toBe('string');
      expect(Array.isArray(engine.refused)).toBe(true);
    });

    it('runs a frame and returns one finite score per class', async () => {
      const r = await engine.run(testFrame(expect_.resolution));
      expect(r.scores.length).toBe(expect_.classes);
      expect(Array.from(r.scores).every(Number.isFinite)).toBe(true);
      expect(r.inferMs).toBeGreaterThanOrEqual(0);
    });

    it('is deterministic and distinguishes different frames', async () => {
      const a = Array.from((await engine.run(testFrame(expect_.resolution, 1))).scores);
      const b = Array.from((await engine.run(testFrame(expect_.resolution, 2))).scores);
      const a2 = Array.from((await engine.run(testFrame(expect_.resolution, 1))).scores);
      expect(a2).toEqual(a);
      expect(b).not.toEqual(a);
    });

    if (expect_.reference) {
      it('matches the reference runtime', async () => {
        const f = testFrame(expect_.resolution, 3);
        const ref = await expect_.reference!(f);
        const got = (await engine.run(f)).scores;
        const maxAbs = Math.max(...Array.from(ref).map(Math.abs));
        for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4 * maxAbs + 1e-7);
      });
    }

    it('refuses a frame of the wrong size with a clear error', async () => {
      await expect(engine.run(new Uint8Array(7))).rejects.toThrow(/frame/);
    });
  });
}
