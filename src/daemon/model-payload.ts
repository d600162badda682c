import { bestOf } from '../profile/measure.js';
import { accuracyOf, agreementFraction, demotion } from '../select/accuracy.js';
import type { Choice } from '../select/choose.js';
import type { CandidateSummary, ModelPayload } from '../mqtt/payloads.js';

/**
 * The retained `model` payload: what runs, why, the budget exactly as the selector resolved it, and every
 * candidate with its accuracy and where that figure comes from, its figures or its reason.
 */
export function modelPayload(deviceId: string, board: string, choice: Choice): Omit<ModelPayload, 'session'> {
  const budget = choice.decision.budget;
  const p = budget.percentile;
  const rejected = new Map(choice.decision.rejected.map((r) => [r.id, r]));
  const candidates: CandidateSummary[] = choice.candidates.map((c) => {
    const best = bestOf(c.measurements, p);
    const r = rejected.get(c.id);
    const v = c.variant;
    const acc = accuracyOf(v);
    const agree = agreementFraction(c.agreement);
    const demoted = demotion(c, budget.minAgreement);
    return {
      id: c.id, family: v.family, alpha: v.alpha, resolution: v.resolution, precision: v.precision, provider: c.provider,
      ...(v.referenceAccuracy !== undefined ? { referenceAccuracy: v.referenceAccuracy } : {}),
      ...(acc ? { accuracy: acc.value, accuracyKind: acc.kind } : {}),
      ...(agree !== undefined ? { agreement: round(agree), probeFrames: c.agreement!.frames } : {}),
      ...(demoted ? { demoted } : {}),
      macs: v.macs,
      ...(best ? { p90Ms: round(best.latencyMs.p90), peakMb: round(best.peakMb) } : {}),
      chosen: c.variant.id === choice.variant.id && c.provider === choice.provider,
      ...(r ? { reason: r.reason, detail: r.detail } : {}),
      ...(choice.fleet && best ? { figures: best.fromFleet !== undefined ? 'fleet' as const : 'own' as const } : {}),
    };
  });
  const m = choice.decision.chosenMeasurement;
  const v = choice.variant;
  return {
    deviceId, ts: new Date().toISOString(), board,
    variant: {
      id: v.id, family: v.family, alpha: v.alpha, resolution: v.resolution, precision: v.precision,
      ...(v.referenceAccuracy !== undefined ? { referenceAccuracy: v.referenceAccuracy } : {}),
      ...(accuracyOf(v) ? { accuracy: accuracyOf(v)!.value, accuracyKind: accuracyOf(v)!.kind } : {}),
      macs: v.macs, params: v.params, pretrained: v.pretrained, source: v.source,
    },
    provider: choice.provider, threads: choice.threads, reason: choice.reason,
    budget: {
      ...(budget.latencyMs !== undefined ? { latencyMs: round(budget.latencyMs) } : {}),
      percentile: p,
      ...(budget.memoryMb !== undefined ? { memoryMb: round(budget.memoryMb) } : {}),
      ...(budget.minAccuracy !== undefined ? { minAccuracy: budget.minAccuracy } : {}),
    },
    measurement: m ? { p50Ms: round(m.latencyMs.p50), p90Ms: round(m.latencyMs.p90), p99Ms: round(m.latencyMs.p99), peakMb: round(m.peakMb) } : null,
    candidates, measured: choice.decision.measured, ladder: choice.ladder, labelsMeaningful: v.pretrained,
    ...(choice.fleet ? { fleet: { ...choice.fleet, confirmed: choice.fleet.confirmed.slice(0, 16), chosenFigures: m?.fromFleet !== undefined ? 'fleet' as const : 'own' as const } } : {}),
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
