import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { distModule } from '../util/paths.js';
import { EdgefitError } from '../util/errors.js';
import type { Engine, EngineOptions, ModelIO, ProviderName, RunResult } from './engine.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import type { EngineKind } from './registry.js';

export interface HostOptions extends EngineOptions {
  kind?: EngineKind;
  /** how long loading may take before the worker is abandoned */
  loadTimeoutMs?: number;
  /** restarts allowed within restartWindowMs before the host gives up and reports degraded */
  restartBudget?: number;
  restartWindowMs?: number;
}

export interface HostStats {
  runs: number;
  timeouts: number;
  crashes: number;
  restarts: number;
  degraded: boolean;
}

interface Pending {
  id: number;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * An Engine whose runtime lives in a worker thread. Frames are copied once into a buffer that ping-pongs
 * between the threads by transfer; the scores come back the same way, so a run allocates no frame-sized memory.
 * A run that exceeds its timeout, or a worker that dies, is counted, the worker replaced, and the caller
 * gets an error for that frame only. Past the restart budget the host stops restarting and reports degraded.
 *
 * Events: 'restart' (reason), 'degraded' (reason), 'crash' (message), 'timeout'.
 */
export class EngineHost extends EventEmitter implements Engine {
  readonly name: string;
  provider: ProviderName = 'cpu';
  refused: { provider: ProviderName; reason: string }[] = [];
  io!: ModelIO;
  readonly stats: HostStats = { runs: 0, timeouts: 0, crashes: 0, restarts: 0, degraded: false };

  private worker: Worker | undefined;
  private input: ArrayBuffer | undefined;
  private scoresBuf: ArrayBuffer | undefined;
  private scoresView: Float32Array = new Float32Array(0);
  private pending: Pending | undefined;
  private nextId = 1;
  private closing = false;
  private restartTimes: number[] = [];
  private restarting: Promise<void> | undefined;

  private constructor(private readonly modelPath: string, private readonly opts: HostOptions) {
    super();
    this.name = `worker:${opts.kind ?? 'onnxruntime'}`;
  }

  static async start(modelPath: string, opts: HostOptions): Promise<EngineHost> {
    const host = new EngineHost(modelPath, opts);
    await host.spawn();
    return host;
  }

