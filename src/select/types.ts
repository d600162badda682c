import type { Variant } from '../types/model.js';
import type { ProviderName } from '../types/provider.js';
import type { Percentile } from '../types/latency.js';
import type { CandidateSpec } from '../types/candidate.js';
import type { Agreement, Measurement } from '../profile/types.js';

export type { Percentile } from '../types/latency.js';
export type { CandidateSpec } from '../types/candidate.js';
export type { Measured } from '../profile/types.js';

export interface Candidate extends CandidateSpec {
  /** `${variant.id}@${provider}` */
  id: string;
  /** one per thread count measured; empty when not measured */
  measurements: Measurement[];
  /** top-1 agreement with the native-resolution model on probe frames (reduced-resolution rungs, when measured) */
  agreement?: Agreement;
}

/** What measuring a candidate gives: a measurement per thread count, and its agreement when one was measured. */
export interface Budget {
  /** latency budget (ms) at `percentile`: budget.latencyMs of the configuration and of the budget command */
  latencyMs?: number;
  /** frames per second; becomes a latency budget of 1000/fps ms (the smaller budget wins when both are set) */
  fps?: number;
  /** which latency percentile must fit; default p90 as MLPerf Mobile reports. Never the mean. */
  percentile?: Percentile;
  /** memory the model may add (MB), compared with the measured peak over the runtime's baseline */
  memoryMb?: number;
  /** fraction (0..1] of availableMb the model may add */
  memoryFraction?: number;
  /** available memory (MB) on the board, required by memoryFraction */
  availableMb?: number;
  /**
   * minimum accuracy (0..1), published or estimated; candidates with unknown accuracy cannot prove it and are
   * rejected, and so are demoted ones (their estimate is in doubt)
   */
  minAccuracy?: number;
  /**
   * a reduced-resolution rung whose measured top-1 agreement with its native model is below this (0..1) is
   * demoted: it ranks below every rung whose accuracy stands. 0 or absent: never demoted.
   */
  minAgreement?: number;
}

/** A budget after validation, with fps and fractions folded in. */
export interface ResolvedBudget {
  latencyMs?: number;
  percentile: Percentile;
  memoryMb?: number;
  minAccuracy?: number;
  /** 0 = no demotion */
  minAgreement: number;
}

export type RejectReason = 'too-slow' | 'too-big' | 'below-min-accuracy' | 'failed' | 'dominated' | 'not-measured';

export interface Rejection {
  id: string;
  reason: RejectReason;
  /** e.g. "too slow by 12.3 ms (p90 45.3 > 33.0)", "too big by 40 MB", "dominated by X (same accuracy, faster)" */
  detail: string;
}

export interface Decision {
  chosen: Candidate | null;
  /** the chosen candidate's measurement that decided (the fastest fitting thread count) */
  chosenMeasurement: Measurement | null;
  rejected: Rejection[];
  /** candidates measured (a search measures fewer than the ladder holds) */
  measured: number;
  /** candidates considered */
  ladder: number;
  budget: ResolvedBudget;
}
