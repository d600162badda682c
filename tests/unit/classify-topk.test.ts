import { describe, it, expect } from 'vitest';
import { topK } from '../../src/pipeline/topk.js';

describe('topK', () => {
  it('matches a full sort on random scores, best first, with labels', () => {
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 50; trial++) {
      const n = 1 + Math.floor(rand() * 300);
      const scores = Float32Array.from({ length: n }, () => Math.round(rand() * 50) / 50);
      const k = 1 + Math.floor(rand() * 8);
      const labels = Array.from({ length: n }, (_, i) => `c${i}`);
      const want = [...scores].map((s, i) => ({ i, s })).sort((a, b) => b.s - a.s || a.i - b.i).slice(0, k);
      const got = topK(scores, k, labels);
      expect(got.map((g) => g.score)).toEqual(want.map((w) => w.s));
      // ties keep the lower index first
      expect(got.map((g) => g.index)).toEqual(want.map((w) => w.i));
      expect(got.map((g) => g.label)).toEqual(want.map((w) => `c${w.i}`));
    }
  });

  it('threshold, k larger than the array, k = 0, NaN, no labels', () => {
    const s = new Float32Array([0.1, NaN, 0.7, 0.2]);
    expect(topK(s, 10).map((e) => e.index)).toEqual([2, 3, 0]);
    expect(topK(s, 10, undefined, 0.15).map((e) => e.label)).toEqual(['2', '3']);
    expect(topK(s, 0)).toEqual([]);
  });
});
