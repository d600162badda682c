import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { distModule } from '../util/paths.js';
import { EdgefitError, errorMessage, isErrorCode } from '../util/errors.js';
import type { EngineOptions, FrameStream, ModelIO, ProviderName, RunResult, StreamSink, SupervisedEngine, SupervisedEngineStats } from './engine.js';
import { createMailbox, MailboxWriter } from './mailbox.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';

export interface HostOptions extends EngineOptions {
  /** the registered engine (src/engine/registry.ts) the worker loads; default: the first of priority >= 0 that loads the model (onnxruntime) */
  kind?: string;
  /**
   * Modules (absolute paths or file: URLs) the worker imports before it loads the engine, so that engines they
   * register (`registerEngine`) exist in the worker's registry. A worker does not run `--import` preloads (Node 20),
   * neither the process's nor its own `execArgv`'s, so this is the one way in.
   */
  engineModules?: readonly string[];
  /** how long loading may take before the worker is abandoned */
  loadTimeoutMs?: number;
  /** restarts allowed within restartWindowMs before the host gives up and reports degraded */
  restartBudget?: number;
  restartWindowMs?: number;
}

export type HostStats = SupervisedEngineStats;

interface PendingRun {
  seq: number;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
}

/**
 * An Engine whose runtime lives in a worker thread, fed through a shared mailbox (src/engine/mailbox.ts): the
 * host copies each offered frame into shared memory and the worker takes the newest one whenever it is free,
 * so a run never waits for the main thread to wake up. Scores come back in shared result slots; messages
 * carry only what a result is about. run() is offer-and-wait on the same path.
 * A run that exceeds its timeout, or a worker that dies, is counted, the worker replaced, and the caller
 * gets an error for that frame only. A replacement that fails to load is tried again, each attempt counted;
 * past the restart budget (restarts within the window, or failed loads in a row however long each took) the host
 * stops restarting and reports degraded. A start() that fails leaves nothing; close() ends a load in progress.
 *
 * Events: 'restart' (reason), 'degraded' (reason), 'crash' (message), 'timeout'.
 */
export class EngineHost extends EventEmitter implements SupervisedEngine {
  name: string;
  provider: ProviderName = 'cpu';
  refused: { provider: ProviderName; reason: string }[] = [];
  io!: ModelIO;
  readonly stats: HostStats = { runs: 0, timeouts: 0, crashes: 0, restarts: 0, degraded: false };

  private worker: Worker | undefined;
  private box: MailboxWriter | undefined;
  private frameBytes = 0;
  private scores: Float32Array = new Float32Array(0);
  private sink: StreamSink | undefined;
  private pendingRun: PendingRun | undefined;
  private nextRunSeq = -1;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private watchdog: NodeJS.Timeout | undefined;
  private closing = false;
  private restartTimes: number[] = [];
  private restarting: Promise<void> | undefined;
  /** a worker whose load failed, until it has stopped */
  private stopping: Promise<void> | undefined;
  /** what close() ends at once: the load in progress, or a restart's wait for a worker to stop (one at a time) */
  private onClose: (() => void) | undefined;

  private constructor(private readonly modelPath: string, private readonly opts: HostOptions) {
    super();
    this.name = `worker:${opts.kind ?? 'auto'}`;
  }

  static async start(modelPath: string, opts: HostOptions): Promise<EngineHost> {
    const host = new EngineHost(modelPath, opts);
    try {
      await host.spawn();
    } catch (err) {
      // no caller will hold this host, so nothing of it may live on: spawn() has already let the worker go
      // (terminated; its exit is not a crash and restarts nothing), and closing keeps it that way
      host.closing = true;
      throw err;
    }
    const timeoutMs = opts.timeoutMs ?? 0;
    if (timeoutMs > 0) {
      // a run reports when it started in the mailbox, so the check needs no timer per frame
      host.watchdog = setInterval(() => host.checkTimeout(timeoutMs), Math.min(1000, Math.max(20, timeoutMs / 4)));
      host.watchdog.unref();
    }
    return host;
  }

