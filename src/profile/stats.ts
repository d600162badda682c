import type { Measurement } from './types.js';

export type LatencyStats = Measurement['latencyMs'];

/**
 * Nearest-rank percentile of an ascending-sorted array (the value below which `p` of the samples fall; the same
 * definition TFLite's benchmark tool and MLPerf use, so a p90 never interpolates to a value no run took).
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.min(n - 1, Math.max(0, rank - 1))]!;
}

/** p50/p90/p99, mean, sample standard deviation, min and max of latencies (ms). */
export function summarize(samples: ArrayLike<number>): LatencyStats {
  const n = samples.length;
  if (n === 0) return emptyStats();
  const sorted = Float64Array.from(samples as ArrayLike<number>).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (sorted[i]! - mean) ** 2;
  return {
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    mean,
    stddev: n > 1 ? Math.sqrt(sq / (n - 1)) : 0,
    min: sorted[0]!,
    max: sorted[n - 1]!,
  };
}

/** The figures of a measurement that never ran: NaN, so no comparison against a budget can pass by accident. */
export function emptyStats(): LatencyStats {
  return { p50: NaN, p90: NaN, p99: NaN, mean: NaN, stddev: NaN, min: NaN, max: NaN };
}
