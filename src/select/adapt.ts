import { EdgefitError } from '../util/errors.js';

/** A rung the adapter may switch to: a candidate that fits memory and loaded fine, with its profiled latency. */
export interface AdaptRung {
  id: string;
  /** profiled latency at the adapter's percentile (ms) */
  profiledMs: number;
}

export interface AdaptOptions {
  /** largest first (the selector's rank order) */
  ladder: AdaptRung[];
  /** id of the rung running now */
  current: string;
  budgetMs: number;
  /** which percentile of the live window is compared with the budget; default 90 */
  percentile?: number;
  /** frames in the rolling window; default 30 */
  windowSize?: number;
  /** frames needed in the window before any decision; default 10 */
  minSamples?: number;
  /** frames ignored right after a switch (a new session's first runs are slow); default 3 */
  settleFrames?: number;
  /** the live percentile must stay over budget this long before stepping down; default 3 s */
  sustainMs?: number;
  /** no step up sooner than this after any switch; doubles when a step up is undone; default 30 s */
  cooldownMs?: number;
  /** upper bound of the doubled cool-down; default 10 min */
  maxCooldownMs?: number;
  /** the rung above must be predicted at or under headroom x budget ... */
  headroom?: number;
  /** ... for this long, before stepping up; default 10 s */
  upSustainMs?: number;
  /** judge the window at most this often (ms); 0 = every frame. The daemon uses 100: decisions need seconds */
  evalEveryMs?: number;
  /** injected clock (ms); the daemon passes performance.now or Date.now */
  clock: () => number;
}

export interface SwitchEvent {
  from: string;
  to: string;
  reason: 'over-budget' | 'headroom';
  at: number;
  /** e.g. "live p90 48.0 ms > 33.0 ms for 3.0 s; slowdown x1.60; predicted 30.4 ms" */
  detail: string;
  liveMs: number;
  /** live / profiled latency of the rung that was running */
  slowdown: number;
}

export interface ThermalState {
  /** the board reports throttling (thermal or under-voltage): never step up then */
  throttled: boolean;
}

/**
 * Live re-selection with hysteresis. Fed one latency per frame; steps down to the largest smaller rung predicted
 * to fit (its profiled latency scaled by the observed slowdown) when the live percentile stays over budget, and
 * steps up one rung only after a cool-down, while unthrottled, with the rung above predicted under headroom.
 * A step up that has to be undone within the cool-down doubles the cool-down, so an oscillating load cannot
 * make it flap. Pure logic on an injected clock: no timers, no I/O.
 */
export class Adapter {
  readonly events: SwitchEvent[] = [];
  private readonly ladder: AdaptRung[];
  private readonly index = new Map<string, number>();
  private cur: number;
  private readonly ring: Float64Array;
  private readonly scratch: Float64Array;
  private count = 0;
  private head = 0;
  private skip: number;
  private overSince: number | undefined;
  private upSince: number | undefined;
  private lastSwitchAt: number;
  private lastUpAt: number | undefined;
  private cooldown: number;
  private throttled = false;
  private lastEvalAt = -Infinity;
  private budget: number;
  private readonly o: Required<Omit<AdaptOptions, 'ladder' | 'current' | 'budgetMs' | 'clock'>> & { clock: () => number };

  constructor(opts: AdaptOptions) {
    if (!opts || !Array.isArray(opts.ladder) || opts.ladder.length === 0) throw new EdgefitError('E_ADAPT', 'adapter needs a non-empty ladder');
    if (typeof opts.clock !== 'function') throw new EdgefitError('E_ADAPT', 'adapter needs a clock function');
    opts.ladder.forEach((r, i) => {
      if (!r || typeof r.id !== 'string' || this.index.has(r.id)) throw new EdgefitError('E_ADAPT', `ladder rung ${i} needs a unique id`);
      if (!(Number.isFinite(r.profiledMs) && r.profiledMs > 0)) throw new EdgefitError('E_ADAPT', `ladder rung ${r.id} needs a profiled latency > 0 ms`);
      this.index.set(r.id, i);
    });
    this.ladder = opts.ladder.map((r) => ({ ...r }));
    const cur = this.index.get(opts.current);
    if (cur === undefined) throw new EdgefitError('E_ADAPT', `current rung ${opts.current} is not in the ladder`);
    this.cur = cur;
    this.budget = checkBudget(opts.budgetMs);
    this.o = {
      percentile: opts.percentile ?? 90,
      windowSize: opts.windowSize ?? 30,
      minSamples: opts.minSamples ?? 10,
      settleFrames: opts.settleFrames ?? 3,
      sustainMs: opts.sustainMs ?? 3000,
      cooldownMs: opts.cooldownMs ?? 30_000,
      maxCooldownMs: opts.maxCooldownMs ?? 600_000,
      headroom: opts.headroom ?? 0.8,
      upSustainMs: opts.upSustainMs ?? 10_000,
      evalEveryMs: opts.evalEveryMs ?? 0,
      clock: opts.clock,
    };
    const o = this.o;
    if (!(o.percentile > 0 && o.percentile <= 100)) throw new EdgefitError('E_ADAPT', `percentile must be in (0, 100] (got ${o.percentile})`);
    if (!(Number.isInteger(o.windowSize) && o.windowSize >= 1)) throw new EdgefitError('E_ADAPT', 'windowSize must be a whole number >= 1');
    if (!(Number.isInteger(o.minSamples) && o.minSamples >= 1 && o.minSamples <= o.windowSize)) throw new EdgefitError('E_ADAPT', 'minSamples must be between 1 and windowSize');
    if (!(o.headroom > 0 && o.headroom < 1)) throw new EdgefitError('E_ADAPT', `headroom must be in (0, 1) so stepping up and down cannot overlap (got ${o.headroom})`);
    for (const k of ['sustainMs', 'cooldownMs', 'maxCooldownMs', 'upSustainMs', 'settleFrames'] as const) {
      if (!(Number.isFinite(o[k]) && o[k] >= 0)) throw new EdgefitError('E_ADAPT', `${k} must be a number >= 0`);
    }
    this.ring = new Float64Array(o.windowSize);
    this.scratch = new Float64Array(o.windowSize);
    this.skip = 0;
    this.lastSwitchAt = o.clock();
    this.cooldown = o.cooldownMs;
  }

