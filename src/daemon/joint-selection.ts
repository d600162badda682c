import type { Config } from '../config/types.js';
import type { ResolvedCamera } from '../config/cameras.js';
import type { Logger } from '../util/log.js';
import { EdgefitError } from '../util/errors.js';
import type { DeviceInfo } from '../device/types.js';
import type { Variant } from '../catalog/types.js';
import { budgetFromConfig, cachePathOf, coresOf, measurerFor, type Choice } from '../select/choose.js';
import { runtimeOf } from '../profile/runtime.js';
import { measuredCandidate } from '../select/search.js';
import type { Candidate } from '../select/types.js';
import { ProfileCache } from '../profile/cache.js';
import { boardFingerprint } from '../device/probe.js';
import { resolveBudget } from '../select/policy.js';
import { jointOptions } from '../select/joint-options.js';
import { chooseJoint, type JointDecision } from '../select/joint-explain.js';
import { optimum, smallestSet, stepDown, setLoad, sessionKey, type Assignment, type JointInput, type JointOption, type StepDown } from '../select/joint.js';
import { verifyJoint, type Verification } from '../select/verify-joint.js';
import { measureSlowdown } from '../profile/concurrency.js';
import { SelectionService } from './selection-service.js';
import type { FleetSeed } from '../select/fleet-seed.js';

/** One camera's part of the joint choice: its own selection (the ladder of its task, measured) and its options. */
export interface CameraPlan {
  cam: ResolvedCamera;
  /** the camera's own single-camera choice: its candidates carry the measurements the options come from */
  choice: Choice;
  options: JointOption[];
  /** option id -> the variant it runs */
  variants: Map<string, Variant>;
  budgetMs: number;
}

export interface JointSelectionInputs {
  config: Config;
  cameras: ResolvedCamera[];
  log: Logger;
  signal: AbortSignal;
  stopped(): boolean;
  /** measure the chosen set running together (default true); off, the choice is taken as computed */
  verify?: boolean;
  /** the verification's window per round (ms) */
  verifyWindowMs?: number;
  /** the fleet's shared measurements of this board (fleet.useMeasurements): read once, seeding every camera's selection */
  fleetSeed?: (board: string) => Promise<FleetSeed | undefined>;
}

const f1 = (x: number) => x.toFixed(1);

/**
 * The joint choice of several cameras at the daemon's start (docs/cameras.md): the device probed once, each
 * camera's ladder profiled by its own selection (measurements cached and shared), the board's slowdown measured,
 * the exact search (chooseJoint), then the chosen set measured running together and stepped down while it misses
 * (verifyJoint). When nothing fits, the smallest set runs and each camera says by how much it misses. Later
 * changes (a camera offline or back, a throttling board) re-solve over the cameras online (`resolve`, `stepDown`).
 */
export class JointSelection {
  device!: DeviceInfo;
  plans: CameraPlan[] = [];
  input!: JointInput;
  decision!: JointDecision;
  verification: Verification | undefined;
  assignment: Assignment = [];
  /** per camera, why it runs what it runs (the joint reason, a verification step or a live change) */
  reasons: string[] = [];
  warning: string | undefined;

  constructor(private readonly i: JointSelectionInputs) {}

