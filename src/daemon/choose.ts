import { join } from 'node:path';
import type { Config } from '../config/types.js';
import type { DeviceInfo } from '../device/types.js';
import { boardFingerprint } from '../device/probe.js';
import type { Variant } from '../catalog/types.js';
import type { ProviderName } from '../engine/engine.js';
import { measuredCandidate, searchAndSelect, specsFor } from '../select/search.js';
import type { Budget, Candidate, Decision, Measured, Percentile } from '../select/types.js';
import { bestOf, makeMeasurer, type MeasureProgress } from '../profile/measure.js';
import { ProfileCache } from '../profile/cache.js';
import { loadProbeSet } from '../profile/agreement.js';
import { accuracyOf, agreementFraction, demotion, formatAccuracy } from '../select/accuracy.js';
import type { CandidateSummary, ModelPayload } from '../mqtt/payloads.js';

export interface Choice {
  variant: Variant;
  provider: ProviderName;
  threads: number;
  decision: Decision;
  /** why this one, in a sentence */
  reason: string;
  /** true when nothing met the budget and the fastest candidate runs instead */
  overBudget: boolean;
  ladder: number;
  /** every candidate of the ladder with what was measured for it (empty when the search pruned it) */
  candidates: Candidate[];
}

export function budgetFromConfig(config: Config, device: DeviceInfo, override: Partial<Config['budget']> = {}): Budget {
  const b = { ...config.budget, ...override };
  const pct = b.percentile >= 99 ? 'p99' : b.percentile >= 90 ? 'p90' : 'p50';
  return {
    // as documented for budget.fps: it sets the latency budget only when budget.latencyMs is 0
    ...(b.latencyMs > 0 ? { latencyP90Ms: b.latencyMs } : b.fps > 0 ? { fps: b.fps } : {}),
    percentile: pct as Percentile,
    ...(b.memoryMb > 0 ? { memoryMb: b.memoryMb } : { memoryFraction: b.memoryFraction, availableMb: device.memory.effectiveMb }),
    ...(b.minAccuracy > 0 ? { minAccuracy: b.minAccuracy } : {}),
    ...(config.profile.minAgreement > 0 ? { minAgreement: config.profile.minAgreement } : {}),
  };
}

/** Where probe frames are read from (and where the daemon keeps the camera's): profile.probeDir or <stateDir>/probe-frames. */
export function probeDirOf(config: Config): string {
  return config.profile.probeDir || join(config.stateDir, 'probe-frames');
}

/** Providers the daemon may use: configured, in its order, and proven to work on this board. */
export function usableProviders(config: Config, device: DeviceInfo): ProviderName[] {
  const usable = new Set(device.providers.usable);
  const chain = config.engine.providers.filter((p) => usable.has(p));
  return chain.length > 0 ? chain : ['cpu'];
}

/**
 * Profiles (cached, each measurement in a child process) and picks the largest variant that fits the budget.
 * When nothing fits, the fastest candidate that ran at all is used, and the reason says so.
 */
export async function chooseModel(config: Config, device: DeviceInfo, ladder: Variant[], budget: Budget, onProgress?: (p: MeasureProgress) => void, signal?: AbortSignal): Promise<Choice> {
  const providers = usableProviders(config, device);
  const specs = specsFor(ladder, providers);
  const measured = new Map<string, Measured>();
  const probe = await loadProbeSet(probeDirOf(config));
  const measureRaw = makeMeasurer({
    board: boardFingerprint(device),
    cache: new ProfileCache(join(config.stateDir, 'profile-cache.json')),
    threads: config.engine.threads > 0 ? config.engine.threads : 'auto',
    percentile: budget.percentile ?? 'p90',
    profile: {
      minRuns: config.profile.minRuns, minMs: config.profile.minSeconds * 1000, warmupRuns: config.profile.warmupRuns,
      ...(budget.memoryMb !== undefined ? { memoryLimitMb: budget.memoryMb * 2 } : budget.memoryFraction && budget.availableMb ? { memoryLimitMb: budget.memoryFraction * budget.availableMb * 2 } : {}),
      ...(signal ? { signal } : {}),
    },
    ...(probe ? { probe } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  const measure = async (spec: (typeof specs)[number]) => {
    const r = await measureRaw(spec);
    measured.set(`${spec.variant.id}@${spec.provider}`, r);
    return r;
  };
  const decision = await searchAndSelect(specs, budget, measure);
  const candidatesNow = () => specs.map((s) => measuredCandidate(s, measured.get(`${s.variant.id}@${s.provider}`) ?? []));
  const candidates = candidatesNow();
  const p = budget.percentile ?? 'p90';
  if (decision.chosen && decision.chosenMeasurement) {
    const m = decision.chosenMeasurement;
    const c = decision.chosen;
    const acc = accuracyOf(c.variant);
    const demoted = demotion(c, decision.budget.minAgreement);
    return {
      variant: c.variant, provider: c.provider, threads: m.threads, decision, overBudget: false, ladder: specs.length, candidates,
      reason: `most accurate variant that fits: ${acc ? `top-1 ${formatAccuracy(acc)}` : `accuracy unknown, ${(c.variant.macs / 1e6).toFixed(0)}M MACs`}${demoted ? ` (${demoted}; nothing ranked above it fits)` : ''}, ${p} ${m.latencyMs[p].toFixed(1)} ms at ${m.threads} thread(s), peak +${m.peakMb.toFixed(0)} MB; measured ${decision.measured} of ${specs.length}`,
    };
  }
  // nothing fits: run the fastest thing that worked rather than nothing, and say so everywhere
  let best: { c: Choice['candidates'][number]; ms: number; threads: number } | undefined;
  for (const c of candidates) for (const m of c.measurements) if (m.ok && (!best || m.latencyMs[p] < best.ms)) best = { c, ms: m.latencyMs[p], threads: m.threads };
  if (!best) {
    // the search may have pruned everything by static rules: measure the smallest candidate of all
    const smallest = [...specs].sort((a, b) => a.variant.macs - b.variant.macs)[0];
    if (!smallest) throw new Error('the model ladder is empty: run `edgefit models pull` or allow models.allowZooFallback');
    const ms = (await measure(smallest)).measurements;
    const ok = bestOf(ms, p);
    if (!ok) throw new Error(`no model of the ladder can run on this board (smallest: ${smallest.variant.id}: ${ms[0]?.error ?? 'failed'}); run \`edgefit doctor\``);
    const all = candidatesNow();
    return { variant: smallest.variant, provider: smallest.provider, threads: ok.threads, decision, overBudget: true, ladder: specs.length, candidates: all, reason: `NOTHING FITS THE BUDGET; running the smallest variant (${p} ${ok.latencyMs[p].toFixed(1)} ms)` };
  }
  return {
    variant: best.c.variant, provider: best.c.provider, threads: best.threads, decision, overBudget: true, ladder: specs.length, candidates,
    reason: `NOTHING FITS THE BUDGET; running the fastest measured variant (${p} ${best.ms.toFixed(1)} ms); relax budget.latencyMs / budget.memoryMb`,
  };
}

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
  };
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
