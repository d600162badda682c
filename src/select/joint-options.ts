import type { Percentile } from '../types/latency.js';
import { accuracyOf } from './accuracy.js';
import { memoryOf } from './policy.js';
import type { JointOption } from './joint-model.js';
import type { Candidate } from './types.js';

/**
 * A camera's options from the selector's candidates: one per ok measurement (a variant at a thread count), its
 * mean as the load and its p90 (or the budget's percentile) as the latency. Candidates that failed or were never
 * measured give none.
 */
export function jointOptions(candidates: Candidate[], percentile: Percentile = 'p90'): JointOption[] {
  const out: JointOption[] = [];
  for (const c of candidates) {
    for (const m of c.measurements) {
      if (!m.ok || !Number.isFinite(m.latencyMs[percentile]) || !Number.isFinite(m.latencyMs.mean)) continue;
      const a = accuracyOf(c.variant);
      out.push({
        id: `${c.id}/t${m.threads}`, model: c.variant.sha256, threads: m.threads, timeMs: m.latencyMs.mean, p90Ms: m.latencyMs[percentile],
        memoryMb: memoryOf(m), macs: c.variant.macs, modelPath: c.variant.modelPath, resolution: c.variant.resolution, ...(a ? { accuracy: a.value } : {}),
      });
    }
  }
  return out;
}
