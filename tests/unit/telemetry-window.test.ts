import { describe, it, expect } from 'vitest';
import { SampleWindow } from '../../src/telemetry/window.js';

describe('SampleWindow', () => {
  it('a long window at a high rate keeps every sample inside it (10 minutes at 15 fps)', () => {
    let t = 0;
    const w = new SampleWindow(600, 1024, () => t);
    // the first half of the window slow (100 ms), the second fast (10 ms): p90 must still see the slow half
    for (let i = 0; i < 9000; i++) w.push(i < 4500 ? 100 : 10, (t = (i * 1000) / 15));
    expect(w.percentiles()).toEqual({ p50: 10, p90: 100, p99: 100, n: 9000 });
  });

  it('samples older than the window are left out, and do not make the ring grow', () => {
    let t = 0;
    const w = new SampleWindow(1, 16, () => t);
    for (let i = 0; i < 1000; i++) w.push(i, (t = i * 100));
    // a 1 s window at 10 per second, its ends included: the last 11
    expect(w.percentiles().n).toBe(11);
    expect(w.percentiles().p99).toBe(999);
    expect((w as unknown as { values: Float64Array }).values.length).toBe(16);
  });

  it('never holds more than its ceiling: past it the oldest samples of the window give way', () => {
    let t = 0;
    const w = new SampleWindow(3600, 8, () => t, 64);
    for (let i = 0; i < 200; i++, t += 1) w.push(i, t);
    const p = w.percentiles();
    expect(p.n).toBe(64);
    // the newest 64: 136..199
    expect(p.p50).toBe(167);
  });

  it('keeps order across growth: the percentiles of a rising series are its own ranks', () => {
    let t = 0;
    const w = new SampleWindow(1e6, 4, () => t);
    for (let i = 1; i <= 1000; i++, t += 1) w.push(i, t);
    expect(w.percentiles()).toEqual({ p50: 500, p90: 900, p99: 990, n: 1000 });
    w.clear();
    expect(w.percentiles().n).toBe(0);
  });
});
