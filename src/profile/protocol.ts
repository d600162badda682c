import type { ProviderName } from '../engine/engine.js';
import type { LatencyStats } from './stats.js';
import type { OrtRuntime } from './runtime.js';

/**
 * The profiler's child process (run by runIsolated): a job on stdin, a ChildAnswer on stdout, ChildMessages (the
 * baseline, phases, progress) on the IPC channel while it works. The child is a separate process so that a native crash,
 * a runaway allocation or a hang in onnxruntime kills the child, never the daemon.
 */

/** Faults the child can be told to inject, so the failure paths are tested against a real process. */
export type ChildFault = 'abort' | 'leak' | 'hang';

export interface ChildJob {
  type: 'job';
  modelPath: string;
  provider: ProviderName;
  /** the onnxruntime library and TensorRT options the engine will run the model with (the TensorFlow.js providers ignore it) */
  runtime: OrtRuntime;
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

/**
 * Top-1 agreement of a rung (the model run at `resolution`) with the same file run at `nativeResolution`, on
 * probe image files: a separate job, so the latency and memory figures never include a second input size.
 */
export interface AgreementJob {
  type: 'agreement';
  modelPath: string;
  provider: ProviderName;
  /** as ChildJob's */
  runtime: OrtRuntime;
  threads: number;
  resolution: number;
  nativeResolution: number;
  /** image files (JPEG, PNG, BMP) */
  frames: string[];
}

export type ChildPhase = 'start' | 'load' | 'warmup' | 'runs';

export type ChildMessage =
  | { type: 'baseline'; rssKb: number }
  | { type: 'phase'; phase: ChildPhase }
  | { type: 'progress'; phase: 'warmup' | 'runs'; runs: number; elapsedMs: number };

export type ChildAnswer =
  | {
      type: 'result';
      runs: number;
      latencyMs: LatencyStats;
      sessionCreateMs: number;
      rssGrowthKb: number;
      peakKb: number;
    }
  | { type: 'error'; phase: ChildPhase; message: string }
  /** frames compared, and skipped (smaller than the native input: they cannot stand for what it sees) */
  | { type: 'agreement'; frames: number; agreeing: number; skipped: number };
