import { EventEmitter } from 'node:events';
import type { Engine, FrameStream, StreamResult } from '../engine/engine.js';
import { frameStream } from '../engine/run-stream.js';
import type { FrameSource } from '../camera/source.js';
import type { TopKEntry } from './topk.js';
import { bindTask, type Interpret, type TaskName } from './tasks.js';
import { SampleWindow } from '../telemetry/window.js';
import type { Detection, DetectionSpec } from '../types/detection.js';

export interface ActiveModel {
  engine: Engine;
  variantId: string;
  resolution: number;
  labels: string[] | undefined;
  /** how the output is read (src/pipeline/tasks.ts); absent = classification */
  task?: TaskName;
  /** detectors: the card's post-process and anchors */
  detection?: DetectionSpec;
  /** detectors: the resolution its embedded anchors are for */
  nativeResolution?: number;
}

export interface InferenceResult {
  frameSeq: number;
  /** ms since the epoch when the frame arrived */
  frameTs: number;
  variantId: string;
  /** classification: the best classes (empty for a detector) */
  top: TopKEntry[];
  /** detection: the boxes at or above minScore (and of the filtered labels), best first */
  detections?: Detection[];
  /** detection: how many of `detections` per label */
  counts?: Record<string, number>;
  /** frame arrival to result ready */
  latencyMs: number;
  inferMs: number;
  /** when the engine took the frame (ms since the epoch, sub-millisecond) */
  startedAt: number;
}

export interface PipelineOptions {
  source: FrameSource;
  model: ActiveModel;
  topK: number;
  /** entries below it are left out of `top` */
  scoreThreshold: number;
  /** detection: detections below it are left out and not counted (default 0.5) */
  minScore?: number;
  /** only these labels are reported (default: all) */
  labels?: readonly string[];
  /** window for the live latency percentiles */
  windowSeconds?: number;
}

export interface PipelineStats {
  inferred: number;
  errors: number;
  /** frames taken from the camera but replaced by a newer one before the engine was free (dropped) */
  superseded: number;
  paused: boolean;
  lastResultAt: number;
  lastError: string | undefined;
}

/**
 * The latest-frame loop: every frame the camera delivers is offered to the engine's FrameStream, which runs
 * the newest one whenever it is free; frames superseded before they ran are counted as dropped, never queued.
 * Results are post-processed and emitted as the engine answers, so the next run does not wait for this
 * thread. Model swaps happen between frames: offering stops, the run in flight finishes, then the new engine
 * (loaded before it is handed in) takes over and the old one is returned to the caller to close.
 *
 * Events: 'result' (InferenceResult), 'error' (Error, per failed frame; the loop goes on), 'stopped'.
 */
export class Pipeline extends EventEmitter {
  private model: ActiveModel;
  private stream: FrameStream;
  private running = false;
  private paused = false;
  private resumeWaiter: (() => void) | undefined;
  private abort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private pendingSwap: { model: ActiveModel; interpret: Interpret; resolve: (old: ActiveModel) => void } | undefined;
  readonly latency: SampleWindow;
  readonly infer: SampleWindow;
  private readonly s: PipelineStats = { inferred: 0, errors: 0, superseded: 0, paused: false, lastResultAt: 0, lastError: undefined };

