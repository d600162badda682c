/**
 * Verifies a joint choice by running it as it will run: one engine host per session (cameras on the same model
 * share it), the fair queue over at most one run per core, frames offered at each camera's fps for a window.
 * Per camera: achieved fps, p90 from offer to answer, and the gap between the load the model predicted and the
 * load measured. A set that misses steps down the cheapest loss (stepDown in joint.ts) and is measured again,
 * a bounded number of rounds.
 */
import { SharedWorkers, type SharedSession } from '../engine/shared-workers.js';
import { percentileSorted } from '../profile/stats.js';
import { EdgefitError } from '../util/errors.js';
import { demandOf, sessionKey, setLoad, stepDown, type Assignment, type JointInput, type JointOption, type StepDown } from './joint.js';

export interface VerifyOptions {
  /** how long frames are offered and counted (ms); default 3000 */
  windowMs?: number;
  /** frames offered before counting starts (ms): sessions warm, queue costs settle; default 500 */
  warmupMs?: number;
  /** measurements at most (the first and each step down); default 4 */
  maxRounds?: number;
  /** runs at once; default cores / the largest thread count of the set (one run per core) */
  slots?: number;
  /** a camera meets its fps when at least this fraction of the frames offered to it is answered; default 0.9 */
  fpsTolerance?: number;
  /** the frame offered to a model of this resolution; default a fixed pattern */
  frameFor?: (resolution: number) => Uint8Array;
  optimizedCacheDir?: string;
  log?: (line: string) => void;
  /** how a set is measured; default measureSet (a replay of recorded measurements in tests) */
  measure?: (inp: JointInput, a: Assignment, o: VerifyOptions) => Promise<SetMeasure>;
}

export interface CameraMeasure {
  camera: string;
  option: string;
  fps: number;
  budgetMs: number;
  offered: number;
  processed: number;
  /** offered in the window but never answered: replaced by a newer frame, or still waiting at its end */
  dropped: number;
  errors: number;
  /** answered frames / window */
  achievedFps: number;
  /** answered / offered: the fraction of the camera's fps it was served (what `meets` judges, free of timer jitter) */
  served: number;
  /** offer to answer, over the frames answered */
  p90Ms: number;
  /** time inside the runtime, mean */
  meanRunMs: number;
  /** fps x mean time alone x threads (cores): the demand the joint choice counted against cores x slowdown */
  predictedLoad: number;
  /** achieved fps x measured run time x threads (cores) */
  measuredLoad: number;
  /** mean run time measured together / mean time alone - 1 (the joint model allowed up to 1 / slowdown - 1) */
  runGap: number;
  meets: boolean;
  /** why not, in words (empty when it meets) */
  misses: string[];
}

export interface SetMeasure {
  assignment: Assignment;
  cameras: CameraMeasure[];
  windowMs: number;
  slots: number;
  /** sum of the cameras' predicted load (cores), without the slowdown: CPU time does not grow as wall time does */
  predictedLoad: number;
  /** CPU time the process used in the window / the window (cores): inference, queue and offering */
  measuredCpuCores: number;
  /** measuredCpuCores / predictedLoad - 1 */
  loadGap: number;
  /** the distinct sessions' measured peaks (each model loaded once), as the choice counted them (MB) */
  predictedMemoryMb: number;
  /** the process's resident memory at the window's end minus before the sessions loaded (MB) */
  rssGrowthMb: number;
  met: boolean;
}

export interface Verification {
  /** every measurement, in order; `steps` are the steps down that followed it */
  rounds: (SetMeasure & { steps?: StepDown[] })[];
  /** the last set measured */
  assignment: Assignment;
  met: boolean;
}

const patterns = new Map<number, Uint8Array>();
function defaultFrame(resolution: number): Uint8Array {
  let f = patterns.get(resolution);
  if (!f) {
    f = new Uint8Array(resolution * resolution * 3);
    for (let i = 0; i < f.length; i++) f[i] = (i * 31 + (i >> 9)) & 0xff;
    patterns.set(resolution, f);
  }
  return f;
}

