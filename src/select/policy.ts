import type { ProviderName } from '../engine/engine.js';
import type { Variant } from '../catalog/types.js';
import { failureKind } from '../profile/failure.js';
import type { Measurement } from '../profile/types.js';
import { EdgefitError } from '../util/errors.js';
import { candidateId } from '../types/candidate.js';
import type { Budget, Candidate, Decision, Percentile, Rejection, ResolvedBudget } from './types.js';
import { accuracyOf, demotion, formatAccuracy } from './accuracy.js';

const PERCENTILES: readonly Percentile[] = ['p50', 'p90', 'p99'];

export { candidateId };

export function makeCandidate(variant: Variant, provider: ProviderName, measurements: Measurement[] = []): Candidate {
  return { id: candidateId(variant.id, provider), variant, provider, measurements };
}

function checkPositive(name: string, v: number | undefined): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
    throw new EdgefitError('E_BUDGET', `budget ${name} must be a number > 0 (got ${v})`);
  }
}

/** Validates a budget and folds fps and memoryFraction into one latency and one memory limit. */
export function resolveBudget(b: Budget): ResolvedBudget {
  if (!b || typeof b !== 'object') throw new EdgefitError('E_BUDGET', 'budget must be an object');
  checkPositive('latencyMs', b.latencyMs);
  checkPositive('fps', b.fps);
  checkPositive('memoryMb', b.memoryMb);
  checkPositive('availableMb', b.availableMb);
  if (b.memoryFraction !== undefined && !(typeof b.memoryFraction === 'number' && b.memoryFraction > 0 && b.memoryFraction <= 1)) {
    throw new EdgefitError('E_BUDGET', `budget memoryFraction must be in (0, 1] (got ${b.memoryFraction})`);
  }
  if (b.memoryFraction !== undefined && b.availableMb === undefined) {
    throw new EdgefitError('E_BUDGET', 'budget memoryFraction needs availableMb (the board\'s available memory) to mean anything');
  }
  if (b.minAccuracy !== undefined && !(typeof b.minAccuracy === 'number' && b.minAccuracy >= 0 && b.minAccuracy <= 1)) {
    throw new EdgefitError('E_BUDGET', `budget minAccuracy is a fraction in [0, 1], e.g. 0.6 for 60% top-1 (got ${b.minAccuracy})`);
  }
  if (b.minAgreement !== undefined && !(typeof b.minAgreement === 'number' && b.minAgreement >= 0 && b.minAgreement <= 1)) {
    throw new EdgefitError('E_BUDGET', `budget minAgreement is a fraction in [0, 1], e.g. 0.5 for half the probe frames (got ${b.minAgreement})`);
  }
  const percentile = b.percentile ?? 'p90';
  if (!PERCENTILES.includes(percentile)) {
    throw new EdgefitError('E_BUDGET', `budget percentile must be one of ${PERCENTILES.join(', ')} (got ${String(percentile)})`);
  }
  const lat = [b.latencyMs, b.fps !== undefined ? 1000 / b.fps : undefined].filter((x): x is number => x !== undefined);
  const mem = [b.memoryMb, b.memoryFraction !== undefined ? b.memoryFraction * b.availableMb! : undefined].filter((x): x is number => x !== undefined);
  const r: ResolvedBudget = { percentile, minAgreement: b.minAgreement ?? 0 };
  if (lat.length) r.latencyMs = Math.min(...lat);
  if (mem.length) r.memoryMb = Math.min(...mem);
  if (b.minAccuracy !== undefined) r.minAccuracy = b.minAccuracy;
  return r;
}

/** Memory a measurement says the model needs: the larger of RSS growth after load and peak during runs. */
export function memoryOf(m: Measurement): number {
  return Math.max(m.peakMb, m.rssGrowthMb);
}

const f1 = (x: number) => x.toFixed(1);
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export type Verdict =
  | { fits: true; measurement: Measurement }
  | { fits: false; reason: Rejection['reason']; detail: string; measurement?: Measurement };

/** Whether a candidate's accuracy satisfies the budget, decidable before measuring. */
export function accuracyVerdict(c: Candidate, rb: ResolvedBudget): Verdict | undefined {
  if (rb.minAccuracy === undefined) return undefined;
  const acc = accuracyOf(c.variant);
  if (acc === undefined) {
    return { fits: false, reason: 'below-min-accuracy', detail: `accuracy unknown; a minimum accuracy of ${pct(rb.minAccuracy)} needs a published or estimated accuracy` };
  }
  if (acc.value < rb.minAccuracy) {
    return { fits: false, reason: 'below-min-accuracy', detail: `below the minimum by ${((rb.minAccuracy - acc.value) * 100).toFixed(1)} points (${formatAccuracy(acc)} < ${pct(rb.minAccuracy)})` };
  }
  return undefined;
}

