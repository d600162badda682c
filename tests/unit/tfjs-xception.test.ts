import { describe, it, expect } from 'vitest';
import { buildGraph } from '../../src/zoo/registry.js';
import type { Graph } from '../../src/zoo/graph.js';
import { relErr, seededFrame } from './onnx-reference.js';
import { ortLogits, tfjsLogits } from './tfjs-helpers.js';

/**
 * Xception in TensorFlow.js against onnxruntime, like tfjs-crosscheck.test.ts (max|a-b| <= 1e-4 * max|onnx| on
 * logits). 23M parameters: the second resolution reuses the first one's seeded weights instead of drawing them
 * again. The paper's pointwise-first variant runs only with EDGEFIT_SLOW_TESTS=1.
 */
const TOL = 1e-4;
let first: Graph | undefined;

describe('TensorFlow.js and onnxruntime agree on Xception', () => {
  for (const r of [71, 96]) {
    it(`Xception at ${r}`, async () => {
      const prev = first;
      const g = buildGraph({ family: 'xception', resolution: r, seed: 5, ...(prev ? { weights: (name: string) => prev.params.get(name)!.data } : {}) });
      first ??= g;
      const frame = seededFrame(r, r, r);
      const a = await ortLogits(g, frame, [r, r]);
      expect(a.length).toBe(1000);
      expect(relErr(await tfjsLogits(g, frame), a)).toBeLessThanOrEqual(TOL);
    });
  }

  it.runIf(process.env.EDGEFIT_SLOW_TESTS === '1')('Xception pointwise-first at 80', async () => {
    const g = buildGraph({ family: 'xception', resolution: 80, seed: 5, options: { separable_order: 'pointwise-first' } });
    const frame = seededFrame(80, 80, 80);
    expect(relErr(await tfjsLogits(g, frame), await ortLogits(g, frame, [80, 80]))).toBeLessThanOrEqual(TOL);
  });
});
