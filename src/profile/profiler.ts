import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Variant } from '../catalog/types.js';
import type { ProviderName } from '../engine/engine.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import type { Measurement } from './types.js';
import type { ChildAnswer, ChildFault, ChildJob, ChildMessage, ChildPhase } from './protocol.js';
import { IsolatedFailure, runIsolated } from '../util/run-isolated.js';
import { emptyStats } from './stats.js';
import { BUNDLED_RUNTIME, type OrtRuntime } from './runtime.js';

export interface ProfileProgress {
  phase: ChildPhase;
  /** timed runs so far (warm-up runs during 'warmup') */
  runs: number;
  elapsedMs: number;
}

export interface ProfileOptions {
  provider?: ProviderName;
  /** the onnxruntime library and TensorRT options to measure on; default: the bundled onnxruntime-node */
  runtime?: OrtRuntime;
  /** intra-op threads; default: all cores */
  threads?: number;
  /** warm-up lasts at least this many runs AND this long (TFLite's benchmark tool does the same) */
  warmupRuns?: number;
  warmupMs?: number;
  /** timed runs continue until both the count and the duration are reached */
  minRuns?: number;
  minMs?: number;
  /** stop after this many timed runs even if minMs is not reached (tiny models) */
  maxRuns?: number;
  /** the whole measurement, session creation included; the child is killed past it */
  timeoutMs?: number;
  /** memory the model may add over the child's baseline (MB); the child is killed past it */
  memoryLimitMb?: number;
  /** how often the child's /proc status is polled for the memory limit */
  pollMs?: number;
  onProgress?: (p: ProfileProgress) => void;
  /**
   * Aborting kills the child at once and rejects with `stopping` (not a failed measurement: the model did nothing
   * wrong). The daemon's stop() aborts, so a measurement cannot hold a shutdown past the service's stop timeout.
   */
  signal?: AbortSignal;
  /** test hook: make the child crash, leak or hang for real */
  fault?: ChildFault;
}

export const PROFILE_DEFAULTS = {
  warmupRuns: 1,
  warmupMs: 500,
  minRuns: 20,
  minMs: 2000,
  maxRuns: 10_000,
  timeoutMs: 120_000,
  pollMs: 20,
} as const;

const PHASE_TEXT: Record<ChildPhase, string> = {
  start: 'starting onnxruntime',
  load: 'creating the session',
  warmup: 'warming up',
  runs: 'timing runs',
};

function positive(name: string, v: number | undefined, integer: boolean, allowZero = false): void {
  if (v === undefined) return;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0) || (integer && !Number.isInteger(v))) {
    throw new EdgefitError('E_OPTIONS', `profile option ${name} must be a ${integer ? 'whole ' : ''}number${allowZero ? ' >= 0' : ' > 0'} (got ${v})`);
  }
}

/** A measurement that did not produce figures; the selector rejects it as 'failed' with this reason. */
export function failedMeasurement(v: Pick<Variant, 'id'>, provider: ProviderName, threads: number, error: string, extra: Partial<Measurement> = {}): Measurement {
  return {
    variantId: v.id,
    provider,
    threads,
    ok: false,
    error,
    runs: 0,
    latencyMs: emptyStats(),
    sessionCreateMs: NaN,
    rssGrowthMb: NaN,
    peakMb: NaN,
    measuredAt: new Date().toISOString(),
    ...extra,
  };
}

/**
 * Measures one (variant, provider, threads) in an isolated child process. Never rejects for anything the model or
 * runtime does: a crash, a kill for memory, a timeout or a load error comes back as ok:false with the reason.
 * Throws only for invalid options.
 */