/** The fastest ok measurement at the budget's percentile (any memory), or undefined when none is ok. */
export function fastestOk(c: Candidate, p: Percentile): Measurement | undefined {
  let best: Measurement | undefined;
  for (const m of c.measurements) {
    if (!m.ok || !Number.isFinite(m.latencyMs[p])) continue;
    if (!best || m.latencyMs[p] < best.latencyMs[p] || (m.latencyMs[p] === best.latencyMs[p] && m.threads < best.threads)) best = m;
  }
  return best;
}

/** Judges one candidate against the budget; order: accuracy, measured, failed, memory, latency, demotion. */
export function evaluate(c: Candidate, rb: ResolvedBudget): Verdict {
  const acc = accuracyVerdict(c, rb);
  if (acc) return acc;
  if (c.measurements.length === 0) return { fits: false, reason: 'not-measured', detail: 'no measurement on this board; run `edgefit profile`' };
  const p = rb.percentile;
  const ok = c.measurements.filter((m) => m.ok && Number.isFinite(m.latencyMs[p]));
  if (ok.length === 0) {
    const oom = c.measurements.find((m) => failureKind(m) === 'out-of-memory');
    if (oom) return { fits: false, reason: 'too-big', detail: oom.error ?? 'out of memory', measurement: oom };
    const first = c.measurements[0]!;
    return { fits: false, reason: 'failed', detail: first.error ?? 'measurement failed', measurement: first };
  }
  const inMemory = rb.memoryMb === undefined ? ok : ok.filter((m) => memoryOf(m) <= rb.memoryMb!);
  if (inMemory.length === 0) {
    const smallest = ok.reduce((a, b) => (memoryOf(b) < memoryOf(a) ? b : a));
    const need = memoryOf(smallest);
    return {
      fits: false,
      reason: 'too-big',
      detail: `too big by ${f1(need - rb.memoryMb!)} MB (peak ${f1(need)} > ${f1(rb.memoryMb!)} MB)`,
      measurement: smallest,
    };
  }
  const m = fastestOk({ ...c, measurements: inMemory }, p)!;
  if (rb.latencyMs !== undefined && m.latencyMs[p] > rb.latencyMs) {
    return {
      fits: false,
      reason: 'too-slow',
      detail: `too slow by ${f1(m.latencyMs[p] - rb.latencyMs)} ms (${p} ${f1(m.latencyMs[p])} > ${f1(rb.latencyMs)})`,
      measurement: m,
    };
  }
  const demoted = rb.minAccuracy !== undefined ? demotion(c, rb.minAgreement) : undefined;
  if (demoted) return { fits: false, reason: 'below-min-accuracy', detail: `${demoted}: its accuracy figure cannot vouch for the minimum`, measurement: m };
  return { fits: true, measurement: m };
}

/**
 * Compares candidates before measuring: a known accuracy (published, else estimated) ranks above an unknown one
 * (a model nobody validated is not "larger"), then higher accuracy, or for unknown accuracy more MACs. 0 means a
 * tie that measurements break.
 */
export function compareStatic(a: Candidate, b: Candidate): number {
  const ka = accuracyOf(a.variant)?.value, kb = accuracyOf(b.variant)?.value;
  if ((ka === undefined) !== (kb === undefined)) return ka === undefined ? 1 : -1;
  if (ka !== undefined && kb !== undefined && ka !== kb) return kb - ka;
  if (ka === undefined && a.variant.macs !== b.variant.macs) return b.variant.macs - a.variant.macs;
  return 0;
}

/** 0: accuracy known and believed; 1: known but demoted by its measured agreement; 2: unknown. */
function tier(c: Candidate, minAgreement: number): number {
  if (!accuracyOf(c.variant)) return 2;
  return demotion(c, minAgreement) ? 1 : 0;
}

/**
 * compareStatic once agreement is measured: a demoted rung ranks below every rung whose accuracy stands (and above
 * the unknown ones); inside a tier the static order holds. Demotion only ever lowers a rung.
 */
export function compareRanked(a: Candidate, b: Candidate, minAgreement: number): number {
  return tier(a, minAgreement) - tier(b, minAgreement) || compareStatic(a, b);
}

