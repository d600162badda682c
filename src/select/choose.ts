/**
 * The one home of a selection: the budget from the configuration (and the flags that override it), the providers
 * that may be used, the measurer (with its memory stop) and the search. `edgefit run` (chooseModel),
 * `edgefit profile` and `edgefit select` all go through selectModel, so the same cache and configuration give
 * the same pick whichever command asks.
 */
import { join } from 'node:path';
import { runtimeOf } from '../profile/runtime.js';
import { EdgefitError } from '../util/errors.js';
import type { Config } from '../config/types.js';
import { usableCores, type DeviceInfo } from '../device/types.js';
import { boardFingerprint } from '../device/probe.js';
import type { Variant } from '../types/model.js';
import type { ProviderName } from '../types/provider.js';
import type { Percentile } from '../types/latency.js';
import { candidateId, type CandidateSpec } from '../types/candidate.js';
import { availableParallelism } from 'node:os';
import { bestOf, makeMeasurer, threadCounts, type MeasureProgress } from '../profile/measure.js';
import { ProfileCache, ortVersion } from '../profile/cache.js';
import { seededMeasurer, type FleetSeed, type FleetUse } from './fleet-seed.js';
import { loadProbeSet, type ProbeSet } from '../profile/agreement.js';
import type { Measured } from '../profile/types.js';
import { accuracyOf, demotion, formatAccuracy } from './accuracy.js';
import { evaluate, resolveBudget } from './policy.js';
import { bruteForceSelect, measuredCandidate, searchAndSelect, specsFor, type Measure, type Selection } from './search.js';
import type { Budget, Candidate, Decision } from './types.js';
import { budgetOverrideFromFlags, minAgreementFrom, type BudgetFlags } from './inputs.js';
import { providerPlan } from './providers.js';
import { belowMinAccuracy, fallbackReason, fastestFallback } from './misses.js';

export interface Choice {
  variant: Variant;
  provider: ProviderName;
  threads: number;
  decision: Decision;
  /** why this one, in a sentence */
  reason: string;
  /** true when nothing met the budget and the fastest candidate runs instead */
  overBudget: boolean;
  /**
   * set (with overBudget) when what runs is itself below budget.minAccuracy: no candidate meeting the minimum
   * could run, so the daemon runs one the user refused and must say so louder than a missed latency
   */
  belowMinAccuracy?: boolean;
  ladder: number;
  /** every candidate of the ladder with what was measured for it (empty when the search pruned it) */
  candidates: Candidate[];
  /** set when the selection was seeded from the fleet's measurements: which figures were whose */
  fleet?: FleetUse;
}

/**
 * budget.percentile as the selector's Percentile. Only the three the profiler records: any other is refused
 * (95 used to be rounded down to p90, a looser budget than asked, without a word).
 */
export function percentileOf(p: number): Percentile {
  if (p === 50 || p === 90 || p === 99) return `p${p}`;
  throw new EdgefitError('E_BUDGET', `budget percentile must be 50, 90 or 99 (got ${String(p)}): the profiler records only p50, p90 and p99`);
}

/**
 * The selector's budget from the configuration, `override` field by field (the daemon's budget command, the
 * flags of `profile` and `select`). Without a device (`select` answering for another board from its cache) a
 * memoryFraction means nothing, so only an explicit memoryMb caps memory then.
 */
