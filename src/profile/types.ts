import type { ProviderName } from '../types/provider.js';

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
  /**
   * Set on a figure another device of the same board fingerprint measured and shared (the fleet's retained
   * measurements): the id of that device. Never stored in the profile cache, which holds this device's own.
   */
  fromFleet?: string;
}

/**
 * How often a rung that runs a model below its native resolution gives the same top-1 class as the same weights
 * at their native resolution, on probe frames (calibration photos, or the camera's own frames). Measured on the
 * board, once per (model, resolution, runtime, provider, probe set).
 */
export interface Agreement {
  ok: boolean;
  /** why it could not be measured, when ok is false */
  error?: string;
  /** the resolution compared against */
  nativeResolution: number;
  /** probe frames used */
  frames: number;
  /** frames whose top-1 class was the same at both resolutions */
  agreeing: number;
  /** where the frames came from (a directory) */
  probe: string;
  /** sha256 over the probe frames' names and bytes: other frames, another measurement */
  probeSet: string;
  measuredAt: string;
}

/** What measuring one candidate yields: a measurement per thread count and, where measured, its agreement. */
export interface Measured {
  measurements: Measurement[];
  agreement?: Agreement;
}
