import { availableParallelism } from 'node:os';
import { candidateId, type CandidateSpec } from '../types/candidate.js';
import type { Percentile } from '../types/latency.js';
import { ProfileCache, runtimeVersion, type AgreementKey, type CacheKey } from './cache.js';
import { profileVariant, type ProfileOptions, type ProfileProgress } from './profiler.js';
import { measureAgreement, needsAgreement, type ProbeSet } from './agreement.js';
import type { Agreement, Measured, Measurement } from './types.js';
import { EdgefitError } from '../util/errors.js';
import { BUNDLED_RUNTIME, type OrtRuntime } from './runtime.js';

export interface MeasureProgress {
  /** `${variant.id}@${provider}` */
  candidate: string;
  threads: number;
  cached: boolean;
  /** set while the child runs */
  child?: ProfileProgress;
  /** set when this thread count is done */
  measurement?: Measurement;
  /** set when the candidate's agreement with its native model is known (threads is 0 then) */
  agreement?: Agreement;
}

export interface MeasurerOptions {
  /** board fingerprint, part of the cache key */
  board: string;
  cache?: ProfileCache;
  /** the version part of the cache key's runtime (tests); default: the version of the library measured on */
  ortVersion?: string;
  /**
   * the onnxruntime library and TensorRT options measured on, part of the cache key (runtimeVersion); default: the
   * bundled onnxruntime-node. measurerFor (src/select/choose.ts) gives the configuration's (runtimeOf)
   */
  runtime?: OrtRuntime;
  /** a fixed intra-op thread count, or 'auto' to measure 1, cores-1 (when cores > 2) and all cores */
  threads?: number | 'auto';
  /** default: os.availableParallelism() */
  cores?: number;
  /** the percentile that decides the best thread count; default p90 */
  percentile?: Percentile;
  /** measure again even when the cache has figures */
  refresh?: boolean;
  profile?: Omit<ProfileOptions, 'provider' | 'threads' | 'onProgress' | 'runtime'>;
  /** probe frames: reduced-resolution rungs get their top-1 agreement with the native model measured on them */
  probe?: ProbeSet;
  onProgress?: (p: MeasureProgress) => void;
}

/** The thread counts worth measuring: 1, all cores, and cores-1 (leaves a core to the camera and MQTT). */
export function threadCounts(cores: number): number[] {
  if (!Number.isInteger(cores) || cores < 1) throw new EdgefitError('E_OPTIONS', `cores must be a whole number >= 1 (got ${cores})`);
  const out = [1];
  if (cores > 2) out.push(cores - 1);
  if (cores > 1) out.push(cores);
  return out;
}

/** The fastest ok measurement at the percentile; fewer threads on a tie (they leave cores to the rest). */
export function bestOf(ms: Measurement[], p: Percentile = 'p90'): Measurement | undefined {
  let best: Measurement | undefined;
  for (const m of ms) {
    if (!m.ok || !Number.isFinite(m.latencyMs[p])) continue;
    if (!best || m.latencyMs[p] < best.latencyMs[p] || (m.latencyMs[p] === best.latencyMs[p] && m.threads < best.threads)) best = m;
  }
  return best;
}

/**
 * Measures a candidate at each thread count (from the cache where the key matches), records the fastest as the
 * best in the cache, and returns every measurement. Failed measurements are not cached: a kill for memory or a
 * timeout depends on limits that are not part of the key.
 */
export async function measureCandidate(spec: CandidateSpec, opts: MeasurerOptions): Promise<Measurement[]> {
  if (typeof opts.board !== 'string' || opts.board.length === 0) {
    throw new EdgefitError('E_OPTIONS', 'measuring needs a board fingerprint (a non-empty string)');
  }
  const runtime = opts.runtime ?? BUNDLED_RUNTIME;
  const version = runtimeVersion(spec.provider, opts.ortVersion, runtime);
  // TensorFlow.js takes no thread count (its wasm backend runs single-threaded in Node): one measurement
  const tfjs = spec.provider === 'tfjs-wasm' || spec.provider === 'tfjs-node';
  const counts = tfjs ? [1] : opts.threads === undefined || opts.threads === 'auto' ? threadCounts(opts.cores ?? availableParallelism()) : [opts.threads];
  const candidate = candidateId(spec.variant.id, spec.provider);
  const all: Measurement[] = [];
  for (const threads of counts) {
    const key: CacheKey = { board: opts.board, sha256: spec.variant.sha256, resolution: spec.variant.resolution, ortVersion: version, provider: spec.provider, threads };
    const hit = opts.refresh ? undefined : opts.cache?.get(key);
    if (hit) {
      all.push(hit);
      opts.onProgress?.({ candidate, threads, cached: true, measurement: hit });
      continue;
    }
    const m = await profileVariant(spec.variant, {
      ...opts.profile,
      provider: spec.provider,
      runtime,
      threads,
      onProgress: (child) => opts.onProgress?.({ candidate, threads, cached: false, child }),
    });
    if (m.ok) await opts.cache?.put(key, m);
    all.push(m);
    opts.onProgress?.({ candidate, threads, cached: false, measurement: m });
  }
  const best = bestOf(all, opts.percentile);
  if (best && opts.cache && counts.length > 1) {
    await opts.cache.putBest({ board: opts.board, sha256: spec.variant.sha256, resolution: spec.variant.resolution, ortVersion: version, provider: spec.provider }, best.threads);
  }
  return all;
}

/**
 * The rung's top-1 agreement with its native-resolution model on the probe frames (from the cache where the key
 * matches), or undefined when the rung needs none (native, random weights) or there are no probe frames. Only
 * successful measurements are cached: a crash or timeout is tried again next time.
 */
export async function agreementFor(spec: CandidateSpec, opts: MeasurerOptions): Promise<Agreement | undefined> {
  const v = spec.variant;
  if (!opts.probe || !needsAgreement(v)) return undefined;
  const runtime = opts.runtime ?? BUNDLED_RUNTIME;
  const key: AgreementKey = {
    board: opts.board, sha256: v.sha256, resolution: v.resolution, nativeResolution: v.nativeResolution!,
    ortVersion: runtimeVersion(spec.provider, opts.ortVersion, runtime), provider: spec.provider, probeSet: opts.probe.sha256,
  };
  const hit = opts.refresh ? undefined : opts.cache?.getAgreement(key);
  const a = hit ?? await measureAgreement(v, opts.probe, { provider: spec.provider, runtime, ...(typeof opts.threads === 'number' ? { threads: opts.threads } : {}), ...(opts.profile?.timeoutMs ? { timeoutMs: opts.profile.timeoutMs } : {}) });
  if (!hit && a.ok) await opts.cache?.putAgreement(key, a);
  opts.onProgress?.({ candidate: candidateId(v.id, spec.provider), threads: 0, cached: !!hit, agreement: a });
  return a;
}

/**
 * A `measure` function for searchAndSelect, backed by the profiler and the cache: every thread count, and the
 * agreement of a reduced-resolution rung that ran at all.
 */
export function makeMeasurer(opts: MeasurerOptions): (spec: CandidateSpec) => Promise<Measured> {
  return async (spec) => {
    const measurements = await measureCandidate(spec, opts);
    const agreement = measurements.some((m) => m.ok) ? await agreementFor(spec, opts) : undefined;
    return { measurements, ...(agreement ? { agreement } : {}) };
  };
}