  get current(): string {
    return this.ladder[this.cur]!.id;
  }

  /** The budget can change at run time (a config reload); the window is kept. */
  setBudget(ms: number): void {
    this.budget = checkBudget(ms);
    this.overSince = undefined;
    this.upSince = undefined;
  }

  /** The live percentile of the window, NaN until minSamples frames arrived. */
  livePercentile(): number {
    const n = this.count;
    if (n < this.o.minSamples) return NaN;
    // Unfilled slots sort to the end as +Infinity: no per-frame allocation.
    this.scratch.set(this.ring);
    for (let i = n; i < this.scratch.length; i++) this.scratch[i] = Infinity;
    this.scratch.sort();
    const rank = Math.ceil((this.o.percentile / 100) * n);
    return this.scratch[Math.min(n - 1, Math.max(0, rank - 1))]!;
  }

  /** Feeds one frame's latency; returns the switch it caused, if any. The caller then loads `event.to`. */
  observe(latencyMs: number, thermal?: ThermalState): SwitchEvent | null {
    if (thermal) this.throttled = thermal.throttled;
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return null;
    if (this.skip > 0) { this.skip--; return null; }
    this.ring[this.head] = latencyMs;
    this.head = (this.head + 1) % this.ring.length;
    if (this.count < this.ring.length) this.count++;
    const now = this.o.clock();
    // the sort behind the percentile is the adapter's whole cost: not on every frame when frames are fast
    if (now - this.lastEvalAt < this.o.evalEveryMs) return null;
    this.lastEvalAt = now;
    const live = this.livePercentile();
    if (Number.isNaN(live)) return null;
    const slowdown = live / this.ladder[this.cur]!.profiledMs;

    if (live > this.budget) {
      this.upSince = undefined;
      this.overSince ??= now;
      if (now - this.overSince >= this.o.sustainMs) return this.stepDown(now, live, slowdown);
      return null;
    }
    this.overSince = undefined;

    const up = this.cur - 1;
    if (up < 0 || this.throttled || now - this.lastSwitchAt < this.cooldown) { this.upSince = undefined; return null; }
    const predicted = this.ladder[up]!.profiledMs * slowdown;
    if (predicted > this.o.headroom * this.budget) { this.upSince = undefined; return null; }
    this.upSince ??= now;
    if (now - this.upSince < this.o.upSustainMs) return null;
    return this.switchTo(up, now, 'headroom', live, slowdown,
      `live p${this.o.percentile} ${live.toFixed(1)} ms; ${this.ladder[up]!.id} predicted ${predicted.toFixed(1)} ms <= ${(this.o.headroom * 100).toFixed(0)}% of ${this.budget.toFixed(1)} ms`);
  }

  private stepDown(now: number, live: number, slowdown: number): SwitchEvent | null {
    let target = -1;
    for (let i = this.cur + 1; i < this.ladder.length; i++) {
      if (this.ladder[i]!.profiledMs * slowdown <= this.budget) { target = i; break; }
    }
    // nothing predicted to fit: the smallest rung is still the best effort
    if (target < 0) target = this.ladder.length - 1;
    if (target === this.cur) { this.overSince = undefined; return null; }
    // undoing a recent step up: that rung was not sustainable, so wait longer before trying again
    if (this.lastUpAt !== undefined && now - this.lastUpAt < this.cooldown) {
      this.cooldown = Math.min(this.o.maxCooldownMs, this.cooldown * 2);
    }
    const predicted = this.ladder[target]!.profiledMs * slowdown;
    return this.switchTo(target, now, 'over-budget', live, slowdown,
      `live p${this.o.percentile} ${live.toFixed(1)} ms > ${this.budget.toFixed(1)} ms for ${((now - this.overSince!) / 1000).toFixed(1)} s; slowdown x${slowdown.toFixed(2)}; ${this.ladder[target]!.id} predicted ${predicted.toFixed(1)} ms`);
  }

  private switchTo(target: number, now: number, reason: SwitchEvent['reason'], live: number, slowdown: number, detail: string): SwitchEvent {
    const ev: SwitchEvent = { from: this.current, to: this.ladder[target]!.id, reason, at: now, detail, liveMs: live, slowdown };
    this.cur = target;
    this.lastSwitchAt = now;
    if (reason === 'headroom') this.lastUpAt = now;
    // the window described the old model
    this.count = 0;
    this.head = 0;
    this.skip = this.o.settleFrames;
    this.overSince = undefined;
    this.upSince = undefined;
    this.events.push(ev);
    return ev;
  }
}

function checkBudget(ms: number): number {
  if (!(typeof ms === 'number' && Number.isFinite(ms) && ms > 0)) throw new EdgefitError('E_ADAPT', `latency budget must be a number > 0 ms (got ${ms})`);
  return ms;
}
