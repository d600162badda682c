import { EventEmitter } from 'node:events';
import type { Engine } from '../engine/engine.js';
import type { FrameSource } from '../camera/source.js';
import { topK, type TopKEntry } from './topk.js';
import { SampleWindow } from '../telemetry/window.js';

export interface ActiveModel {
  engine: Engine;
  variantId: string;
  resolution: number;
  labels: string[] | undefined;
}

export interface InferenceResult {
  frameSeq: number;
  /** ms since the epoch when the frame arrived */
  frameTs: number;
  variantId: string;
  top: TopKEntry[];
  /** frame arrival to result ready */
  latencyMs: number;
  inferMs: number;
}

export interface PipelineOptions {
  source: FrameSource;
  model: ActiveModel;
  topK: number;
  /** entries below it are left out of `top` */
  scoreThreshold: number;
  /** window for the live latency percentiles */
  windowSeconds?: number;
}

export interface PipelineStats {
  inferred: number;
  errors: number;
  paused: boolean;
  lastResultAt: number;
  lastError: string | undefined;
}

/**
 * The latest-frame loop: take the newest frame, run it, post-process, emit; frames that arrive meanwhile
 * are superseded in the source (counted there as dropped), never queued. Model swaps happen between frames:
 * the new engine is loaded before it is handed in, and the old one is returned to the caller to close.
 *
 * Events: 'result' (InferenceResult), 'error' (Error, per failed frame; the loop goes on), 'stopped'.
 */
export class Pipeline extends EventEmitter {
  private model: ActiveModel;
  private running = false;
  private paused = false;
  private resumeWaiter: (() => void) | undefined;
  private abort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private pendingSwap: { model: ActiveModel; resolve: (old: ActiveModel) => void } | undefined;
  readonly latency: SampleWindow;
  readonly infer: SampleWindow;
  private readonly s: PipelineStats = { inferred: 0, errors: 0, paused: false, lastResultAt: 0, lastError: undefined };

  constructor(private readonly o: PipelineOptions) {
    super();
    this.model = o.model;
    this.latency = new SampleWindow(o.windowSeconds ?? 60);
    this.infer = new SampleWindow(o.windowSeconds ?? 60);
  }

  get active(): ActiveModel { return this.model; }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loopDone = this.loop();
  }

  private async loop(): Promise<void> {
    const src = this.o.source;
    while (this.running) {
      if (this.paused) {
        await new Promise<void>((r) => { this.resumeWaiter = r; });
        continue;
      }
      if (this.pendingSwap) this.applySwap();
      let frame;
      try {
        frame = await src.next(this.abort.signal);
      } catch (err) {
        if (!this.running) break;
        if (src.stats().ended) { this.running = false; break; }
        // aborted for a pause or a swap, or the source is restarting: look again
        continue;
      }
      if (this.pendingSwap) { src.release(); continue; }
      const m = this.model;
      if (frame.width !== m.resolution || frame.height !== m.resolution) {
        // a frame from before a resolution switch
        src.release();
        continue;
      }
      try {
        const r = await m.engine.run(frame.data);
        src.release();
        const top = topK(r.scores, this.o.topK, m.labels, this.o.scoreThreshold);
        const now = Date.now();
        const latencyMs = Math.max(0, now - frame.ts);
        this.latency.push(latencyMs, now);
        this.infer.push(r.inferMs, now);
        this.s.inferred++;
        this.s.lastResultAt = now;
        const result: InferenceResult = { frameSeq: frame.seq, frameTs: frame.ts, variantId: m.variantId, top, latencyMs, inferMs: r.inferMs };
        this.emit('result', result);
      } catch (err) {
        src.release();
        this.s.errors++;
        this.s.lastError = (err as Error).message;
        if (this.listenerCount('error') > 0) this.emit('error', err);
      }
    }
    this.emit('stopped');
  }

  private applySwap(): void {
    const swap = this.pendingSwap!;
    this.pendingSwap = undefined;
    const old = this.model;
    this.model = swap.model;
    this.latency.clear();
    this.infer.clear();
    swap.resolve(old);
  }

  /** Switches model between frames; resolves with the previous model once no run uses it any more. */
  swap(model: ActiveModel): Promise<ActiveModel> {
    return new Promise<ActiveModel>((resolve) => {
      this.pendingSwap?.resolve(this.pendingSwap.model); // a swap superseded before it applied
      this.pendingSwap = { model, resolve };
      if (!this.running || this.paused) { this.applySwap(); return; }
      // wake a loop waiting for a frame; a run in flight finishes first
      this.abort.abort();
      this.abort = new AbortController();
    });
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.s.paused = true;
    this.abort.abort();
    this.abort = new AbortController();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.s.paused = false;
    const w = this.resumeWaiter;
    this.resumeWaiter = undefined;
    w?.();
  }

  /** Stops taking frames and waits for the run in flight. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.resumeWaiter?.();
    await this.loopDone;
  }

  stats(): PipelineStats {
    return { ...this.s };
  }
}
