import type { ProviderName } from '../engine/engine.js';

/** What the profiler measured for one (variant, provider, threads) on one board. */
export interface Measurement {
  variantId: string;
  provider: ProviderName;
  threads: number;
  ok: boolean;
  /** why it failed (crash, out of memory, load error) when ok is false */
  error?: string;
  runs: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; stddev: number; min: number; max: number };
  sessionCreateMs: number;
  /** RSS growth after loading the session (MB) */
  rssGrowthMb: number;
  /** peak resident set (VmHWM) during runs, minus the child's baseline (MB) */
  peakMb: number;
  measuredAt: string;
}
