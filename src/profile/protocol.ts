import type { ProviderName } from '../engine/engine.js';
import type { LatencyStats } from './stats.js';

/**
 * Messages between the profiler and its child process. The child is a separate process so that a native crash,
 * a runaway allocation or a hang in onnxruntime kills the child, never the daemon.
 */

/** Faults the child can be told to inject, so the failure paths are tested against a real process. */
export type ChildFault = 'abort' | 'leak' | 'hang';

export interface ChildJob {
  type: 'job';
  modelPath: string;
  provider: ProviderName;
  threads: number;
  /** fills symbolic H/W dims of the input */
  resolution: number;
  layout: 'NHWC' | 'NCHW';
  warmupRuns: number;
  warmupMs: number;
  minRuns: number;
  minMs: number;
  maxRuns: number;
  fault?: ChildFault;
}

export type ChildPhase = 'start' | 'load' | 'warmup' | 'runs';

export type ChildMessage =
  | { type: 'baseline'; rssKb: number }
  | { type: 'phase'; phase: ChildPhase }
  | { type: 'progress'; phase: 'warmup' | 'runs'; runs: number; elapsedMs: number }
  | {
      type: 'result';
      runs: number;
      latencyMs: LatencyStats;
      sessionCreateMs: number;
      rssGrowthKb: number;
      peakKb: number;
    }
  | { type: 'error'; phase: ChildPhase; message: string };
