import type { ProfileCache } from '../profile/cache.js';
import { makeCandidate } from './policy.js';
import type { Candidate, CandidateSpec } from './types.js';

/**
 * Candidates carrying the measurements a cache holds for one board, without measuring anything: how
 * `edgefit select --from-cache` answers "what would that board pick?". Where a model was measured under several
 * runtime versions, the version measured most recently wins (its thread counts together).
 */
export function candidatesFromCache(specs: CandidateSpec[], cache: ProfileCache, board: string): Candidate[] {
  const entries = cache.list(board);
  return specs.map((s) => {
    const mine = entries.filter((e) => e.key.sha256 === s.variant.sha256 && e.key.resolution === s.variant.resolution && e.key.provider === s.provider);
    if (mine.length === 0) return makeCandidate(s.variant, s.provider);
    const newest = mine.reduce((a, b) => (b.measurement.measuredAt > a.measurement.measuredAt ? b : a));
    const same = mine.filter((e) => e.key.ortVersion === newest.key.ortVersion).sort((a, b) => a.key.threads - b.key.threads);
    return makeCandidate(s.variant, s.provider, same.map((e) => e.measurement));
  });
}
