import type { Measurement } from '../profile/types.js';
import { EdgefitError } from '../util/errors.js';
import { accuracyVerdict, compareStatic, evaluate, fastestOk, makeCandidate, resolveBudget, select } from './policy.js';
import { demotion } from './accuracy.js';
import type { Budget, Candidate, CandidateSpec, Decision, Measured, ResolvedBudget } from './types.js';

export type Measure = (c: CandidateSpec) => Promise<Measurement | Measurement[] | Measured>;

/** A decision and every candidate of the ladder with what was measured for it (nothing, where the search pruned it). */
export interface Selection {
  decision: Decision;
  candidates: Candidate[];
}

/** A candidate carrying what a Measure gave for it. */
export function measuredCandidate(s: CandidateSpec, r: Measurement | Measurement[] | Measured): Candidate {
  if (Array.isArray(r)) return makeCandidate(s.variant, s.provider, r);
  if ('measurements' in r) return { ...makeCandidate(s.variant, s.provider, r.measurements), ...(r.agreement ? { agreement: r.agreement } : {}) };
  return makeCandidate(s.variant, s.provider, [r]);
}

export interface SearchOptions {
  /**
   * Candidates whose latency grows with MACs share a chain; default family + precision + provider + import format. A miss in a
   * chain prunes every sibling with more MACs.
   */
  chainKey?: (c: CandidateSpec) => string;
  /** called after each measurement (progress bars) */
  onMeasured?: (c: Candidate, measuredSoFar: number, ladder: number) => void;
}

// The import format is part of the chain: a Keras float graph and a TFLite file's float twin of the same family are
// different graphs (layouts, fused activations), and a 41 MMAC Keras model measured slower than a 49 MMAC twin.
export const defaultChainKey = (c: CandidateSpec): string => `${c.variant.family}|${c.variant.precision}|${c.provider}|${c.variant.source.split(':')[0]}`;

type State = 'unknown' | 'measured' | 'static' | 'pruned-slow' | 'pruned-below';

/**
 * Finds what brute force (measure everything, then select) would pick, measuring fewer candidates. Candidates are
 * resolved from the largest down; inside a MAC-ordered chain the next one measured is the middle of the siblings
 * still in doubt, so a too-slow answer prunes every larger sibling at once (binary search for the chain's
 * latency threshold). Once a group of equal accuracy holds a fitting candidate that is not demoted, everything
 * ranked below is pruned: demotion (a measured agreement below the threshold) only ever lowers a rung, so nothing
 * pruned can outrank it, and a demoted rung that fits is measured already when select() ranks it.
 * Exactly equals brute force when latency never decreases with MACs inside a chain.
 */
