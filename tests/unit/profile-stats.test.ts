import { describe, it, expect } from 'vitest';
import { summarize, percentileSorted } from '../../src/profile/stats.js';

describe('latency statistics', () => {
  it('nearest-rank percentiles, never interpolated', () => {
    const s = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100 shuffled order
    const r = summarize(s);
    expect(r).toMatchObject({ p50: 50, p90: 90, p99: 99, min: 1, max: 100, mean: 50.5 });
    expect(r.stddev).toBeCloseTo(29.011, 3);
    expect(percentileSorted([5], 90)).toBe(5);
    expect(percentileSorted([1, 2, 3], 90)).toBe(3);
    expect(percentileSorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90)).toBe(10);
  });
  it('no samples: NaN everywhere, so nothing passes a budget by accident', () => {
    const r = summarize([]);
    expect(Object.values(r).every(Number.isNaN)).toBe(true);
  });
});