function optionOf(inp: JointInput, a: Assignment, ci: number): JointOption {
  return inp.options[inp.cameras[ci]!.id]![a[ci]!]!;
}

function sessionsOf(inp: JointInput, a: Assignment): SharedSession[] {
  const out = new Map<string, SharedSession>();
  inp.cameras.forEach((c, ci) => {
    const o = optionOf(inp, a, ci);
    if (!o.modelPath || !o.resolution) throw new EdgefitError('E_JOINT_INPUT', `camera ${c.id}, option ${o.id}: running the set needs the option's modelPath and resolution`);
    const key = sessionKey(o);
    if (!out.has(key)) out.set(key, { key, modelPath: o.modelPath, threads: o.threads, resolution: o.resolution });
  });
  return [...out.values()];
}

/** Runs one set for warmup + window and measures it. */
export async function measureSet(inp: JointInput, a: Assignment, o: VerifyOptions = {}): Promise<SetMeasure> {
  const windowMs = o.windowMs ?? 3000, warmupMs = o.warmupMs ?? 500, tol = o.fpsTolerance ?? 0.9;
  const frameFor = o.frameFor ?? defaultFrame;
  const slots = o.slots ?? setLoad(inp, a).slots;
  const n = inp.cameras.length;
  const lat: number[][] = inp.cameras.map(() => []);
  const run: number[] = new Array<number>(n).fill(0);
  const offered: number[] = new Array<number>(n).fill(0);
  const errors: number[] = new Array<number>(n).fill(0);
  const index = new Map(inp.cameras.map((c, i) => [c.id, i]));
  let winStart = Infinity, winEnd = Infinity;
  const rss0 = process.memoryUsage.rss();
  const inWindow = (offerT: number) => offerT >= winStart && offerT < winEnd;
  const workers = await SharedWorkers.start(sessionsOf(inp, a), inp.cameras.map((c, ci) => {
    const opt = optionOf(inp, a, ci);
    return { id: c.id, fps: c.fps, session: sessionKey(opt), costMs: opt.timeMs / inp.board.slowdown };
  }), {
    slots,
    ...(o.optimizedCacheDir ? { optimizedCacheDir: o.optimizedCacheDir } : {}),
    onResult: (r) => {
      const i = index.get(r.camera)!;
      if (!inWindow(performance.now() - r.latencyMs)) return;
      lat[i]!.push(r.latencyMs);
      run[i]! += r.inferMs;
    },
    onError: (camera) => { errors[index.get(camera)!]!++; },
  });
  const timers: NodeJS.Timeout[] = [];
  let c0: NodeJS.CpuUsage | undefined;
  try {
    const t0 = performance.now();
    inp.cameras.forEach((c, ci) => {
      const frame = frameFor(optionOf(inp, a, ci).resolution!);
      const push = () => {
        if (inWindow(performance.now())) offered[ci]!++;
        workers.offer(c.id, frame);
      };
      push();
      timers.push(setInterval(push, 1000 / c.fps));
    });
    await new Promise((r) => setTimeout(r, Math.max(0, t0 + warmupMs - performance.now())));
    winStart = performance.now();
    c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, windowMs));
    winEnd = performance.now();
    const cpu = process.cpuUsage(c0);
    const rssGrowthMb = (process.memoryUsage.rss() - rss0) / 1048576;
    for (const t of timers.splice(0)) clearInterval(t);
    // what was offered in the window is answered (or dropped) before it is counted; bounded, a hung run has a timeout
    await Promise.race([workers.idle(), new Promise((r) => setTimeout(r, 10_000))]);
    const measuredWindowMs = winEnd - winStart;
    const cameras = inp.cameras.map((c, ci): CameraMeasure => {
      const opt = optionOf(inp, a, ci);
      const sorted = Float64Array.from(lat[ci]!).sort();
      const processed = sorted.length;
      const achievedFps = (processed * 1000) / measuredWindowMs;
      const meanRunMs = processed ? run[ci]! / processed : NaN;
      const p90Ms = percentileSorted(sorted, 90);
      const misses: string[] = [];
      const served = offered[ci]! > 0 ? processed / offered[ci]! : 0;
      if (!(served >= tol)) misses.push(`served ${(served * 100).toFixed(0)}% of its ${c.fps} fps (${achievedFps.toFixed(1)} fps)`);
      if (!(p90Ms <= c.budgetMs)) misses.push(`p90 ${p90Ms.toFixed(1)} ms over its budget of ${c.budgetMs} ms`);
      return {
        camera: c.id, option: opt.id, fps: c.fps, budgetMs: c.budgetMs, offered: offered[ci]!, processed, errors: errors[ci]!,
        dropped: Math.max(0, offered[ci]! - processed - errors[ci]!), achievedFps, served, p90Ms, meanRunMs,
        predictedLoad: demandOf(c, opt), measuredLoad: (achievedFps * meanRunMs * opt.threads) / 1000,
        runGap: meanRunMs / opt.timeMs - 1, meets: misses.length === 0, misses,
      };
    });
    const predictedLoad = cameras.reduce((s, c) => s + c.predictedLoad, 0);
    const measuredCpuCores = (cpu.user + cpu.system) / 1000 / measuredWindowMs;
    return {
      assignment: [...a], cameras, windowMs: measuredWindowMs, slots, predictedLoad, measuredCpuCores, loadGap: measuredCpuCores / predictedLoad - 1,
      predictedMemoryMb: setLoad(inp, a).memoryMb, rssGrowthMb, met: cameras.every((c) => c.meets),
    };
  } finally {
    for (const t of timers) clearInterval(t);
    await workers.close();
  }
}

