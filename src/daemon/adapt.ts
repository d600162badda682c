import { Adapter, type AdaptRung } from '../select/adapt.js';
import { compareFitting, memoryOf, resolveBudget } from '../select/policy.js';
import type { Config } from '../config/types.js';
import type { Budget } from '../select/types.js';
import type { Choice } from '../select/choose.js';
import { candidateId } from '../types/candidate.js';

/**
 * The live re-selection ladder: every measured candidate that ran and fits memory, largest first, with its
 * profiled latency at the budget's percentile. Unmeasured rungs cannot be predicted and are left out.
 */
export function adaptRungs(choice: Choice, budget: Budget): AdaptRung[] {
  const rb = resolveBudget(budget);
  const p = rb.percentile;
  const mem = rb.memoryMb ?? Infinity;
  const fitting = choice.candidates
    .map((c) => ({ c, m: c.measurements.filter((m) => m.ok && memoryOf(m) <= mem).sort((a, b) => a.latencyMs[p] - b.latencyMs[p])[0] }))
    .filter((x): x is { c: (typeof x)['c']; m: NonNullable<(typeof x)['m']> } => x.m !== undefined);
  fitting.sort((a, b) => compareFitting(a.c, a.m, b.c, b.m, rb));
  return fitting.map(({ c, m }) => ({ id: c.id, profiledMs: m.latencyMs[p] }));
}

export function makeAdapter(config: Config, choice: Choice, budget: Budget): Adapter | undefined {
  const ms = resolveBudget(budget).latencyMs;
  const rungs = adaptRungs(choice, budget);
  const current = candidateId(choice.variant.id, choice.provider);
  if (!config.adapt.enabled || ms === undefined || rungs.length < 2 || !rungs.some((r) => r.id === current)) return undefined;
  const pct = Number((budget.percentile ?? 'p90').slice(1));
  const fps = config.camera.fps > 0 ? config.camera.fps : 10;
  return new Adapter({
    ladder: rungs,
    current,
    budgetMs: ms,
    percentile: pct,
    windowSize: Math.max(10, Math.round(config.adapt.windowSeconds * fps)),
    sustainMs: config.adapt.windowSeconds * 1000,
    cooldownMs: config.adapt.cooldownSeconds * 1000,
    // the adapter needs headroom strictly inside (0, 1) so stepping up and down can never overlap
    headroom: Math.min(0.99, Math.max(0.01, 1 - config.adapt.hysteresis)),
    evalEveryMs: 100,
    clock: () => performance.now(),
  });
}
