import type { Measurement } from './types.js';

export type FailureKind = 'out-of-memory' | 'timeout' | 'crash' | 'load' | 'run';

/**
 * Why a measurement failed, from the profiler's error text (its messages start with these phrases). A structured
 * field on Measurement would be better; until the shared type has one, this is the single place that parses it.
 */
export function failureKind(m: Measurement): FailureKind | undefined {
  if (m.ok) return undefined;
  const e = m.error ?? '';
  if (e.startsWith('out of memory budget')) return 'out-of-memory';
  if (e.startsWith('timed out')) return 'timeout';
  if (e.startsWith('load failed') || e.startsWith('model file')) return 'load';
  if (e.startsWith('crashed')) return 'crash';
  return 'run';
}
