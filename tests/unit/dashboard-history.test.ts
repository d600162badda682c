import { describe, expect, it } from 'vitest';
import { BUCKET_MS, SLOTS, SeriesRing, fromHalf, toHalf } from '../../src/dashboard/history.js';

describe('dashboard history ring (half floats)', () => {
  it('keeps values within 0.05% from 6e-5 to 65,504, clamps above, and rounds to nearest', () => {
    for (let v = 6.2e-5; v < 65504; v *= 1.37) expect(Math.abs(fromHalf(toHalf(v)) - v) / v).toBeLessThanOrEqual(2 ** -11);
    expect(fromHalf(toHalf(1e6))).toBe(65504);
    expect(fromHalf(toHalf(0))).toBe(0);
    expect(fromHalf(toHalf(2049))).toBe(2050);
    expect(fromHalf(toHalf(1.5))).toBe(1.5);
    expect(fromHalf(toHalf(1e-5))).toBeCloseTo(1e-5, 7);
  });

  it('averages p50 and fps, keeps the worst p90 per bucket, and forgets samples older than the hour', () => {
    const r = new SeriesRing();
    const t = 1_700_000_000_000 - (1_700_000_000_000 % BUCKET_MS);
    r.add(t, 40, 50, 12);
    expect(r.add(t + 1000, 44, 60, 14)).toEqual([t, 42, 60, 13]);
    r.add(t + BUCKET_MS, 30, 30, 20);
    expect(r.points()).toEqual([[t, 42, 60, 13], [t + BUCKET_MS, 30, 30, 20]]);
    // an hour later the first buckets have left the window
    r.add(t + SLOTS * BUCKET_MS, 10, 11, 5);
    expect(r.points().map((p) => p[0])).toEqual([t + BUCKET_MS, t + SLOTS * BUCKET_MS]);
  });
});