  async prepare(): Promise<void> {
    const { log, cameras } = this.i;
    const unused = (what: string) => () => { throw new EdgefitError('E_SHARED_WORKERS', `a camera's own selection does not ${what} with several cameras`); };
    // one read of the fleet's figures for all cameras: the board is the same, and each read waits for the broker
    let seed: Promise<FleetSeed | undefined> | undefined;
    const fleetSeed = this.i.fleetSeed;
    for (const cam of cameras) {
      log.info('camera selection', { camera: cam.id, task: cam.config.models.task, fps: cam.fps });
      const sel = new SelectionService({
        config: cam.config, log, signal: this.i.signal, stopped: this.i.stopped, mqtt: () => undefined, throttled: () => false,
        engine: undefined as never, source: unused('read a source'), pipeline: unused('run a pipeline'),
        ...(this.device ? { device: this.device } : {}),
        ...(fleetSeed ? { fleetSeed: (board: string) => (seed ??= fleetSeed(board)) } : {}),
      });
      await sel.prepare();
      this.device = sel.device;
      this.warning ??= sel.warning;
      const pct = resolveBudget(budgetFromConfig(cam.config, this.device)).percentile;
      const budgetMs = resolveBudget(budgetFromConfig(cam.config, this.device)).latencyMs ?? 1000 / cam.fps;
      // the shared workers run on the CPU provider (one engine host per session)
      const candidates = await this.lighterMeasured(cam, sel.choice);
      const options = jointOptions(candidates, pct);
      const variants = new Map<string, Variant>();
      for (const c of candidates) for (const m of c.measurements) variants.set(`${c.id}/t${m.threads}`, c.variant);
      if (options.length === 0) throw new EdgefitError('E_NO_MODEL', `camera ${cam.id}: no model of its ladder was measured on the CPU; nothing can run it`);
      this.plans.push({ cam, choice: sel.choice, options, variants, budgetMs });
    }
    const memoryMb = resolveBudget(budgetFromConfig(this.i.config, this.device)).memoryMb;
    const board = { cores: coresOf(this.device), slowdown: 1, ...(memoryMb !== undefined && Number.isFinite(memoryMb) ? { memoryMb } : {}) };
    this.input = {
      cameras: this.plans.map((p) => ({ id: p.cam.id, fps: p.cam.fps, budgetMs: p.budgetMs, priority: p.cam.priority })),
      options: Object.fromEntries(this.plans.map((p) => [p.cam.id, p.options])),
      board,
    };
    board.slowdown = await this.measureSlowdown();
    const d = chooseJoint(this.input);
    this.decision = d;
    this.assignment = [...d.assignment];
    this.reasons = d.cameras.map((c) => c.reason + (c.misses.length ? `; misses: ${c.misses.join('; ')}` : ''));
    log.info('joint choice', { feasible: d.feasible, slowdown: Math.round(board.slowdown * 100) / 100, cores: board.cores, demand: Math.round(d.load.demand * 100) / 100, capacity: Math.round(d.load.capacity * 100) / 100 });
    for (const c of d.cameras) {
      log.info('camera choice', { camera: c.camera, option: c.option.id, reason: c.reason });
      if (c.misses.length) log.warn(`camera ${c.camera} misses its budget: ${c.misses.join('; ')}`, { camera: c.camera });
    }
    if (d.feasible && this.i.verify !== false) await this.verify();
  }

  /**
   * The camera's CPU candidates with every rung lighter than its own choice measured: the single-camera search
   * stops at the first rung that fits, but beside other cameras a camera may have to step down to any lighter one.
   * Rungs heavier than its choice missed its budget alone and stay out. Measurements are cached (the first start
   * pays them once).
   */
  private async lighterMeasured(cam: ResolvedCamera, choice: Choice): Promise<Candidate[]> {
    const cpu = choice.candidates.filter((c) => c.provider === 'cpu');
    const todo = cpu.filter((c) => c.measurements.length === 0 && c.variant.macs <= choice.variant.macs);
    if (todo.length === 0) return cpu;
    this.i.log.info('measuring the lighter rungs a joint choice may step down to', { camera: cam.id, rungs: todo.length });
    const measure = measurerFor(cam.config, {
      board: boardFingerprint(this.device), budget: budgetFromConfig(cam.config, this.device), cache: new ProfileCache(cachePathOf(cam.config)), cores: coresOf(this.device), signal: this.i.signal,
    });
    const done = new Map<string, Candidate>();
    for (const c of todo) {
      if (this.i.stopped()) break;
      try {
        done.set(c.id, measuredCandidate(c, await measure(c)));
      } catch (err) {
        if (this.i.stopped()) throw err;
        this.i.log.warn('a rung could not be measured; it is left out of the joint choice', { camera: cam.id, candidate: c.id, error: (err as Error).message });
      }
    }
    return cpu.map((c) => done.get(c.id) ?? c);
  }

  /** One stream per core of the first camera's model, as the cameras will run it. */
  private async measureSlowdown(): Promise<number> {
    const cores = this.input.board.cores;
    if (cores < 2) return 1;
    // the first camera's own choice: a model of the weight the cameras will run (a tiny one barely touches the
    // caches and memory bandwidth that streams contend for)
    const p0 = this.plans[0]!;
    const byTime = p0.options.slice().sort((a, b) => a.timeMs - b.timeMs);
    const first = p0.options.find((o) => p0.variants.get(o.id) === p0.choice.variant && o.threads === p0.choice.threads) ?? byTime[byTime.length >> 1]!;
    if (!first.modelPath || !first.resolution) return 1;
    try {
      const lib = runtimeOf(this.i.config).ortLibraryPath;
      const s = await measureSlowdown(first.modelPath, { streams: cores, resolution: first.resolution, durationMs: 2000, rounds: 4, frame: new Uint8Array(first.resolution * first.resolution * 3).fill(128), ...(lib ? { ortLibraryPath: lib } : {}) });
      this.i.log.info('concurrency slowdown', { model: first.id, factor: Math.round(s.factor * 100) / 100, aloneFps: Math.round(s.aloneFps), togetherFps: Math.round(s.togetherFps) });
      // a burst of other load during the short measurement must not make the board look unusable
      return Math.max(0.3, s.factor);
    } catch (err) {
      this.i.log.warn('the concurrency slowdown could not be measured; assuming none', { error: (err as Error).message });
      return 1;
    }
  }

