import type { Variant } from './model.js';
import type { ProviderName } from './provider.js';

/** One thing the selector can choose: a variant on a provider. int8 and fp32, cpu and cuda are separate candidates. */
export interface CandidateSpec {
  variant: Variant;
  provider: ProviderName;
}

/** The one spelling of a candidate's key, `${variant.id}@${provider}`: the profiler, selector and daemon all use it. */
export function candidateId(variantId: string, provider: ProviderName): string {
  return `${variantId}@${provider}`;
}
