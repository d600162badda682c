import type { ProfileCache } from '../profile/cache.js';
import { makeCandidate } from './policy.js';
import { candidateId } from '../types/candidate.js';
import type { Candidate, CandidateSpec, Measured } from './types.js';
import type { Measure } from './search.js';

/**
 * Candidates carrying the measurements a cache holds for one board, without measuring anything: how
 * `edgefit select --from-cache` answers "what would that board pick?". Where a model was measured under several
 * runtime versions, the version measured most recently wins (its thread counts together). A reduced-resolution
 * rung carries the agreement with its native model measured most recently (whatever the probe frames were).
 */
export function candidatesFromCache(specs: CandidateSpec[], cache: ProfileCache, board: string): Candidate[] {
  const entries = cache.list(board);
  const agreements = cache.agreementList(board);
  return specs.map((s) => {
    const v = s.variant;
    const mine = entries.filter((e) => e.key.sha256 === v.sha256 && e.key.resolution === v.resolution && e.key.provider === s.provider);
    if (mine.length === 0) return makeCandidate(v, s.provider);
    const newest = mine.reduce((a, b) => (b.measurement.measuredAt > a.measurement.measuredAt ? b : a));
    const same = mine.filter((e) => e.key.ortVersion === newest.key.ortVersion).sort((a, b) => a.key.threads - b.key.threads);
    const c = makeCandidate(v, s.provider, same.map((e) => e.measurement));
    const agreed = agreements.filter((e) => e.key.sha256 === v.sha256 && e.key.resolution === v.resolution && e.key.provider === s.provider && e.key.nativeResolution === v.nativeResolution);
    if (agreed.length > 0) c.agreement = agreed.reduce((a, b) => (b.agreement.measuredAt > a.agreement.measuredAt ? b : a)).agreement;
    return c;
  });
}

/** A measure function that measures nothing: what the cache holds for one board (nothing where it holds none). */
export function cacheMeasure(specs: CandidateSpec[], cache: ProfileCache, board: string): Measure {
  const held = new Map(candidatesFromCache(specs, cache, board).map((c) => [c.id, c]));
  return async (s): Promise<Measured> => {
    const c = held.get(candidateId(s.variant.id, s.provider));
    return { measurements: c?.measurements ?? [], ...(c?.agreement ? { agreement: c.agreement } : {}) };
  };
}
