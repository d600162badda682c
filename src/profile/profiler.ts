import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Variant } from '../catalog/types.js';
import type { ProviderName } from '../engine/engine.js';
import { EdgefitError } from '../util/errors.js';
import { distModule } from '../util/paths.js';
import type { Measurement } from './types.js';
import type { ChildFault, ChildJob, ChildMessage, ChildPhase } from './protocol.js';
import { readProcMemory } from '../util/procstatus.js';
import { emptyStats } from './stats.js';

export interface ProfileProgress {
  phase: ChildPhase;
  /** timed runs so far (warm-up runs during 'warmup') */
  runs: number;
  elapsedMs: number;
}

export interface ProfileOptions {
  provider?: ProviderName;
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

  if (opts.signal?.aborted) return Promise.reject(stoppedError());
  return new Promise<Measurement>((resolve, reject) => {
    let child: ChildProcess;
    try {
      // execArgv [] so loaders or inspectors of the parent (vitest, --inspect) do not leak into the child.
      child = fork(childPath, [], { execArgv: [], stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'json' });
    } catch (err) {
      resolve(fail(`could not start the profiler child process: ${(err as Error).message}`));
      return;
    }
    let phase: ChildPhase = 'start';
    let baselineKb: number | undefined;
    let peakSeenKb = 0;
    let killedFor: string | undefined;
    let result: Extract<ChildMessage, { type: 'result' }> | undefined;
    let childError: Extract<ChildMessage, { type: 'error' }> | undefined;
    let stderrTail = '';
    let settled = false;
    const started = Date.now();

    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => { stderrTail = (stderrTail + d).slice(-1500); });

    const kill = (why: string) => {
      if (killedFor || settled) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms while ${PHASE_TEXT[phase]}; the model is too slow for this board or the runtime hung`), timeoutMs);
    const poll = limitKb === undefined ? undefined : setInterval(() => {
      if (baselineKb === undefined || child.pid === undefined) return;
      const m = readProcMemory(child.pid);
      if (!m) return;
      // VmHWM catches a spike that came and went between two polls.
      const used = Math.max(m.rssKb, m.hwmKb) - baselineKb;
      if (used > peakSeenKb) peakSeenKb = used;
      if (used > limitKb) {
        kill(`out of memory budget: resident memory grew ${mb(used)} MB over the child's baseline while ${PHASE_TEXT[phase]}, past the ${opts.memoryLimitMb} MB limit; killed`);
      }
    }, opts.pollMs ?? PROFILE_DEFAULTS.pollMs);

    child.on('message', (msg: ChildMessage) => {
      switch (msg.type) {
        case 'baseline': baselineKb = msg.rssKb; break;
        case 'phase': phase = msg.phase; opts.onProgress?.({ phase, runs: 0, elapsedMs: Date.now() - started }); break;
        case 'progress': opts.onProgress?.({ phase: msg.phase, runs: msg.runs, elapsedMs: Date.now() - started }); break;
        case 'result': result = msg; break;
        case 'error': childError = msg; break;
      }
    });

    let aborted = false;
    const onAbort = () => { aborted = true; kill('stopped'); };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (m: Measurement) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      opts.signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(stoppedError());
      else resolve(m);
    };

    child.on('error', (err) => {
      // spawn failures; exit follows for a started child, so only settle when it never started
      if (child.pid === undefined) finish(fail(`could not start the profiler child process: ${err.message}`));
    });

    child.on('exit', (code, signal) => {
      const partial: Partial<Measurement> = peakSeenKb > 0 ? { peakMb: mb(peakSeenKb) } : {};
      if (killedFor) return finish(fail(killedFor, partial));
      if (childError) {
        const what = childError.phase === 'load' ? 'load failed' : `failed while ${PHASE_TEXT[childError.phase]}`;
        return finish(fail(`${what}: ${childError.message}`));
      }
      if (result) {
        const m: Measurement = {
          variantId: v.id,
          provider,
          threads,
          ok: true,
          runs: result.runs,
          latencyMs: result.latencyMs,
          sessionCreateMs: result.sessionCreateMs,
          rssGrowthMb: mb(result.rssGrowthKb),
          peakMb: mb(Math.max(result.peakKb, result.rssGrowthKb)),
          measuredAt: new Date().toISOString(),
        };
        // The poll can miss a short spike; the child's own VmHWM cannot, so the limit also holds here.
        if (opts.memoryLimitMb !== undefined && m.peakMb > opts.memoryLimitMb) {
          return finish({ ...m, ok: false, error: `out of memory budget: peak ${m.peakMb} MB over the child's baseline, past the ${opts.memoryLimitMb} MB limit` });
        }
        return finish(m);
      }
      const tail = stderrTail.trim().split('\n').slice(-3).join(' | ');
      const how = signal
        ? `killed by ${signal}${signal === 'SIGKILL' ? ' (likely the kernel out-of-memory killer)' : ''}`
        : `exited with code ${code}`;
      finish(fail(`crashed: the profiler child ${how} while ${PHASE_TEXT[phase]}${tail ? ` (stderr: ${tail})` : ''}`, partial));
    });

    child.send(job);
  });
}

function stoppedError(): EdgefitError {
  return new EdgefitError('E_STOPPING', 'the measurement was stopped (the daemon is stopping); it runs again at the next start');
}

function mb(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}