/**
 * How far the set fell short in throughput, as a factor <= 1: the smallest fraction of frames served over the
 * cameras. A p90 miss is not sized: latency grows with queueing far faster than with load, so budget / p90 would
 * step far past what is needed; it steps once per round instead.
 */
export function shortfall(m: SetMeasure): number {
  let f = 1;
  for (const c of m.cameras) f = Math.min(f, c.served);
  return Number.isFinite(f) ? Math.max(0, f) : 0;
}

/**
 * Measures the set; while it misses, steps down the cheapest losses and measures again (at most maxRounds
 * measurements). Each round steps until the set's predicted demand is within the measured shortfall of what it
 * was (at least one step): when the board served only a fraction of the frames, one small step at a time would
 * spend the rounds on losses that cannot close the gap; the next measurement judges the result.
 */
export async function verifyJoint(inp: JointInput, a: Assignment, o: VerifyOptions = {}): Promise<Verification> {
  const maxRounds = o.maxRounds ?? 4;
  if (!Number.isInteger(maxRounds) || maxRounds < 1) throw new EdgefitError('E_JOINT_INPUT', `maxRounds must be a whole number >= 1 (got ${maxRounds})`);
  const rounds: Verification['rounds'] = [];
  let cur = [...a];
  for (;;) {
    const m = await (o.measure ?? measureSet)(inp, cur, o);
    o.log?.(`joint: ${m.met ? 'met' : 'missed'} with ${m.cameras.map((c) => `${c.camera}=${c.option}`).join(', ')}${m.met ? '' : `: ${m.cameras.flatMap((c) => c.misses.map((x) => `${c.camera} ${x}`)).join('; ')}`}`);
    rounds.push(m);
    if (m.met || rounds.length >= maxRounds) break;
    const short = shortfall(m);
    const target = setLoad(inp, cur).demand * short;
    const steps: StepDown[] = [];
    let next = cur;
    for (;;) {
      const step = stepDown(inp, next);
      if (!step) break;
      steps.push(step);
      next = step.assignment;
      o.log?.(`joint: ${step.reason}`);
      if (short >= 1 || setLoad(inp, next).demand <= target) break;
    }
    if (steps.length === 0) break;
    rounds[rounds.length - 1]!.steps = steps;
    cur = next;
  }
  return { rounds, assignment: cur, met: rounds[rounds.length - 1]!.met };
}
