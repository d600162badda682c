import type { BackoffOptions } from './source.js';

/** A clock and timers, injectable so restart policy is testable without waiting. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // a camera retrying forever must not keep a process alive that has nothing else to do
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * Exponential backoff with full jitter (delay uniform in [0, min(cap, base * 2^attempt)]): restarts of
 * many cameras, or of one camera against a flaky server, spread out instead of hammering in lockstep.
 */
export class Backoff {
  readonly baseMs: number;
  readonly capMs: number;
  private readonly random: () => number;
  private attempts = 0;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 500;
    this.capMs = opts.capMs ?? 30_000;
    this.random = opts.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${this.baseMs} and ${this.capMs}`);
    }
  }

  get attempt(): number {
    return this.attempts;
  }

  /** The ceiling the next delay is drawn under. */
  ceiling(): number {
    // 2^attempt overflows to Infinity long after it passed the cap; min() keeps it finite
    return Math.min(this.capMs, this.baseMs * 2 ** this.attempts);
  }

  next(): number {
    const r = Math.min(Math.max(this.random(), 0), 1);
    const delay = Math.round(r * this.ceiling());
    this.attempts++;
    return delay;
  }

  reset(): void {
    this.attempts = 0;
  }
}

export interface WatchdogHooks {
  /** no frame for stallMs: the source marks itself offline and kills the capture (no restart yet) */
  stalled(seconds: number): void;
  /** the backoff delay elapsed: start the capture again */
  restart(): void;
  /** a restart is scheduled in delayMs (for stats and logs) */
  scheduled?(delayMs: number, attempt: number): void;
}

/**
 * Supervises one capture (a child process or a pipeline of them): a stall (no frame for stallMs since the
 * last frame, or none within startupMs of the capture's start) or a fault (the capture exited) schedules a restart after a
 * jittered exponential backoff. The backoff resets once the capture has delivered frames for stallMs, so a
 * camera that flaps does not restart in a tight loop.
 */
export class Watchdog {
  private readonly stallMs: number;
  private readonly startupMs: number;
  private readonly timers: Timers;
  readonly backoff: Backoff;
  private readonly hooks: WatchdogHooks;
  private stallTimer: unknown = null;
  private restartTimer: unknown = null;
  private lastActivity = 0;
  private healthySince = 0;
  private active = false;

  /**
   * startupMs: the wait for the first frame after a (re)start, at least stallMs; default max(stallMs, 10 s),
   * because ffmpeg probing an RTSP stream or a busy board spawning it can take seconds before any frame.
   */
  constructor(opts: { stallMs: number; startupMs?: number; backoff: Backoff; timers?: Timers }, hooks: WatchdogHooks) {
    if (!(opts.stallMs > 0)) throw new RangeError(`stallMs must be positive, got ${opts.stallMs}`);
    this.stallMs = opts.stallMs;
    this.startupMs = Math.max(opts.stallMs, opts.startupMs ?? 10_000);
    this.backoff = opts.backoff;
    this.timers = opts.timers ?? realTimers;
    this.hooks = hooks;
  }

  /** A capture was (re)started: frames are expected within stallMs. */
  begin(): void {
    this.cancel();
    this.active = true;
    this.lastActivity = this.timers.now();
    this.healthySince = 0;
    this.armStall(this.startupMs);
  }

  /** A frame arrived. Cheap: no timer is touched per frame. */
  frame(): void {
    const now = this.timers.now();
    this.lastActivity = now;
    if (this.healthySince === 0) {
      this.healthySince = now;
      // from the first frame on, the (shorter) stall limit applies: once per (re)start, not per frame
      if (this.stallTimer !== null) {
        this.clearStall();
        this.armStall(this.stallMs);
      }
    } else if (this.backoff.attempt > 0 && now - this.healthySince >= this.stallMs) this.backoff.reset();
  }

  /** The capture ended on its own (exit, spawn failure): restart after a backoff delay. */
  fault(): void {
    if (!this.active) return;
    this.clearStall();
    this.scheduleRestart();
  }

  /** Stop supervising: no stall detection, no pending restart. */
  cancel(): void {
    this.active = false;
    this.clearStall();
    if (this.restartTimer !== null) this.timers.clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  get restartPending(): boolean {
    return this.restartTimer !== null;
  }

  private armStall(ms: number): void {
    this.stallTimer = this.timers.setTimeout(() => this.checkStall(), ms);
  }

  private clearStall(): void {
    if (this.stallTimer !== null) this.timers.clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }

  private checkStall(): void {
    this.stallTimer = null;
    if (!this.active) return;
    const idle = this.timers.now() - this.lastActivity;
    const limit = this.healthySince === 0 ? this.startupMs : this.stallMs;
    if (idle < limit) {
      this.armStall(limit - idle);
      return;
    }
    this.hooks.stalled(idle / 1000);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restartTimer !== null) return;
    const attempt = this.backoff.attempt;
    const delay = this.backoff.next();
    this.hooks.scheduled?.(delay, attempt);
    this.restartTimer = this.timers.setTimeout(() => {
      this.restartTimer = null;
      if (!this.active) return;
      this.hooks.restart();
    }, delay);
  }
}