export function budgetFromConfig(config: Config, device: DeviceInfo | undefined, override: Partial<Config['budget']> = {}): Budget {
  const b = { ...config.budget, ...override };
  const pct = percentileOf(b.percentile);
  if (!(b.memoryMb > 0) && device && !(device.memory.effectiveMb > 0)) {
    const cg = device.memory.cgroup;
    const where = cg?.limitMb != null ? `the cgroup's memory limit of ${cg.limitMb} MB is in use (${cg.usageMb ?? '?'} MB, file cache it can drop not counted)` : `the board reports ${device.memory.availableMb} MB available`;
    throw new EdgefitError('E_BUDGET', `no memory is left to run a model: ${where}; free memory, raise the limit (MemoryMax= in the systemd unit, --memory for a container), or set budget.memoryMb`);
  }
  const memory = b.memoryMb > 0 ? { memoryMb: b.memoryMb } : device ? { memoryFraction: b.memoryFraction, availableMb: device.memory.effectiveMb } : {};
  return {
    // as documented for budget.fps: it sets the latency budget only when budget.latencyMs is 0
    ...(b.latencyMs > 0 ? { latencyMs: b.latencyMs } : b.fps > 0 ? { fps: b.fps } : {}),
    percentile: pct,
    ...memory,
    ...(b.minAccuracy > 0 ? { minAccuracy: b.minAccuracy } : {}),
    ...(config.profile.minAgreement > 0 ? { minAgreement: config.profile.minAgreement } : {}),
  };
}

/** The budget of `edgefit profile` and `edgefit select`: the configured one with the flags' overrides. */
export function budgetFor(config: Config, device: DeviceInfo | undefined, flags: BudgetFlags): Budget {
  return { ...budgetFromConfig(config, device, budgetOverrideFromFlags(flags)), minAgreement: minAgreementFrom(flags, config) };
}

/** Where probe frames are read from (and where the daemon keeps the camera's): profile.probeDir or <stateDir>/probe-frames. */
export function probeDirOf(config: Config): string {
  return config.profile.probeDir || join(config.stateDir, 'probe-frames');
}

/** Providers that may be used: configured, in its order, and proven to work on this board (providers.ts says what is left out). */
export function usableProviders(config: Config, device: DeviceInfo): ProviderName[] {
  return providerPlan(config, device).chain;
}

/** The profile cache of the configuration: <stateDir>/profile-cache.json. */
export function cachePathOf(config: Config): string {
  return join(config.stateDir, 'profile-cache.json');
}

export interface MeasurerSetup {
  board: string;
  budget: Budget;
  cache: ProfileCache;
  /** default: engine.threads, 'auto' when 0 */
  threads?: number | 'auto';
  /** the cores 'auto' threads are chosen among (usableCores of the device); default availableParallelism() */
  cores?: number;
  /** default: profile.minRuns */
  minRuns?: number;
  /** default: profile.minSeconds */
  minMs?: number;
  probe?: ProbeSet;
  refresh?: boolean;
  onProgress?: (p: MeasureProgress) => void;
  /** aborts the measurement in progress (the profiler child is killed) */
  signal?: AbortSignal;
}

/**
 * The profiler-backed measure function. Its memory stop is twice the budget's memory (memoryMb, or memoryFraction
 * of the available memory): generous, since a model over the budget is rejected by the selector; the stop only
 * ends runaways early.
 */
export function measurerFor(config: Config, s: MeasurerSetup): (spec: CandidateSpec) => Promise<Measured> {
  const memoryMb = resolveBudget(s.budget).memoryMb;
  return makeMeasurer({
    board: s.board,
    cache: s.cache,
    threads: s.threads ?? (config.engine.threads > 0 ? config.engine.threads : 'auto'),
    percentile: s.budget.percentile ?? 'p90',
    refresh: s.refresh ?? false,
    ...(s.cores !== undefined ? { cores: s.cores } : {}),
    // the library and TensorRT options the engine will run on (engine.ortLibraryPath, trtFp16)
    runtime: runtimeOf(config),
    profile: {
      minRuns: s.minRuns ?? config.profile.minRuns, minMs: s.minMs ?? config.profile.minSeconds * 1000, warmupRuns: config.profile.warmupRuns,
      ...(memoryMb !== undefined ? { memoryLimitMb: memoryMb * 2 } : {}),
      ...(s.signal ? { signal: s.signal } : {}),
    },
    ...(s.probe ? { probe: s.probe } : {}),
    ...(s.onProgress ? { onProgress: s.onProgress } : {}),
  });
}

/**
 * The pick: the pruning search (or, with `all`, every candidate measured: `profile --all`, and `select`, whose
 * measurements come from a cache), returning the decision and every candidate with what was measured for it.
 */
