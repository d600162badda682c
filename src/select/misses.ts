/**
 * Why nothing fits, in words that say what to change. A decision without a choice carries a reason per candidate;
 * grouped here by that reason, each group names the setting behind it, so "nothing fits" never advises relaxing a
 * limit every candidate already meets (or stays silent about the one that excluded them all).
 */
import type { Measurement } from '../profile/types.js';
import { fastestOk } from './policy.js';
import type { Candidate, Decision, Percentile, RejectReason, ResolvedBudget } from './types.js';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** In the order a user reads them: the refusal first, then the limits, then what could not be judged. */
const ORDER: readonly RejectReason[] = ['below-min-accuracy', 'too-big', 'too-slow', 'failed', 'not-measured'];

function cause(reason: RejectReason, count: string, rb: ResolvedBudget): string | undefined {
  switch (reason) {
    case 'below-min-accuracy':
      return `${count} below budget.minAccuracy${rb.minAccuracy !== undefined ? ` ${pct(rb.minAccuracy)}` : ''} (or with no accuracy figure, or one in doubt): lower budget.minAccuracy, or \`edgefit models pull\` for real weights with a published accuracy`;
    case 'too-big':
      // without a memory budget now, a too-big verdict is a measurement the profiler's memory stop ended (made
      // under an earlier budget, or the board ran out): measuring again is part of the fix
      return rb.memoryMb !== undefined
        ? `${count} over the memory budget of ${rb.memoryMb.toFixed(0)} MB: raise budget.memoryMb (or budget.memoryFraction when budget.memoryMb is 0)`
        : `${count} ran out of memory when measured: raise budget.memoryMb (or budget.memoryFraction) or free memory on the board, and measure again`;
    case 'too-slow':
      return `${count} too slow for ${rb.percentile} <= ${rb.latencyMs !== undefined ? `${rb.latencyMs.toFixed(1)} ms` : 'the latency budget'}: relax budget.latencyMs / budget.fps`;
    case 'failed':
      return `${count} failed to run: see \`edgefit doctor\``;
    case 'not-measured':
      return `${count} not measured on this board: run \`edgefit profile\``;
    // 'dominated' means something else fits: never a cause of nothing fitting
    case 'dominated':
      return undefined;
  }
}

/**
 * "4 of 6 below budget.minAccuracy 90.0% (...): lower budget.minAccuracy, or `edgefit models pull` ...; 2 of 6
 * too slow for p90 <= 33.0 ms: relax budget.latencyMs / budget.fps": every reason the decision's candidates
 * missed for, counted, each with the setting to change.
 */
export function missCauses(d: Decision): string {
  const counts = new Map<RejectReason, number>();
  for (const r of d.rejected) counts.set(r.reason, (counts.get(r.reason) ?? 0) + 1);
  const parts = ORDER.filter((r) => counts.has(r)).map((r) => cause(r, `${counts.get(r)!} of ${d.ladder}`, d.budget)).filter((s): s is string => s !== undefined);
  return parts.length > 0 ? parts.join('; ') : 'no candidate to judge';
}

/**
 * What runs when nothing fits, among the measured candidates: the fastest at the budget's percentile, from the first
 * of these groups that has one: meets budget.minAccuracy and the memory budget (too slow only); within the memory
 * budget; meets budget.minAccuracy; any. Memory comes first: a model over it risks the board killing the daemon
 * (and restarting it into the same choice), one below the minimum only gives worse results, said loudly. Undefined
 * when no candidate has an ok measurement (the caller measures the smallest).
 */
export function fastestFallback(candidates: Candidate[], d: Decision): { candidate: Candidate; measurement: Measurement } | undefined {
  const p = d.budget.percentile;
  const ids = (reason: RejectReason) => new Set(d.rejected.filter((r) => r.reason === reason).map((r) => r.id));
  const refused = ids('below-min-accuracy'), tooBig = ids('too-big');
  const groups: Array<(id: string) => boolean> = [
    (id) => !refused.has(id) && !tooBig.has(id),
    (id) => !tooBig.has(id),
    (id) => !refused.has(id),
    () => true,
  ];
  for (const inGroup of groups) {
    let best: { candidate: Candidate; measurement: Measurement } | undefined;
    for (const c of candidates) {
      if (!inGroup(c.id)) continue;
      const m = fastestOk(c, p);
      if (m && (!best || m.latencyMs[p] < best.measurement.latencyMs[p])) best = { candidate: c, measurement: m };
    }
    if (best) return best;
  }
  return undefined;
}

/** What runs when nothing fits: which fallback, and its figure at the budget's percentile. */
export interface Fallback {
  /** candidate id (`variant@provider`) */
  id: string;
  /** how it was picked: 'smallest' (least MACs, measured for the purpose) or 'fastest measured' */
  kind: 'smallest' | 'fastest measured';
  percentile: Percentile;
  latencyMs: number;
}

/** Whether the decision refused this candidate for budget.minAccuracy. */
export function belowMinAccuracy(d: Decision, id: string): boolean {
  return d.rejected.some((r) => r.id === id && r.reason === 'below-min-accuracy');
}

/**
 * The reason of a choice made when nothing fits: every cause with its setting, what runs instead, and, when that
 * model is itself below budget.minAccuracy, that it is one the budget refuses (running it is a fallback so the
 * camera still gets results, never a silent override of the user's minimum).
 */
export function fallbackReason(d: Decision, f: Fallback): string {
  const own = d.rejected.find((r) => r.id === f.id);
  const refused = own?.reason === 'below-min-accuracy'
    ? `; IT IS BELOW budget.minAccuracy (${own.detail}): its results come from a model the budget refuses until budget.minAccuracy is lowered or a model that meets it is pulled`
    : '';
  return `NOTHING FITS THE BUDGET: ${missCauses(d)}; running the ${f.kind} variant ${f.id} instead (${f.percentile} ${f.latencyMs.toFixed(1)} ms)${refused}`;
}
