import type { BudgetConfig } from './types.js';

/** The latency budget in ms: `latencyMs`, or 1000 / `fps` when it is 0 (validation guarantees one is > 0). */
export function budgetLatencyMs(b: BudgetConfig): number {
  return b.latencyMs > 0 ? b.latencyMs : 1000 / b.fps;
}