export function selectModel(specs: CandidateSpec[], budget: Budget, measure: Measure, opts: { all?: boolean } = {}): Promise<Selection> {
  return opts.all ? bruteForceSelect(specs, budget, measure) : searchAndSelect(specs, budget, measure);
}

/**
 * What the daemon runs: profiles (cached, each measurement in a child process) and picks the most accurate
 * variant that fits the budget. When nothing fits, the fastest candidate that ran at all is used (within the memory
 * budget and meeting budget.minAccuracy first: fastestFallback), and the reason names every cause and the setting behind it (src/select/misses.ts).
 * With a fleet seed (src/select/fleet-seed.ts) the search runs on the fleet's figures where this device has none,
 * and the pick is confirmed by measuring it here at its thread count; a miss (it does not fit, or its agreement
 * demotes it) searches again with that own figure, so the next rung is picked and confirmed in turn.
 */
export async function chooseModel(config: Config, device: DeviceInfo, ladder: Variant[], budget: Budget, onProgress?: (p: MeasureProgress) => void, signal?: AbortSignal, seed?: FleetSeed): Promise<Choice> {
  const plan = providerPlan(config, device);
  // a configured provider left out is said in the reason (the retained model payload), never only dropped
  const choice = await chooseFrom(config, device, ladder, budget, plan.chain, onProgress, signal, seed);
  return plan.notice ? { ...choice, reason: `${choice.reason}; ${plan.notice}` } : choice;
}

async function chooseFrom(config: Config, device: DeviceInfo, ladder: Variant[], budget: Budget, providers: ProviderName[], onProgress?: (p: MeasureProgress) => void, signal?: AbortSignal, seed?: FleetSeed): Promise<Choice> {
  const specs = specsFor(ladder, providers);
  const probe = await loadProbeSet(probeDirOf(config));
  const board = boardFingerprint(device);
  const cache = new ProfileCache(cachePathOf(config));
  const setup: MeasurerSetup = { board, budget, cache, cores: coresOf(device), ...(probe ? { probe } : {}), ...(onProgress ? { onProgress } : {}), ...(signal ? { signal } : {}) };
  const measure = measurerFor(config, setup);
  if (!seed || seed.figures.length === 0) {
    const { decision, candidates } = await selectModel(specs, budget, measure);
    return choiceFrom(specs, budget, measure, decision, candidates);
  }
  const threads = config.engine.threads > 0 ? [config.engine.threads] : threadCounts(coresOf(device));
  const seeded = seededMeasurer(seed, cache, measure, { board, ortVersion: ortVersion(), threads });
  const confirmed: string[] = [];
  // the pick, its neighbour on a miss, and one more: past that the fleet's figures are not worth trusting here
  for (let round = 0; round < 3; round++) {
    const { decision, candidates } = await selectModel(specs, budget, seeded.measure);
    const c = decision.chosen;
    const m = decision.chosenMeasurement;
    // confirmed (or measured here all along): the figure that decided is this device's own
    if (!c || !m || m.fromFleet === undefined) {
      return { ...await choiceFrom(specs, budget, measure, decision, candidates), fleet: seeded.use(confirmed) };
    }
    const spec = specs.find((s) => candidateId(s.variant.id, s.provider) === c.id)!;
    const mine = await measurerFor(config, { ...setup, threads: m.threads })(spec);
    confirmed.push(c.id);
    // the pick holds when this device's own figure fits too (and its agreement does not demote it): it stays the
    // choice, now carrying the own figure. Searching again would let measurement noise between equally accurate
    // twins flip a choice the fleet's full profile made.
    const checked = { ...c, measurements: mine.measurements, ...(mine.agreement ? { agreement: mine.agreement } : {}) };
    const verdict = evaluate(checked, decision.budget);
    if (verdict.fits && verdict.measurement && !demotion(checked, decision.budget.minAgreement)) {
      const held: Decision = { ...decision, chosen: checked, chosenMeasurement: verdict.measurement };
      return { ...await choiceFrom(specs, budget, measure, held, candidates.map((x) => (x.id === c.id ? checked : x))), fleet: seeded.use(confirmed, c.id) };
    }
  }
  const { decision, candidates } = await selectModel(specs, budget, measure);
  return { ...await choiceFrom(specs, budget, measure, decision, candidates), fleet: { ...seeded.use(confirmed), fleetCandidates: 0, devices: [] } };
}