  constructor(private readonly o: PipelineOptions) {
    super();
    this.model = o.model;
    this.stream = this.open(o.model, this.prepare(o.model));
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

  /**
   * The model's task bound to it: once per model (a detector's anchors for its resolution), never per frame. Throws
   * when the model cannot be read as its task; call it before handing the model to swap() to know in advance.
   */
  prepare(m: ActiveModel): Interpret {
    return bindTask(m.task ?? 'classification', m, {
      topK: this.o.topK, scoreThreshold: this.o.scoreThreshold, minScore: this.o.minScore ?? 0.5, labels: this.o.labels ?? [],
    });
  }

  private open(m: ActiveModel, interpret: Interpret): FrameStream {
    return frameStream(m.engine, {
      result: (r) => this.onResult(m, interpret, r),
      error: (err) => this.onError(err),
    });
  }

  private onResult(m: ActiveModel, interpret: Interpret, r: StreamResult): void {
    let out;
    try {
      out = interpret(r.scores);
    } catch (err) {
      this.onError(err as Error);
      return;
    }
    const now = Date.now();
    const latencyMs = Math.max(0, now - r.ts);
    this.latency.push(latencyMs, now);
    this.infer.push(r.inferMs, now);
    this.s.inferred++;
    this.s.lastResultAt = now;
    const result: InferenceResult = { frameSeq: r.seq, frameTs: r.ts, variantId: m.variantId, top: out.top, latencyMs, inferMs: r.inferMs, startedAt: r.startedAt };
    if (out.detections) { result.detections = out.detections; result.counts = out.counts ?? {}; }
    this.emit('result', result);
  }

  private onError(err: Error): void {
    this.s.errors++;
    this.s.lastError = err.message;
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private async loop(): Promise<void> {
    const src = this.o.source;
    while (this.running) {
      if (this.paused) {
        await new Promise<void>((r) => { this.resumeWaiter = r; });
        continue;
      }
      if (this.pendingSwap) await this.applySwap();
      let frame;
      try {
        frame = await src.next(this.abort.signal);
      } catch (err) {
        if (!this.running) break;
        if (src.stats().ended) { this.running = false; break; }
        // a stopped source rejects at once: looking again at once would never let the event loop run
        if ((err as { code?: unknown }).code === 'E_CAMERA_STOPPED') await this.untilOnline(src);
        // aborted for a pause or a swap, or the source is restarting: look again
        continue;
      }
      const m = this.model;
      if (this.pendingSwap || this.paused || frame.width !== m.resolution || frame.height !== m.resolution) {
        // taken as a swap or pause came in, or a frame from before a resolution switch
        src.release();
        continue;
      }
      try {
        if (this.stream.offer(frame.data, frame.seq, frame.ts)) this.s.superseded++;
      } catch (err) {
        this.onError(err as Error);
      } finally {
        src.release();
      }
    }
    await this.drain();
    this.emit('stopped');
  }

  /** Withdraws the frame waiting for the engine and waits for the one running. */
  private async drain(): Promise<void> {
    if (this.stream.cancel()) this.s.superseded++;
    await this.stream.idle();
  }

  private async applySwap(): Promise<void> {
    await this.drain();
    const swap = this.pendingSwap;
    if (!swap) return;
    this.pendingSwap = undefined;
    const old = this.model;
    this.stream.close();
    this.model = swap.model;
    this.stream = this.open(swap.model, swap.interpret);
    this.latency.clear();
    this.infer.clear();
    swap.resolve(old);
  }

  /**
   * Switches model between frames; resolves with the previous model once no run uses it any more. `interpret` is
   * prepare(model)'s (made here when not given; then a model that cannot be read as its task throws here, with
   * nothing changed).
   */
  swap(model: ActiveModel, interpret: Interpret = this.prepare(model)): Promise<ActiveModel> {
    return new Promise<ActiveModel>((resolve) => {
      this.pendingSwap?.resolve(this.pendingSwap.model); // a swap superseded before it applied
      this.pendingSwap = { model, interpret, resolve };
      if (!this.running || this.paused) { void this.applySwap(); return; }
      // wake a loop waiting for a frame; a run in flight finishes first
      this.abort.abort();
      this.abort = new AbortController();
    });
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.s.paused = true;
    // the frame waiting for the engine is not run; one already running still answers
    if (this.stream.cancel()) this.s.superseded++;
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

  /** Resolves when the source delivers again (started anew) or this loop is woken (stop, pause, swap). */
  private untilOnline(src: FrameSource): Promise<void> {
    const signal = this.abort.signal;
    return new Promise<void>((resolve) => {
      const done = (): void => {
        src.off('online', done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      src.on('online', done);
      signal.addEventListener('abort', done);
      if (signal.aborted) done();
    });
  }

  /** Stops taking frames and waits for the run in flight. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.abort.abort();
    this.resumeWaiter?.();
    await this.loopDone;
  }

  /** Resolves once no frame waits for or runs in the engine (after pause(), the run in flight has answered). */
  idle(): Promise<void> {
    return this.stream.idle();
  }

  stats(): PipelineStats {
    return { ...this.s };
  }
}
