/**
 * Statistics for the benchmark suite. The machine is shared, so absolute figures drift: every comparison is
 * measured in one run, interleaved (A B A B ...), and reported as medians plus the ratio of the medians.
 */

/** Linear-interpolated percentile (p in 0..100) of the samples; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be in 0..100, got ${p}`);
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

/**
 * Mean of the finite samples between the 10th and 90th percentile by rank: robust to a preempted run like the
 * median, finer than it when the samples are whole numbers (onnxruntime's profiler reports whole microseconds).
 */
export function trimmedMean(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const cut = Math.floor(s.length / 10);
  const kept = s.slice(cut, s.length - cut);
  return kept.length === 0 ? Number.NaN : kept.reduce((a, b) => a + b, 0) / kept.length;
}

export function summarize(xs: readonly number[]): Summary {
  const f = xs.filter((x) => Number.isFinite(x));
  return {
    n: f.length,
    p50: percentile(f, 50),
    p90: percentile(f, 90),
    p99: percentile(f, 99),
    min: f.length ? Math.min(...f) : Number.NaN,
    max: f.length ? Math.max(...f) : Number.NaN,
    mean: f.length ? f.reduce((a, b) => a + b, 0) / f.length : Number.NaN,
  };
}

/** a / b, NaN when either is not a positive finite number. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : Number.NaN;
}

/**
 * Ratio of paired samples: for each round i, a[i] / b[i] (both measured back to back), then the median. Pairing
 * cancels the drift between rounds that a ratio of two medians still carries.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  const rs: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = ratio(a[i]!, b[i]!);
    if (Number.isFinite(r)) rs.push(r);
  }
  return median(rs);
}

/** Overhead of `a` over `b` in percent, (a / b - 1) * 100. */
export function overheadPct(a: number, b: number): number {
  return (ratio(a, b) - 1) * 100;
}

export interface InterleaveOptions {
  /** rounds: each round runs every arm once (one block), in an order that rotates so no arm always goes first */
  rounds: number;
  /** runs of the same arm back to back per round; default 1 */
  block?: number;
  /**
   * runs discarded at the start of each block (default 0): the first run after switching arms pays for the
   * previous arm's idle-spinning thread pool and cold caches
   */
  skip?: number;
  /** untimed runs of each arm before timing */
  warmup?: number;
  /** stop early once this much wall time has passed (ms), after at least minRounds */
  maxMs?: number;
  minRounds?: number;
}

export interface Interleaved {
  /** every kept sample per arm */
  samples: Record<string, number[]>;
  /** per arm, the median of each round's block: index i = round i, for paired ratios */
  blocks: Record<string, number[]>;
  /** the same for the CPU times of arms that report one */
  cpuSamples: Record<string, number[]>;
  cpuBlocks: Record<string, number[]>;
  rounds: number;
}

/** What an arm returns: its wall time in ms, or wall and CPU time. */
export type ArmResult = number | { ms: number; cpuMs: number };

/**
 * Runs the arms interleaved; each arm returns its own timing in ms (so it can time exactly what it means, e.g.
 * the runtime call without the bench's own bookkeeping).
 */
export async function interleave(arms: Record<string, () => Promise<ArmResult>>, o: InterleaveOptions): Promise<Interleaved> {
  const names = Object.keys(arms);
  if (names.length === 0) throw new Error('interleave needs at least one arm');
  if (!(Number.isInteger(o.rounds) && o.rounds > 0)) throw new RangeError(`rounds must be a positive integer, got ${o.rounds}`);
  const block = o.block ?? 1;
  const skip = o.skip ?? 0;
  if (!(Number.isInteger(block) && block > 0 && Number.isInteger(skip) && skip >= 0 && skip < block)) {
    throw new RangeError(`block must be a positive integer and skip in 0..block-1 (block ${block}, skip ${skip})`);
  }
  for (let w = 0; w < (o.warmup ?? 0); w++) for (const n of names) await arms[n]!();
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const blocks: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, [] as number[]]));
  const cpuSamples: Record<string, number[]> = {};
  const cpuBlocks: Record<string, number[]> = {};
  const t0 = performance.now();
  let rounds = 0;
  for (let r = 0; r < o.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length]!;
      const kept: number[] = [];
      const keptCpu: number[] = [];
      for (let b = 0; b < block; b++) {
        const t = await arms[n]!();
        if (b < skip) continue;
        if (typeof t === 'number') kept.push(t);
        else {
          kept.push(t.ms);
          keptCpu.push(t.cpuMs);
        }
      }
      samples[n]!.push(...kept);
      blocks[n]!.push(median(kept));
      if (keptCpu.length) {
        (cpuSamples[n] ??= []).push(...keptCpu);
        (cpuBlocks[n] ??= []).push(median(keptCpu));
      }
    }
    rounds++;
    if (o.maxMs !== undefined && rounds >= (o.minRounds ?? 1) && performance.now() - t0 > o.maxMs) break;
  }
  return { samples, blocks, cpuSamples, cpuBlocks, rounds };
}

/** Formats a number for the table: NaN as '-', otherwise fixed digits. */
export function fmt(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** The span of the finite values as 'lo-hi' plus a unit, e.g. '0.50-0.89x'. */
export function fmtRange(xs: readonly number[], digits = 1, unit = ''): string {
  const v = xs.filter(Number.isFinite);
  return v.length === 0 ? '-' : `${fmt(Math.min(...v), digits)}-${fmt(Math.max(...v), digits)}${unit}`;
}

/** Plain-text table with right-aligned columns after the first. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