  /**
   * Starts a worker and waits for its model to load. Settles once: ready, or a load that failed (load-error,
   * the worker's 'error', the worker exiting before it is ready, or loadTimeoutMs). A load that failed gives
   * its worker up here, terminated and not counted as a crash: what to do next (give up, try again within the
   * restart budget) is the caller's. Only a worker that became ready is watched by onExit.
   */
  private spawn(): Promise<void> {
    const init: WorkerInit = { ...(this.opts.kind ? { kind: this.opts.kind } : {}), modules: [...(this.opts.engineModules ?? [])], modelPath: this.modelPath, options: stripHostOptions(this.opts) };
    const worker = new Worker(distModule('engine/worker.js'), { workerData: init });
    this.worker = worker;
    const loadTimeoutMs = this.opts.loadTimeoutMs ?? 120_000;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const failed = (err: EdgefitError) => {
        if (settled) return;
        settled = true;
        if (this.onClose === abort) this.onClose = undefined;
        clearTimeout(timer);
        worker.off('message', onFirst);
        if (this.worker === worker) this.worker = undefined;
        // the next load waits for this one to be gone, so two copies of a model that may not fit never load side by side
        this.stopping = worker.terminate().then(() => undefined, () => undefined);
        reject(err);
      };
      const timer = setTimeout(() => {
        failed(new EdgefitError('E_ENGINE_LOAD_TIMEOUT', `loading ${this.modelPath} took longer than ${loadTimeoutMs} ms; the model may be too large for this board`));
      }, loadTimeoutMs);
      const onFirst = (msg: FromWorker) => {
        if (settled) return;
        if (msg.type === 'ready') {
          settled = true;
          if (this.onClose === abort) this.onClose = undefined;
          clearTimeout(timer);
          worker.off('message', onFirst);
          this.name = `worker:${msg.engine}`;
          this.provider = msg.provider;
          this.refused = msg.refused;
          this.io = msg.io;
          this.frameBytes = msg.io.inputShape.reduce((a, b) => a * b, 1);
          const classes = msg.io.outputShape.reduce((a, b) => a * b, 1);
          if (this.scores.length !== classes) this.scores = new Float32Array(classes);
          const buffers = createMailbox(this.frameBytes, classes);
          this.box = new MailboxWriter(buffers);
          worker.on('message', (m: FromWorker) => this.onMessage(worker, m));
          worker.on('exit', (code) => this.onExit(worker, code));
          worker.postMessage({ type: 'mailbox', buffers } satisfies ToWorker);
          resolve();
        } else if (msg.type === 'load-error') {
          failed(new EdgefitError(isErrorCode(msg.code) ? msg.code : 'E_ENGINE_LOAD', msg.message));
        }
      };
      worker.on('message', onFirst);
      // close() does not wait for a load (up to loadTimeoutMs): the daemon's stop must stay within systemd's
      const abort = () => failed(new EdgefitError('E_ENGINE_CLOSED', `the engine was closed while loading ${this.modelPath}`));
      this.onClose = abort;
      // stays attached for the worker's life: an 'error' after ready is followed by its exit, which onExit reports
      worker.on('error', (err) => {
        failed(new EdgefitError('E_ENGINE_LOAD', `engine worker failed while loading ${this.modelPath}: ${err.message}`, { cause: err }));
      });
      worker.once('exit', (code) => {
        failed(new EdgefitError('E_ENGINE_LOAD', `engine worker exited (code ${code}) while loading ${this.modelPath}`));
      });
    });
  }

  private onMessage(worker: Worker, msg: FromWorker): void {
    if (worker !== this.worker || !this.box) return; // a late answer from a worker already given up on
    if (msg.type === 'result') {
      this.box.takeResult(msg.slot, this.scores, msg.count);
      this.stats.runs++;
      this.answered();
      const p = this.pendingRun;
      if (p && p.seq === msg.seq) {
        this.pendingRun = undefined;
        p.resolve({ scores: this.scores, inferMs: msg.inferMs });
      } else {
        this.sink?.result({ seq: msg.seq, ts: msg.ts, scores: this.scores, inferMs: msg.inferMs, startedAt: msg.startedAt });
      }
    } else if (msg.type === 'run-error') {
      this.answered();
      this.fail(new EdgefitError('E_ENGINE_RUN', msg.message), msg.seq, msg.ts);
    }
  }

  private answered(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.inFlight === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Delivers a failed frame to whoever offered it. */
  private fail(err: Error, seq: number, ts: number): void {
    const p = this.pendingRun;
    if (p && p.seq === seq) {
      this.pendingRun = undefined;
      p.reject(err);
    } else {
      this.sink?.error(err, seq, ts);
    }
  }

  /** The worker is gone: the frame it was running fails, the one waiting for it is dropped. */
  private abandonWorker(err: Error): void {
    const box = this.box;
    const running = box?.running();
    box?.stop();
    this.box = undefined;
    this.worker = undefined;
    this.inFlight = 0;
    if (running) this.fail(err, running.seq, running.ts);
    // a run() whose frame the worker had not taken yet fails too
    const p = this.pendingRun;
    this.pendingRun = undefined;
    p?.reject(err);
    this.wakeIdle();
  }

  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker || this.closing) return;
    this.stats.crashes++;
    this.emit('crash', `engine worker exited with code ${code}`);
    this.abandonWorker(new EdgefitError('E_ENGINE_CRASH', `the inference worker exited (code ${code}); it is being restarted`));
    void this.restart(`worker exited with code ${code}`);
  }

  private checkTimeout(timeoutMs: number): void {
    const r = this.box?.running();
    if (!r || r.elapsedMs <= timeoutMs || this.closing) return;
    this.stats.timeouts++;
    this.emit('timeout');
    const old = this.worker;
    this.abandonWorker(new EdgefitError('E_ENGINE_TIMEOUT', `inference took longer than ${timeoutMs} ms; the worker is being replaced`));
    // terminate() stops JS at once; a call stuck in native code ends when that call returns, and the replacement
    // waits for that (as after a failed load): two copies of a model that may only just fit never run side by side
    if (old) this.stopping = old.terminate().then(() => undefined, () => undefined);
    void this.restart(`run exceeded ${timeoutMs} ms`);
  }

  /**
   * Replaces a worker that is gone. A replacement whose load fails (load-error, load timeout, or a worker that
   * exits or fails while loading) is tried again, each attempt counted against the restart budget, so the
   * budget, not the first failed load, decides when the host gives up and reports degraded. One sequence at a
   * time: whoever asks while one runs (onExit, checkTimeout, run()) waits for that one.
   */
  private restart(reason: string): Promise<void> {
    if (this.restarting) return this.restarting;
    this.restarting = this.restartUntilUp(reason).finally(() => { this.restarting = undefined; });
    return this.restarting;
  }

  private async restartUntilUp(reason: string): Promise<void> {
    let last = reason;
    const budget = this.opts.restartBudget ?? 5;
    const loadTimeoutMs = this.opts.loadTimeoutMs ?? 120_000;
    // failed loads of this sequence: each can take up to loadTimeoutMs, so a window of time would never fill with
    // them (five 120 s timeouts never fall within 60 s) and the host would retry for ever without saying degraded
    let failures = 0;
    while (!this.worker && !this.closing) {
      const stopping = this.stopping;
      this.stopping = undefined;
      // a terminated worker stops at once unless it is inside a native call (a load), which it finishes first;
      // one that does not finish within a load's time is given up on (its memory may stay taken: said below)
      let stuck = false;
      if (stopping) {
        await new Promise<void>((resolve) => {
          const done = () => { clearTimeout(timer); if (this.onClose === done) this.onClose = undefined; resolve(); };
          const timer = setTimeout(() => { stuck = true; done(); }, loadTimeoutMs);
          this.onClose = done;
          void stopping.then(done);
        });
      }
      if (this.closing) return;
      const now = Date.now();
      const windowMs = this.opts.restartWindowMs ?? 60_000;
      this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
      const why = stuck ? `a worker did not stop within ${loadTimeoutMs} ms of being terminated (last: ${last})`
        : this.restartTimes.length >= budget ? `${this.restartTimes.length} engine restarts within ${Math.round(windowMs / 1000)} s (last: ${last})`
        : failures >= budget ? `${failures} failed loads in a row (last: ${last})`
        : undefined;
      if (why !== undefined) {
        if (!this.stats.degraded) {
          this.stats.degraded = true;
          this.emit('degraded', why);
        }
        return;
      }
      this.restartTimes.push(now);
      this.stats.restarts++;
      try {
        await this.spawn();
        if (!this.closing) this.emit('restart', reason);
      } catch (err) {
        if (this.closing) return;
        failures++;
        const message = errorMessage(err);
        this.stats.crashes++;
        this.emit('crash', `restart failed: ${message}`);
        last = `restart failed: ${message}`;
      }
    }
  }

  /** The host stopped restarting after too many failures; a reload (reselect) clears it. */
  get degraded(): boolean {
    return this.stats.degraded;
  }

  /** Copies a frame into the mailbox; true when a frame was dropped for it (or it was, no worker being up). */
  private offer(frame: Uint8Array, seq: number, ts: number): boolean {
    const box = this.box;
    if (!box || this.closing) return true;
    if (frame.length !== this.frameBytes) {
      throw new EdgefitError('E_FRAME_SIZE', `frame has ${frame.length} bytes, the model wants ${this.frameBytes}`);
    }
    const replaced = box.offer(frame, seq, ts);
    if (!replaced) this.inFlight++;
    return replaced;
  }

  stream(sink: StreamSink): FrameStream {
    if (this.sink) throw new EdgefitError('E_ENGINE_BUSY', 'the engine already feeds a stream; close it first');
    this.sink = sink;
    const host = this;
    return {
      offer: (frame, seq, ts) => host.offer(frame, seq, ts),
      cancel: () => {
        const had = host.box?.cancel() ?? false;
        if (had) host.answered();
        return had;
      },
      idle: () => (host.inFlight === 0 ? Promise.resolve() : new Promise<void>((r) => host.idleWaiters.push(r))),
      close: () => { if (host.sink === sink) host.sink = undefined; },
    };
  }

  async run(frame: Uint8Array): Promise<RunResult> {
    if (this.restarting) await this.restarting;
    if (this.closing) throw new EdgefitError('E_ENGINE_CLOSED', 'the engine is closed');
    if (this.stats.degraded) throw new EdgefitError('E_ENGINE_DEGRADED', 'the inference worker failed too often and is stopped; reselect or restart the daemon');
    if (this.pendingRun || this.inFlight > 0) throw new EdgefitError('E_ENGINE_BUSY', 'one run at a time: the previous run has not finished');
    if (!this.box) throw new EdgefitError('E_ENGINE_RESTARTING', 'the inference worker is restarting');
    const seq = this.nextRunSeq--;
    return new Promise<RunResult>((resolve, reject) => {
      this.pendingRun = { seq, resolve, reject };
      try {
        this.offer(frame, seq, Date.now());
      } catch (err) {
        this.pendingRun = undefined;
        reject(err as Error);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.onClose?.();
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restarting) await this.restarting.catch(() => undefined);
    const w = this.worker;
    const box = this.box;
    const p = this.pendingRun;
    this.pendingRun = undefined;
    p?.reject(new EdgefitError('E_ENGINE_CLOSED', 'the engine was closed'));
    this.sink = undefined;
    this.worker = undefined;
    this.box = undefined;
    this.inFlight = 0;
    this.wakeIdle();
    if (!w || !box) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, 2000);
      w.on('message', (m: FromWorker) => { if (m.type === 'closed') { clearTimeout(t); void w.terminate().then(() => resolve()); } });
      box.stop();
    });
  }
}

function stripHostOptions(o: HostOptions): EngineOptions {
  const { kind: _k, engineModules: _m, loadTimeoutMs: _l, restartBudget: _r, restartWindowMs: _w, ...rest } = o;
  return rest;
}
