import type { Variant } from '../catalog/types.js';
import type { Agreement } from '../profile/types.js';

/** Where a rung's accuracy figure comes from: a published table, or an estimate from one. */
export type AccuracyKind = 'published' | 'estimated';

export interface RankAccuracy {
  /** top-1, 0..1 */
  value: number;
  kind: AccuracyKind;
}

/** The accuracy a rung ranks by: published at its resolution, else estimated; undefined when neither is known. */
export function accuracyOf(v: Variant): RankAccuracy | undefined {
  if (v.referenceAccuracy !== undefined) return { value: v.referenceAccuracy, kind: 'published' };
  if (v.estimatedAccuracy !== undefined) return { value: v.estimatedAccuracy, kind: 'estimated' };
  return undefined;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

/** "69.2% estimated" */
export function formatAccuracy(a: RankAccuracy): string {
  return `${pct(a.value)} ${a.kind}`;
}

/** The measured agreement as a fraction, or undefined when it was not measured (or could not be). */
export function agreementFraction(a: Agreement | undefined): number | undefined {
  return a && a.ok && a.frames > 0 ? a.agreeing / a.frames : undefined;
}

/** "8/9 probe frames agree with 224 (88.9%)", or the reason it was not measured. */
export function formatAgreement(a: Agreement): string {
  if (!a.ok) return `agreement not measured: ${a.error ?? 'failed'}`;
  return `${a.agreeing}/${a.frames} probe frames agree with ${a.nativeResolution} (${pct(a.agreeing / a.frames)})`;
}

/**
 * Why a rung is demoted, or undefined when it is not: its measured top-1 agreement with the same weights at their
 * native resolution is below the threshold, so its (published or estimated) figure is not believed.
 */
export function demotion(c: { agreement?: Agreement }, minAgreement: number): string | undefined {
  const f = agreementFraction(c.agreement);
  if (f === undefined || !(minAgreement > 0) || f >= minAgreement) return undefined;
  const a = c.agreement!;
  return `demoted: only ${a.agreeing}/${a.frames} probe frames keep the top-1 of the native ${a.nativeResolution} model (${pct(f)} < ${pct(minAgreement)})`;
}
