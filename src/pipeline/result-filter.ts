import type { ResultsMode } from '../config/types.js';
import type { TopKEntry } from './topk.js';

/**
 * Which results are published: every frame, only when the top-1 label changes, or only when the top-1 score
 * reaches a threshold; optionally at most `maxRatePerSecond` (0 = unlimited). Pure and allocation-free.
 */
export class ResultFilter {
  private lastLabel: number | undefined;
  private lastAt = -Infinity;

  constructor(private readonly mode: ResultsMode, private readonly threshold: number, private readonly maxRatePerSecond: number) {}

  accept(top: readonly TopKEntry[], now: number): boolean {
    const first = top[0];
    let ok: boolean;
    switch (this.mode) {
      case 'every': ok = true; break;
      case 'change': ok = first?.index !== this.lastLabel; break;
      case 'threshold': ok = first !== undefined && first.score >= this.threshold; break;
    }
    if (ok && this.maxRatePerSecond > 0 && now - this.lastAt < 1000 / this.maxRatePerSecond) ok = false;
    if (ok) {
      this.lastAt = now;
      this.lastLabel = first?.index;
    }
    return ok;
  }
}