  private spawn(): Promise<void> {
    const init: WorkerInit = { kind: this.opts.kind ?? 'onnxruntime', modelPath: this.modelPath, options: stripHostOptions(this.opts) };
    const worker = new Worker(distModule('engine/worker.js'), { workerData: init });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        void worker.terminate();
        reject(new EdgefitError('E_ENGINE_LOAD_TIMEOUT', `loading ${this.modelPath} took longer than ${this.opts.loadTimeoutMs ?? 120000} ms; the model may be too large for this board`));
      }, this.opts.loadTimeoutMs ?? 120_000);
      const onFirst = (msg: FromWorker) => {
        clearTimeout(timer);
        if (msg.type === 'ready') {
          this.provider = msg.provider;
          this.refused = msg.refused;
          this.io = msg.io;
          const frameBytes = msg.io.inputShape.reduce((a, b) => a * b, 1);
          const classes = msg.io.outputShape.reduce((a, b) => a * b, 1);
          if (!this.input || this.input.byteLength !== frameBytes) this.input = new ArrayBuffer(frameBytes);
          if (!this.scoresBuf || this.scoresBuf.byteLength !== classes * 4) this.scoresBuf = new ArrayBuffer(classes * 4);
          worker.on('message', (m: FromWorker) => this.onMessage(m));
          resolve();
        } else if (msg.type === 'load-error') {
          void worker.terminate();
          reject(new EdgefitError(msg.code ?? 'E_ENGINE_LOAD', msg.message));
        }
      };
      worker.once('message', onFirst);
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(new EdgefitError('E_ENGINE_LOAD', `engine worker failed while loading ${this.modelPath}: ${err.message}`, { cause: err }));
      });
      worker.on('exit', (code) => this.onExit(worker, code));
    });
  }

  private onMessage(msg: FromWorker): void {
    const p = this.pending;
    if (msg.type === 'result' || msg.type === 'run-error') {
      this.input = msg.input;
      this.scoresBuf = msg.scores;
      if (!p || p.id !== msg.id) return; // a late answer for a run already given up on
      this.pending = undefined;
      if (p.timer) clearTimeout(p.timer);
      if (msg.type === 'run-error') {
        p.reject(new EdgefitError('E_ENGINE_RUN', msg.message));
        return;
      }
      this.stats.runs++;
      if (this.scoresView.buffer !== msg.scores || this.scoresView.length !== msg.count) {
        this.scoresView = new Float32Array(msg.scores, 0, msg.count);
      }
      p.resolve({ scores: this.scoresView, inferMs: msg.inferMs });
    }
  }

  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker || this.closing) return;
    this.stats.crashes++;
    this.emit('crash', `engine worker exited with code ${code}`);
    this.failPending(new EdgefitError('E_ENGINE_CRASH', `the inference worker exited (code ${code}); it is being restarted`));
    void this.restart(`worker exited with code ${code}`);
  }

  private failPending(err: Error): void {
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err);
    }
  }

  private restart(reason: string): Promise<void> {
    if (this.restarting) return this.restarting;
    const now = Date.now();
    const windowMs = this.opts.restartWindowMs ?? 60_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < windowMs);
    if (this.restartTimes.length >= (this.opts.restartBudget ?? 5)) {
      if (!this.stats.degraded) {
        this.stats.degraded = true;
        this.emit('degraded', `${this.restartTimes.length} engine restarts within ${Math.round(windowMs / 1000)} s (last: ${reason})`);
      }
      return Promise.resolve();
    }
    this.restartTimes.push(now);
    this.stats.restarts++;
    // the buffers went with the dead worker: new ones are made on ready
    this.input = undefined;
    this.scoresBuf = undefined;
    this.restarting = this.spawn().then(
      () => { this.emit('restart', reason); },
      (err: Error) => { this.emit('crash', `restart failed: ${err.message}`); },
    ).finally(() => { this.restarting = undefined; });
    return this.restarting;
  }

  /** The host stopped restarting after too many failures; a reload (reselect) clears it. */
  get degraded(): boolean {
    return this.stats.degraded;
  }

  async run(frame: Uint8Array): Promise<RunResult> {
    if (this.restarting) await this.restarting;
    if (this.closing) throw new EdgefitError('E_ENGINE_CLOSED', 'the engine is closed');
    if (this.stats.degraded) throw new EdgefitError('E_ENGINE_DEGRADED', 'the inference worker failed too often and is stopped; reselect or restart the daemon');
    if (this.pending) throw new EdgefitError('E_ENGINE_BUSY', 'one run at a time: the previous run has not finished');
    const input = this.input;
    const scores = this.scoresBuf;
    const worker = this.worker;
    if (!input || !scores || !worker) throw new EdgefitError('E_ENGINE_RESTARTING', 'the inference worker is restarting');
    if (frame.length !== input.byteLength) {
      throw new EdgefitError('E_FRAME_SIZE', `frame has ${frame.length} bytes, the model wants ${input.byteLength}`);
    }
    new Uint8Array(input).set(frame);
    this.input = undefined;
    this.scoresBuf = undefined;
    const id = this.nextId++;
    return new Promise<RunResult>((resolve, reject) => {
      const timeoutMs = this.opts.timeoutMs ?? 0;
      const timer = timeoutMs > 0 ? setTimeout(() => this.onTimeout(id, timeoutMs), timeoutMs) : undefined;
      this.pending = { id, resolve, reject, timer };
      const msg: ToWorker = { type: 'run', id, input, length: frame.length, scores };
      worker.postMessage(msg, [input, scores]);
    });
  }

  private onTimeout(id: number, timeoutMs: number): void {
    if (!this.pending || this.pending.id !== id) return;
    this.stats.timeouts++;
    this.emit('timeout');
    this.failPending(new EdgefitError('E_ENGINE_TIMEOUT', `inference took longer than ${timeoutMs} ms; the worker is being replaced`));
    const old = this.worker;
    this.worker = undefined;
    // terminate() stops JS at once; a call stuck in native code ends when that call returns
    void old?.terminate();
    void this.restart(`run exceeded ${timeoutMs} ms`);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.restarting) await this.restarting.catch(() => undefined);
    this.failPending(new EdgefitError('E_ENGINE_CLOSED', 'the engine was closed'));
    const w = this.worker;
    this.worker = undefined;
    if (!w) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { void w.terminate().then(() => resolve()); }, 2000);
      w.on('message', (m: FromWorker) => { if (m.type === 'closed') { clearTimeout(t); void w.terminate().then(() => resolve()); } });
      w.postMessage({ type: 'close' } satisfies ToWorker);
    });
  }
}

function stripHostOptions(o: HostOptions): EngineOptions {
  const { kind: _k, loadTimeoutMs: _l, restartBudget: _r, restartWindowMs: _w, ...rest } = o;
  return rest;
}