async function choiceFrom(specs: CandidateSpec[], budget: Budget, measure: (spec: CandidateSpec) => Promise<Measured>, decision: Decision, candidates: Candidate[]): Promise<Choice> {
  const p = budget.percentile ?? 'p90';
  if (decision.chosen && decision.chosenMeasurement) {
    const m = decision.chosenMeasurement;
    const c = decision.chosen;
    const acc = accuracyOf(c.variant);
    const demoted = demotion(c, decision.budget.minAgreement);
    const twin = decision.rejected.find((r) => r.reason === 'dominated' && r.detail.includes(`twin ${c.id} ties`));
    return {
      variant: c.variant, provider: c.provider, threads: m.threads, decision, overBudget: false, ladder: specs.length, candidates,
      reason: `most accurate variant that fits: ${acc ? `top-1 ${formatAccuracy(acc)}` : `accuracy unknown, ${(c.variant.macs / 1e6).toFixed(0)}M MACs`}${demoted ? ` (${demoted}; nothing ranked above it fits)` : ''}, ${p} ${m.latencyMs[p].toFixed(1)} ms at ${m.threads} thread(s), peak +${m.peakMb.toFixed(0)} MB${twin ? `; chosen over its ${c.variant.precision === 'int8' ? 'fp32' : 'int8'} twin ${twin.id}, same accuracy, on measured speed (then memory)` : ''}; measured ${decision.measured} of ${specs.length}`,
    };
  }
  // Nothing fits: run the fastest thing that worked rather than nothing (within the memory budget and meeting
  // budget.minAccuracy first: fastestFallback), and say so everywhere: the reason goes to the log, the retained `model` payload and the
  // status warning, naming every cause and the setting behind it.
  const best = fastestFallback(candidates, decision);
  if (!best) {
    // the search may have pruned everything by static rules (minAccuracy excludes without measuring): measure the
    // smallest candidate of all
    const smallest = [...specs].sort((a, b) => a.variant.macs - b.variant.macs)[0];
    if (!smallest) throw new EdgefitError('E_NO_MODEL', 'the model ladder is empty: run `edgefit models pull` or allow models.allowZooFallback');
    const got = await measure(smallest);
    const ok = bestOf(got.measurements, p);
    if (!ok) throw new EdgefitError('E_NO_MODEL', `no model of the ladder can run on this board (smallest: ${smallest.variant.id}: ${got.measurements[0]?.error ?? 'failed'}); run \`edgefit doctor\``);
    const id = candidateId(smallest.variant.id, smallest.provider);
    const all = candidates.map((c) => (c.id === id ? measuredCandidate(smallest, got) : c));
    return {
      variant: smallest.variant, provider: smallest.provider, threads: ok.threads, decision, overBudget: true, ladder: specs.length, candidates: all,
      reason: fallbackReason(decision, { id, kind: 'smallest', percentile: p, latencyMs: ok.latencyMs[p] }),
      ...(belowMinAccuracy(decision, id) ? { belowMinAccuracy: true } : {}),
    };
  }
  const { candidate: c, measurement: m } = best;
  return {
    variant: c.variant, provider: c.provider, threads: m.threads, decision, overBudget: true, ladder: specs.length, candidates,
    reason: fallbackReason(decision, { id: c.id, kind: 'fastest measured', percentile: p, latencyMs: m.latencyMs[p] }),
    ...(belowMinAccuracy(decision, c.id) ? { belowMinAccuracy: true } : {}),
  };
}

/** The cores thread counts are chosen among: the process's CPU affinity, under the cgroup CPU quota. */
export function coresOf(device: DeviceInfo): number {
  return Math.max(1, Math.min(availableParallelism(), usableCores(device.cpu)));
}