  private async verify(): Promise<void> {
    const v = await verifyJoint(this.input, this.assignment, {
      windowMs: this.i.verifyWindowMs ?? 3000, warmupMs: 500, maxRounds: 3,
      log: (l) => this.i.log.info(l),
    });
    this.verification = v;
    const before = this.assignment;
    this.assignment = [...v.assignment];
    const last = v.rounds[v.rounds.length - 1]!;
    this.plans.forEach((p, ci) => {
      const m = last.cameras[ci]!;
      const measured = `measured running together: ${m.achievedFps.toFixed(1)} fps of ${p.cam.fps}, p90 ${f1(m.p90Ms)} ms of ${f1(p.budgetMs)}`;
      if (before[ci] !== this.assignment[ci]) this.reasons[ci] = `stepped down after the concurrent measurement (the cheapest loss first): ${this.option(ci).id}; ${measured}`;
      else this.reasons[ci] += `; ${measured}`;
      if (!m.meets) this.reasons[ci] += ` (misses: ${m.misses.join('; ')})`;
    });
    if (!v.met) this.i.log.warn('the chosen set did not meet every camera when measured running together; it runs as stepped down', { rounds: v.rounds.length });
  }

  option(ci: number, a: Assignment = this.assignment): JointOption {
    return this.plans[ci]!.options[a[ci]!]!;
  }

  variant(ci: number, a: Assignment = this.assignment): Variant {
    const p = this.plans[ci]!;
    return p.variants.get(this.option(ci, a).id)!;
  }

  /** Sessions of an assignment: one per model, resolution and thread count. */
  sessions(a: Assignment = this.assignment): Map<string, { option: JointOption; cameras: number[] }> {
    const out = new Map<string, { option: JointOption; cameras: number[] }>();
    a.forEach((_, ci) => {
      const o = this.option(ci, a);
      const key = sessionKey(o);
      const s = out.get(key) ?? { option: o, cameras: [] };
      s.cameras.push(ci);
      out.set(key, s);
    });
    return out;
  }

  /**
   * The best set over the cameras online (the offline ones keep their option, taking no share): a camera offline
   * frees its share, one back online takes it again. Undefined when nothing changes.
   */
  resolve(online: boolean[]): { assignment: Assignment; changed: number[]; reason: string } | undefined {
    const idx = this.plans.map((_, ci) => ci).filter((ci) => online[ci]);
    if (idx.length === 0) return undefined;
    const sub: JointInput = { ...this.input, cameras: idx.map((ci) => this.input.cameras[ci]!) };
    const best = optimum(sub) ?? smallestSet(sub);
    const next = [...this.assignment];
    idx.forEach((ci, k) => { next[ci] = best[k]!; });
    const changed = next.map((k, ci) => (k !== this.assignment[ci] ? ci : -1)).filter((ci) => ci >= 0);
    if (changed.length === 0) return undefined;
    const offline = this.plans.filter((_, ci) => !online[ci]).map((p) => p.cam.id);
    return { assignment: next, changed, reason: offline.length ? `re-solved with ${offline.join(', ')} offline (its share freed)` : 're-solved with every camera online' };
  }

  /** The cheapest loss over the cameras online (a throttling board, a live miss). */
  stepDown(online: boolean[]): { assignment: Assignment; step: StepDown } | undefined {
    const idx = this.plans.map((_, ci) => ci).filter((ci) => online[ci]);
    if (idx.length === 0) return undefined;
    const sub: JointInput = { ...this.input, cameras: idx.map((ci) => this.input.cameras[ci]!) };
    const step = stepDown(sub, idx.map((ci) => this.assignment[ci]!));
    if (!step) return undefined;
    const next = [...this.assignment];
    idx.forEach((ci, k) => { next[ci] = step.assignment[k]!; });
    return { assignment: next, step };
  }

  /** cores the set keeps busy, as predicted */
  demand(a: Assignment = this.assignment): number {
    return setLoad(this.input, a).demand;
  }
}