export async function profileVariant(v: Variant, opts: ProfileOptions = {}): Promise<Measurement> {
  const provider = opts.provider ?? 'cpu';
  const threads = opts.threads ?? availableParallelism();
  positive('threads', threads, true);
  positive('warmupRuns', opts.warmupRuns, true, true);
  positive('warmupMs', opts.warmupMs, false, true);
  positive('minRuns', opts.minRuns, true);
  positive('minMs', opts.minMs, false, true);
  positive('maxRuns', opts.maxRuns, true);
  positive('timeoutMs', opts.timeoutMs, false);
  positive('memoryLimitMb', opts.memoryLimitMb, false);
  positive('pollMs', opts.pollMs, false);
  if (!v || typeof v.modelPath !== 'string' || typeof v.id !== 'string') {
    throw new EdgefitError('E_PROFILE_VARIANT', 'profileVariant needs a variant with an id and a modelPath');
  }
  const job: ChildJob = {
    type: 'job',
    modelPath: v.modelPath,
    provider,
    runtime: opts.runtime ?? BUNDLED_RUNTIME,
    threads,
    resolution: v.resolution,
    layout: v.input?.layout ?? 'NHWC',
    warmupRuns: opts.warmupRuns ?? PROFILE_DEFAULTS.warmupRuns,
    warmupMs: opts.warmupMs ?? PROFILE_DEFAULTS.warmupMs,
    minRuns: opts.minRuns ?? PROFILE_DEFAULTS.minRuns,
    minMs: opts.minMs ?? PROFILE_DEFAULTS.minMs,
    maxRuns: opts.maxRuns ?? PROFILE_DEFAULTS.maxRuns,
    ...(opts.fault ? { fault: opts.fault } : {}),
  };
  const fail = (error: string, extra: Partial<Measurement> = {}) => failedMeasurement(v, provider, threads, error, extra);
  if (!existsSync(v.modelPath)) return fail(`model file ${v.modelPath} does not exist; pull or import the model again`);
  const childPath = distModule('profile/child.js');
  if (!existsSync(childPath)) return fail(`the profiler's compiled child ${childPath} is missing; run \`npm run build\``);

  const timeoutMs = opts.timeoutMs ?? PROFILE_DEFAULTS.timeoutMs;
  const limitKb = opts.memoryLimitMb !== undefined ? opts.memoryLimitMb * 1024 : undefined;

  let phase: ChildPhase = 'start';
  let baselineKb: number | undefined;
  let peakSeenKb = 0;
  const started = Date.now();
  const partial = (): Partial<Measurement> => (peakSeenKb > 0 ? { peakMb: mb(peakSeenKb) } : {});
  let answer: ChildAnswer;
  try {
    answer = await runIsolated<ChildAnswer>(childPath, job, {
      timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onMessage: (raw) => {
        const msg = raw as ChildMessage;
        switch (msg.type) {
          case 'baseline': baselineKb = msg.rssKb; break;
          case 'phase': phase = msg.phase; opts.onProgress?.({ phase, runs: 0, elapsedMs: Date.now() - started }); break;
          case 'progress': opts.onProgress?.({ phase: msg.phase, runs: msg.runs, elapsedMs: Date.now() - started }); break;
        }
      },
      ...(limitKb === undefined ? {} : {
        watchMemory: {
          everyMs: opts.pollMs ?? PROFILE_DEFAULTS.pollMs,
          check: (m) => {
            if (baselineKb === undefined) return undefined;
            // VmHWM catches a spike that came and went between two polls.
            const used = Math.max(m.rssKb, m.hwmKb) - baselineKb;
            if (used > peakSeenKb) peakSeenKb = used;
            return used > limitKb
              ? `out of memory budget: resident memory grew ${mb(used)} MB over the child's baseline while ${PHASE_TEXT[phase]}, past the ${opts.memoryLimitMb} MB limit; killed`
              : undefined;
          },
        },
      }),
    });
  } catch (err) {
    if (!(err instanceof IsolatedFailure)) return fail(errorMessage(err));
    switch (err.end) {
      case 'aborted': throw stoppedError();
      case 'spawn': return fail(`could not start the profiler child process: ${err.detail}`);
      case 'memory': return fail(err.detail, partial());
      case 'timeout': return fail(`timed out after ${timeoutMs} ms while ${PHASE_TEXT[phase]}; the model is too slow for this board or the runtime hung`, partial());
      case 'crashed': {
        const tail = err.stderrTail.trim().split('\n').slice(-3).join(' | ');
        const { code, signal } = err.exit;
        const how = signal
          ? `killed by ${signal}${signal === 'SIGKILL' ? ' (likely the kernel out-of-memory killer)' : ''}`
          : code !== null ? `exited with code ${code}` : err.detail;
        return fail(`crashed: the profiler child ${how} while ${PHASE_TEXT[phase]}${tail ? ` (stderr: ${tail})` : ''}`, partial());
      }
    }
  }
  if (answer.type === 'error') {
    const what = answer.phase === 'load' ? 'load failed' : `failed while ${PHASE_TEXT[answer.phase]}`;
    return fail(`${what}: ${answer.message}`);
  }
  if (answer.type !== 'result') return fail(`the profiler child answered a ${answer.type} job`);
  const m: Measurement = {
    variantId: v.id,
    provider,
    threads,
    ok: true,
    runs: answer.runs,
    latencyMs: answer.latencyMs,
    sessionCreateMs: answer.sessionCreateMs,
    rssGrowthMb: mb(answer.rssGrowthKb),
    peakMb: mb(Math.max(answer.peakKb, answer.rssGrowthKb)),
    measuredAt: new Date().toISOString(),
  };
  // The poll can miss a short spike; the child's own VmHWM cannot, so the limit also holds here.
  if (opts.memoryLimitMb !== undefined && m.peakMb > opts.memoryLimitMb) {
    return { ...m, ok: false, error: `out of memory budget: peak ${m.peakMb} MB over the child's baseline, past the ${opts.memoryLimitMb} MB limit` };
  }
  return m;
}

function stoppedError(): EdgefitError {
  return new EdgefitError('E_STOPPING', 'the measurement was stopped (the daemon is stopping); it runs again at the next start');
}

function mb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}
