import { describe, it, expect } from 'vitest';
import { percentile, median, summarize, ratio, pairedRatio, overheadPct, interleave, fmt, table } from '../../scripts/bench/stats.js';
import { midRangeBudget } from '../../scripts/bench/selection.js';
import { selfTimes, type CpuProfile } from '../../scripts/bench/cpuprofile.js';

describe('bench statistics', () => {
  it('percentile interpolates linearly and ignores non-finite samples', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([4, 1, 3, 2], 0)).toBe(1);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
    expect(percentile([10, 20], 90)).toBeCloseTo(19, 10);
    expect(median([5, NaN, 1, Infinity, 3])).toBe(3);
    expect(Number.isNaN(median([]))).toBe(true);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarize gives n, percentiles, extremes and mean of the finite samples', () => {
    const s = summarize([3, 1, 2, NaN]);
    expect(s).toMatchObject({ n: 3, p50: 2, min: 1, max: 3, mean: 2 });
    expect(summarize([]).n).toBe(0);
  });

  it('ratios: NaN for a zero or missing denominator; paired ratio is the median of per-round ratios', () => {
    expect(ratio(6, 3)).toBe(2);
    expect(Number.isNaN(ratio(1, 0))).toBe(true);
    expect(Number.isNaN(ratio(NaN, 2))).toBe(true);
    // drift doubles both arms in round 2: the paired ratio stays 1.1, the ratio of medians would not cancel it
    expect(pairedRatio([11, 22, 11], [10, 20, 10])).toBeCloseTo(1.1, 10);
    expect(pairedRatio([1, 2], [1, 0, 5])).toBe(1);
    expect(overheadPct(105, 100)).toBeCloseTo(5, 10);
  });

  it('interleave rotates the arms, runs blocks, drops the first runs of each block and keeps CPU times', async () => {
    const order: string[] = [];
    let n = 0;
    const arm = (name: string, ms: number) => async () => { order.push(name); n++; return { ms: ms + n, cpuMs: ms }; };
    const r = await interleave({ a: arm('a', 100), b: arm('b', 200) }, { rounds: 2, block: 3, skip: 1, warmup: 1 });
    expect(order.join('')).toBe('ab' + 'aaabbb' + 'bbbaaa');
    expect(r.rounds).toBe(2);
    expect(r.samples.a).toHaveLength(4);
    expect(r.blocks.a).toHaveLength(2);
    expect(r.cpuSamples.b).toEqual([200, 200, 200, 200]);
    // block medians of the kept runs: round 1 a = runs 4,5 (n after warm-up 2) -> 100 + 4, 100 + 5
    expect(r.blocks.a![0]).toBe(104.5);
    await expect(interleave({}, { rounds: 1 })).rejects.toThrow(/at least one arm/);
    await expect(interleave({ a: async () => 1 }, { rounds: 1, block: 2, skip: 2 })).rejects.toThrow(RangeError);
  });

  it('interleave stops after maxMs once minRounds are done', async () => {
    const r = await interleave({ a: async () => { await new Promise((res) => setTimeout(res, 5)); return 1; } }, { rounds: 1000, maxMs: 1, minRounds: 3 });
    expect(r.rounds).toBe(3);
  });

  it('formats numbers and tables', () => {
    expect(fmt(NaN)).toBe('-');
    expect(fmt(1.234, 2)).toBe('1.23');
    const t = table(['name', 'ms'], [['a', '1.0'], ['long name', '10.0']]).split('\n');
    expect(t[0]).toBe('name         ms');
    expect(t[3]).toBe('long name  10.0');
  });
});

describe('mid-range budget', () => {
  it('sits inside the widest relative gap of the middle third', () => {
    const b = midRangeBudget([1, 2, 3, 4, 8, 9, 10, 11, 12]);
    expect(b).toBeGreaterThan(4);
    expect(b).toBeLessThan(8);
    expect(b).toBeCloseTo(Math.sqrt(32), 10);
  });
  it('needs two figures', () => {
    expect(() => midRangeBudget([NaN, 3])).toThrow(/at least two/);
  });
});

describe('cpu profile self times', () => {
  it('attributes each sample delta to its node and skips the start', () => {
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 } },
        { id: 2, callFrame: { functionName: 'hot', url: 'file:///proj/dist/a.js', lineNumber: 9, columnNumber: 0 } },
        { id: 3, callFrame: { functionName: '', url: 'file:///proj/dist/b.js', lineNumber: 0, columnNumber: 0 } },
      ],
      startTime: 0, endTime: 10_000,
      samples: [2, 2, 3, 2],
      timeDeltas: [1000, 3000, 2000, 4000],
    };
    const all = selfTimes(p, 0, '/proj');
    expect(all.total).toBe(10);
    expect(all.top[0]).toMatchObject({ fn: 'hot', where: 'dist/a.js:10', ms: 8 });
    expect(all.top[1]).toMatchObject({ fn: '(anonymous)', where: 'dist/b.js:1', ms: 2 });
    const late = selfTimes(p, 5, '/proj');
    expect(late.total).toBe(6);
    expect(late.top[0]!.share).toBeCloseTo(4 / 6, 10);
  });
});
