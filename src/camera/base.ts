import { EventEmitter } from 'node:events';
import { EdgefitError } from '../util/errors.js';
import { FrameRing } from './ring.js';
import type { Frame, FrameFit, FrameSize, FrameSource, FrameSourceOptions, FrameSourceStats } from './source.js';

interface Waiter {
  resolve: (f: Frame) => void;
  reject: (e: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

const MAX_SIDE = 4096;

export function validateSize(size: FrameSize, what = 'frame size'): void {
  for (const k of ['width', 'height'] as const) {
    const v = size?.[k];
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) {
      throw new EdgefitError('E_CAMERA_CONFIG', `${what}: ${k} must be an integer from 1 to ${MAX_SIDE}, got ${String(v)}`);
    }
  }
}

export function validateOptions(opts: FrameSourceOptions): void {
  validateSize(opts);
  if (!(typeof opts.fps === 'number' && opts.fps > 0 && opts.fps <= 1000)) {
    throw new EdgefitError('E_CAMERA_CONFIG', `camera fps must be a number in (0, 1000], got ${String(opts.fps)}`);
  }
  if (!(typeof opts.watchdogSeconds === 'number' && opts.watchdogSeconds > 0 && opts.watchdogSeconds <= 3600)) {
    throw new EdgefitError('E_CAMERA_CONFIG', `camera watchdogSeconds must be in (0, 3600], got ${String(opts.watchdogSeconds)}`);
  }
  if (typeof opts.loop !== 'boolean') throw new EdgefitError('E_CAMERA_CONFIG', 'camera loop must be true or false');
  validateFit(opts.fit);
}

function validateFit(fit: unknown): void {
  if (fit !== undefined && fit !== 'crop' && fit !== 'stretch') throw new EdgefitError('E_CAMERA_CONFIG', `frame fit must be 'crop' or 'stretch', got ${String(fit)}`);
}

/**
 * What every source shares: the ring, counters, next() waiters and the event rules. Subclasses produce
 * frames by filling `ring.writable()` and calling `publish()`, and implement the capture lifecycle.
 */
export abstract class BaseFrameSource extends EventEmitter implements FrameSource {
  abstract readonly name: string;
  protected ring: FrameRing;
  protected readonly opts: FrameSourceOptions;
  protected readonly now: () => number;
  protected running = false;
  private waiters: Waiter[] = [];
  private seq = 0;
  private lastTakenSeq = 0;
  private lastTs = 0;
  protected counters = { framesIn: 0, dropped: 0, stalls: 0, restarts: 0 };
  protected online = false;
  protected ended = false;
  protected lastError: string | null = null;

  constructor(opts: FrameSourceOptions) {
    super();
    validateOptions(opts);
    this.opts = { ...opts };
    this.now = opts.now ?? Date.now;
    this.ring = new FrameRing(opts.width, opts.height);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.ended = false;
    try {
      await this.startCapture();
    } catch (err) {
      // a configuration error: leave the source stopped, so a corrected setup can start it again
      this.running = false;
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.stopCapture();
    this.setOffline(null);
    this.rejectWaiters(new EdgefitError('E_CAMERA_STOPPED', `camera ${this.name} was stopped`));
    this.ring.release();
  }

  async reconfigure(size: FrameSize): Promise<void> {
    validateSize(size);
    validateFit(size.fit);
    const fit = size.fit ?? this.fit;
    if (size.width === this.ring.width && size.height === this.ring.height && fit === this.fit) return;
    // a new ring: the frame the consumer holds keeps its old buffer (and dims) until it lets go of it
    this.ring = new FrameRing(size.width, size.height);
    this.opts.width = size.width;
    this.opts.height = size.height;
    this.opts.fit = fit;
    if (this.running) await this.resizeCapture({ width: size.width, height: size.height, fit });
  }

  /** how frames are fitted to the ring's size now */
  protected get fit(): FrameFit {
    return this.opts.fit ?? 'crop';
  }

  latest(): Frame | null {
    return this.ring.latest();
  }

  take(): Frame | null {
    const f = this.ring.take();
    if (f) this.lastTakenSeq = f.seq;
    return f;
  }

  release(): void {
    this.ring.release();
  }

  next(signal?: AbortSignal): Promise<Frame> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const f = this.take();
    if (f) return Promise.resolve(f);
    if (this.ended) return Promise.reject(new EdgefitError('E_CAMERA_ENDED', `camera ${this.name} has no more frames (end of input; set loop to repeat it)`));
    if (!this.running) return Promise.reject(new EdgefitError('E_CAMERA_STOPPED', `camera ${this.name} is not started`));
    return new Promise<Frame>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal };
      if (signal) {
        w.onAbort = () => {
          this.waiters = this.waiters.filter((x) => x !== w);
          reject(abortError(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.waiters.push(w);
    });
  }

  stats(): FrameSourceStats {
    return {
      ...this.counters,
      online: this.online,
      lastFrameAt: this.lastTs,
      lastError: this.lastError,
      width: this.ring.width,
      height: this.ring.height,
      bufferBytes: this.ring.bufferBytes,
      ended: this.ended,
    };
  }

  pids(): number[] {
    return [];
  }

  /**
   * Called by the producer once `ring.writable()` holds a complete frame. A producer that completes several
   * frames at once (one pipe read can carry a burst) passes wake=false and calls wake() after the burst, so
   * a waiting consumer gets the newest frame of it, not the first.
   */
  protected publish(wake = true): void {
    const ts = Math.max(this.now(), this.lastTs);
    this.lastTs = ts;
    this.seq++;
    this.counters.framesIn++;
    if (this.ring.commit(ts, this.seq)) this.counters.dropped++;
    this.setOnline();
    if (wake) this.wake();
  }

  /** Hands the newest untaken frame to the next() callers waiting, if any. */
  protected wake(): void {
    if (this.waiters.length > 0 && this.ring.hasUntaken()) {
      const f = this.take()!;
      const ws = this.waiters;
      this.waiters = [];
      // every waiter asked for "newer than the last taken": they all share this one held frame
      for (const w of ws) {
        if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
        w.resolve(f);
      }
    }
  }

  protected setOnline(): void {
    if (this.online) return;
    this.online = true;
    this.lastError = null;
    this.emit('online');
  }

  /** reason null: an orderly stop, not a fault */
  protected setOffline(reason: string | null): void {
    if (reason !== null) this.lastError = reason;
    if (!this.online) return;
    this.online = false;
    if (reason !== null) this.emit('offline', reason);
  }

  protected reportError(err: Error): void {
    this.lastError = err.message;
    // EventEmitter throws on an unhandled 'error': a camera fault must never take the daemon down
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  protected markEnded(): void {
    this.ended = true;
    this.setOffline(null);
    this.rejectWaiters(new EdgefitError('E_CAMERA_ENDED', `camera ${this.name} has no more frames (end of input; set loop to repeat it)`));
    this.emit('end');
  }

  private rejectWaiters(err: Error): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) {
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
  }

  protected abstract startCapture(): Promise<void>;
  protected abstract stopCapture(): Promise<void>;
  /** the ring already has the new size; restart or re-render capture to match it */
  protected abstract resizeCapture(size: FrameSize): Promise<void>;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new EdgefitError('E_ABORTED', 'waiting for a camera frame was aborted');
}