export async function searchAndSelect(specs: CandidateSpec[], budget: Budget, measure: Measure, opts: SearchOptions = {}): Promise<Selection> {
  const rb = resolveBudget(budget);
  const chainKey = opts.chainKey ?? defaultChainKey;
  const cands = specs.map((s) => makeCandidate(s.variant, s.provider));
  const state = new Map<string, State>();
  const prunedBy = new Map<string, string>();
  const chains = new Map<string, Candidate[]>();
  for (const c of cands) {
    if (state.has(c.id)) throw new EdgefitError('E_SELECT_DUPLICATE', `candidate ${c.id} appears twice; give each variant/provider once`);
    state.set(c.id, accuracyVerdict(c, rb) ? 'static' : 'unknown');
    const k = chainKey(c);
    (chains.get(k) ?? chains.set(k, []).get(k)!).push(c);
  }
  for (const chain of chains.values()) chain.sort((a, b) => a.variant.macs - b.variant.macs);
  let measuredCount = 0;

  const tooSlowAlone = (c: Candidate, rb2: ResolvedBudget): boolean => {
    const m = fastestOk(c, rb2.percentile);
    return !!m && rb2.latencyMs !== undefined && m.latencyMs[rb2.percentile] > rb2.latencyMs;
  };
  const latencyFits = (c: Candidate): boolean => {
    const m = fastestOk(c, rb.percentile);
    return !!m && (rb.latencyMs === undefined || m.latencyMs[rb.percentile] <= rb.latencyMs);
  };

  const doMeasure = async (c: Candidate) => {
    const got = measuredCandidate(c, await measure({ variant: c.variant, provider: c.provider }));
    c.measurements = got.measurements;
    if (got.agreement) c.agreement = got.agreement;
    state.set(c.id, 'measured');
    measuredCount++;
    opts.onMeasured?.(c, measuredCount, cands.length);
    if (tooSlowAlone(c, rb)) {
      // monotone latency: every sibling with strictly more MACs is at least as slow
      for (const s of chains.get(chainKey(c))!) {
        if (s.variant.macs > c.variant.macs && state.get(s.id) === 'unknown') {
          state.set(s.id, 'pruned-slow');
          prunedBy.set(s.id, c.id);
        }
      }
    }
  };

  const resolve = async (c: Candidate) => {
    const chain = chains.get(chainKey(c))!;
    while (state.get(c.id) === 'unknown') {
      // siblings known to fit on latency bound the doubt from below
      let floor = -Infinity;
      for (const s of chain) if (state.get(s.id) === 'measured' && s.variant.macs < c.variant.macs && latencyFits(s)) floor = Math.max(floor, s.variant.macs);
      const doubt = chain.filter((s) => state.get(s.id) === 'unknown' && s.variant.macs > floor && s.variant.macs < c.variant.macs);
      doubt.push(c);
      // The first probe of a chain is its top (a generous budget then costs one measurement); after a miss,
      // bisect what is left so each further miss halves the doubt.
      const probed = chain.some((s) => state.get(s.id) === 'measured');
      await doMeasure(probed ? doubt[Math.floor((doubt.length - 1) / 2)]! : c);
    }
  };

  const ordered = [...cands].sort(compareStatic);
  for (let i = 0; i < ordered.length;) {
    let j = i;
    while (j < ordered.length && compareStatic(ordered[i]!, ordered[j]!) === 0) j++;
    const group = ordered.slice(i, j);
    for (const c of group) await resolve(c);
    const winner = group.find((c) => state.get(c.id) === 'measured' && evaluate(c, rb).fits && !demotion(c, rb.minAgreement));
    if (winner) {
      for (const c of ordered.slice(j)) {
        if (state.get(c.id) === 'unknown') {
          state.set(c.id, 'pruned-below');
          prunedBy.set(c.id, winner.id);
        }
      }
      break;
    }
    i = j;
  }

  const d = select(cands, budget);
  for (const r of d.rejected) {
    const s = state.get(r.id);
    if (s === 'pruned-slow') {
      const by = cands.find((c) => c.id === prunedBy.get(r.id))!;
      const m = fastestOk(by, rb.percentile)!;
      r.reason = 'too-slow';
      r.detail = `not measured: ${by.id}, with fewer MACs in the same chain, is already too slow (${rb.percentile} ${m.latencyMs[rb.percentile].toFixed(1)} > ${rb.latencyMs!.toFixed(1)})`;
    } else if (s === 'pruned-below') {
      r.reason = 'dominated';
      r.detail = `not measured: ${prunedBy.get(r.id)} ranks higher and fits`;
    }
  }
  return { decision: d, candidates: cands };
}

/** Brute force: measure every candidate, then select. The reference the search must agree with. */
export async function bruteForceSelect(specs: CandidateSpec[], budget: Budget, measure: Measure): Promise<Selection> {
  resolveBudget(budget);
  const cands: Candidate[] = [];
  for (const s of specs) cands.push(measuredCandidate(s, await measure(s)));
  return { decision: select(cands, budget), candidates: cands };
}

/** Every (variant, provider) pair: each provider is its own candidate. */
export function specsFor(variants: CandidateSpec['variant'][], providers: CandidateSpec['provider'][] = ['cpu']): CandidateSpec[] {
  return variants.flatMap((variant) => providers.map((provider) => ({ variant, provider })));
}
