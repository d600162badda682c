import type { ResultsMode } from '../config/types.js';
import type { Detection } from '../types/detection.js';
import type { TopKEntry } from './topk.js';

/** What the filter looks at: a classifier's `top`, or a detector's detections and counts. */
export interface FilterInput {
  top: readonly TopKEntry[];
  detections?: readonly Detection[];
  counts?: Readonly<Record<string, number>>;
}

/**
 * Which results are published: every frame; on a change (classification: of the top-1 class; detection: of
 * the set of labels seen or of a count, never of a score or a box alone, so a person standing still is one
 * message); or when the best score (top-1, or the best detection) reaches a threshold; optionally at most
 * `maxRatePerSecond` (0 = unlimited). Pure; allocates only when a detector's result is accepted.
 */
export class ResultFilter {
  private lastLabel: number | undefined;
  /** the counts last published (detection); undefined before the first */
  private lastCounts: Record<string, number> | undefined;
  private lastAt = -Infinity;

  constructor(private readonly mode: ResultsMode, private readonly threshold: number, private readonly maxRatePerSecond: number) {}

  accept(r: FilterInput, now: number): boolean {
    const detector = r.counts !== undefined;
    const first = r.top[0];
    let ok: boolean;
    switch (this.mode) {
      case 'every': ok = true; break;
      case 'change': ok = detector ? !sameCounts(this.lastCounts, r.counts!) : first?.index !== this.lastLabel; break;
      case 'threshold': ok = detector ? bestScore(r.detections) >= this.threshold : first !== undefined && first.score >= this.threshold; break;
    }
    if (ok && this.maxRatePerSecond > 0 && now - this.lastAt < 1000 / this.maxRatePerSecond) ok = false;
    if (ok) {
      this.lastAt = now;
      this.lastLabel = first?.index;
      if (detector) this.lastCounts = { ...r.counts };
    }
    return ok;
  }
}

function sameCounts(a: Readonly<Record<string, number>> | undefined, b: Readonly<Record<string, number>>): boolean {
  if (a === undefined) return false;
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const _ in a) n--;
  return n === 0;
}

function bestScore(d: readonly Detection[] | undefined): number {
  let best = -Infinity;
  if (d) for (const x of d) if (x.score > best) best = x.score;
  return best;
}