/** Full ranking of fitting candidates: accuracy (demotion-aware), then faster at the percentile, then less memory, then id. */
export function compareFitting(a: Candidate, ma: Measurement, b: Candidate, mb: Measurement, rb: Pick<ResolvedBudget, 'percentile' | 'minAgreement'>): number {
  const p = rb.percentile;
  return compareRanked(a, b, rb.minAgreement) || ma.latencyMs[p] - mb.latencyMs[p] || memoryOf(ma) - memoryOf(mb) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** One file at one resolution in both precisions: an int8 rung and its dequantized fp32 twin. */
export function areTwins(a: Variant, b: Variant): boolean {
  const base = (s: string) => s.replace(/:dequantized$/, '');
  return a.precision !== b.precision && a.resolution === b.resolution && a.source !== b.source && base(a.source) === base(b.source);
}

function dominatedDetail(loser: Candidate, lm: Measurement, winner: Candidate, wm: Measurement, rb: ResolvedBudget): string {
  const p = rb.percentile;
  const la = accuracyOf(loser.variant), wa = accuracyOf(winner.variant);
  if (compareRanked(loser, winner, rb.minAgreement) === 0 && areTwins(loser.variant, winner.variant)) {
    // the selector keeps both precisions of a file: on a tie the measurement decides, and the reason says which
    const twin = `its ${winner.variant.precision} twin ${winner.id} ties on accuracy`;
    if (lm.latencyMs[p] === wm.latencyMs[p]) return `dominated by ${winner.id} (${twin} and speed, and needs less memory: ${f1(memoryOf(wm))} vs ${f1(memoryOf(lm))} MB)`;
    return `dominated by ${winner.id} (${twin} and has the lower measured ${p}: ${f1(wm.latencyMs[p])} vs ${f1(lm.latencyMs[p])} ms)`;
  }
  if (compareRanked(loser, winner, rb.minAgreement) === 0) {
    const what = la !== undefined ? 'same accuracy' : 'same MACs';
    if (lm.latencyMs[p] === wm.latencyMs[p]) return `dominated by ${winner.id} (${what} and speed, less memory: ${f1(memoryOf(wm))} vs ${f1(memoryOf(lm))} MB)`;
    return `dominated by ${winner.id} (${what}, faster: ${p} ${f1(wm.latencyMs[p])} vs ${f1(lm.latencyMs[p])} ms)`;
  }
  const demoted = demotion(loser, rb.minAgreement);
  if (demoted && wa !== undefined && !demotion(winner, rb.minAgreement)) return `dominated by ${winner.id} (${formatAccuracy(wa)}, also fits; this rung is ${demoted})`;
  if (wa !== undefined && la !== undefined) return `dominated by ${winner.id} (more accurate: ${formatAccuracy(wa)} vs ${formatAccuracy(la)}, also fits)`;
  if (wa !== undefined) return `dominated by ${winner.id} (known accuracy ${formatAccuracy(wa)}, also fits)`;
  return `dominated by ${winner.id} (more MACs: ${(winner.variant.macs / 1e6).toFixed(1)}M vs ${(loser.variant.macs / 1e6).toFixed(1)}M, also fits)`;
}

/**
 * Picks the most accurate candidate that fits the budget (published or estimated accuracy, demotion-aware; ties
 * broken by measured speed, then memory). Pure: decides from the measurements the candidates carry, measures
 * nothing. Every candidate not chosen gets a reason.
 */
export function select(candidates: Candidate[], budget: Budget): Decision {
  const rb = resolveBudget(budget);
  const ids = new Set<string>();
  for (const c of candidates) {
    if (ids.has(c.id)) throw new EdgefitError('E_SELECT_DUPLICATE', `candidate ${c.id} appears twice; give each variant/provider once`);
    ids.add(c.id);
  }
  const fitting: Array<{ c: Candidate; m: Measurement }> = [];
  const rejected: Rejection[] = [];
  for (const c of candidates) {
    const v = evaluate(c, rb);
    if (v.fits) fitting.push({ c, m: v.measurement });
    else rejected.push({ id: c.id, reason: v.reason, detail: v.detail });
  }
  fitting.sort((x, y) => compareFitting(x.c, x.m, y.c, y.m, rb));
  const win = fitting[0];
  for (const f of fitting.slice(1)) {
    rejected.push({ id: f.c.id, reason: 'dominated', detail: dominatedDetail(f.c, f.m, win!.c, win!.m, rb) });
  }
  const order = new Map(candidates.map((c, i) => [c.id, i]));
  rejected.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
  return {
    chosen: win?.c ?? null,
    chosenMeasurement: win?.m ?? null,
    rejected,
    measured: candidates.filter((c) => c.measurements.length > 0).length,
    ladder: candidates.length,
    budget: rb,
  };
}
