/**
 * Several cameras on one board's inference workers: one engine host (worker thread) per session (a model at a
 * thread count: cameras on the same model share it, loaded once), and a fair queue (fair-queue.ts) deciding
 * whose newest frame runs next, at most `slots` runs at once (one per core). The joint choice's verification
 * measures a set through this, as it will run.
 */
import { EdgefitError } from '../util/errors.js';
import { EngineHost, type HostOptions } from './host.js';
import type { FrameStream, ProviderName } from './engine.js';
import { FairQueue, type FairCameraStats } from './fair-queue.js';

export interface SharedSession {
  /** e.g. `${sha256}|t${threads}` */
  key: string;
  modelPath: string;
  threads: number;
  /** input resolution for models with symbolic spatial dimensions */
  resolution?: number;
}

export interface SharedCamera {
  id: string;
  fps: number;
  /** key of the session that runs this camera's frames */
  session: string;
  /** predicted time per frame (ms), the queue's cost until runs are seen */
  costMs: number;
}

export interface SharedResult {
  camera: string;
  /** the frame's seq and arrival time (ms since the epoch) as offered */
  seq: number;
  ts: number;
  /** when the worker was handed the frame (ms since the epoch) */
  startedAt: number;
  /** valid during the callback only */
  scores: Float32Array;
  /** time inside the runtime (ms) */
  inferMs: number;
  /** offer to answer (ms): queue wait + hop + run */
  latencyMs: number;
  /** time the frame waited in the fair queue (ms) */
  waitMs: number;
}

export interface SharedWorkersOptions {
  /** runs at once; default one per core is the caller's to give */
  slots: number;
  providers?: ProviderName[];
  kind?: string;
  /** modules each worker imports before loading its engine (HostOptions.engineModules) */
  engineModules?: string[];
  timeoutMs?: number;
  optimizedCacheDir?: string;
  /** engine.ortLibraryPath: the onnxruntime every worker loads (default the bundled one), as the selection measured */
  ortLibraryPath?: string;
  onResult: (r: SharedResult) => void;
  onError?: (camera: string, err: Error) => void;
}

interface Running { camera: string; ts: number; waitMs: number; seq: number; frameTs: number; startedAt: number }

export class SharedWorkers {
  private readonly queue: FairQueue<Uint8Array>;
  private readonly streams = new Map<string, FrameStream>();
  private readonly running = new Map<string, Running>();
  private readonly sessionOf = new Map<string, string>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly cameraWaiters = new Map<string, (() => void)[]>();
  /** per camera, the seq and arrival time of its waiting frame (the queue holds only the pixels) */
  private readonly pendingMeta = new Map<string, { seq: number; ts: number }>();
  private seq = 0;
  private closed = false;

  private constructor(readonly hosts: Map<string, EngineHost>, cameras: SharedCamera[], private readonly o: SharedWorkersOptions) {
    this.queue = new FairQueue<Uint8Array>(o.slots);
    for (const c of cameras) {
      if (!hosts.has(c.session)) throw new EdgefitError('E_SHARED_WORKERS', `camera ${c.id} runs on session ${c.session}, which is not among the sessions given`);
      this.queue.add({ id: c.id, fps: c.fps, resource: c.session, costMs: c.costMs });
      this.sessionOf.set(c.id, c.session);
      this.pendingMeta.set(c.id, { seq: 0, ts: 0 });
    }
    for (const [key, host] of hosts) {
      this.streams.set(key, host.stream({
        result: (r) => this.finished(key, (run) => o.onResult({ camera: run.camera, seq: run.seq, ts: run.frameTs, startedAt: run.startedAt, scores: r.scores, inferMs: r.inferMs, latencyMs: performance.now() - run.ts, waitMs: run.waitMs })),
        error: (err) => this.finished(key, (run) => o.onError?.(run.camera, err)),
      }));
    }
  }

  /** Loads every session (each in its own worker) and wires the cameras to them; on a load failure the loaded ones are closed. */
  static async start(sessions: SharedSession[], cameras: SharedCamera[], o: SharedWorkersOptions): Promise<SharedWorkers> {
    const hosts = new Map<string, EngineHost>();
    try {
      for (const s of sessions) {
        if (hosts.has(s.key)) throw new EdgefitError('E_SHARED_WORKERS', `session ${s.key} is given twice`);
        const opts: HostOptions = {
          providers: o.providers ?? ['cpu'], threads: s.threads,
          ...(o.kind ? { kind: o.kind } : {}), ...(o.engineModules ? { engineModules: o.engineModules } : {}), ...(s.resolution ? { resolution: s.resolution } : {}),
          ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.optimizedCacheDir ? { optimizedCacheDir: o.optimizedCacheDir } : {}),
          ...(o.ortLibraryPath ? { ortLibraryPath: o.ortLibraryPath } : {}),
        };
        hosts.set(s.key, await EngineHost.start(s.modelPath, opts));
      }
      return new SharedWorkers(hosts, cameras, o);
    } catch (err) {
      await Promise.all([...hosts.values()].map((h) => h.close()));
      throw err;
    }
  }

  /**
   * Offers a camera's newest frame; true when a frame of that camera was dropped for it. The queue keeps a
   * reference until the frame is handed to its worker (copied into shared memory at once when a slot is free):
   * do not write into it until the next offer of that camera.
   */
  offer(camera: string, frame: Uint8Array, seq = 0, ts = Date.now()): boolean {
    if (this.closed) return true;
    const need = this.frameBytes(camera);
    if (frame.length !== need) throw new EdgefitError('E_FRAME_SIZE', `camera ${camera}: frame has ${frame.length} bytes, its model wants ${need}`);
    const meta = this.pendingMeta.get(camera)!;
    meta.seq = seq;
    meta.ts = ts;
    const dropped = this.queue.offer(camera, frame);
    this.pump();
    return dropped;
  }

  stats(camera: string): Readonly<FairCameraStats> {
    return this.queue.stats(camera);
  }

  /** Withdraws a camera's waiting frame (counted as dropped); true when there was one. */
  cancel(camera: string): boolean {
    if (this.closed) return false;
    const had = this.queue.cancel(camera);
    if (had) this.wakeCamera(camera);
    return had;
  }

  /** Resolves once no frame of this camera waits and none runs (the others may go on). */
  cameraIdle(camera: string): Promise<void> {
    if (this.closed || this.cameraQuiet(camera)) return Promise.resolve();
    return new Promise((r) => {
      const list = this.cameraWaiters.get(camera) ?? [];
      list.push(r);
      this.cameraWaiters.set(camera, list);
    });
  }

  private cameraQuiet(camera: string): boolean {
    const s = this.queue.stats(camera);
    return s.offered === s.dispatched + s.dropped && s.dispatched === s.done;
  }

  private wakeCamera(camera: string): void {
    const list = this.cameraWaiters.get(camera);
    if (!list || !this.cameraQuiet(camera)) return;
    this.cameraWaiters.delete(camera);
    for (const w of list) w();
  }

  /** Resolves once no frame waits and none runs. */
  idle(): Promise<void> {
    if (this.queue.busy === 0 && !this.anyWaiting()) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.streams.values()) s.close();
    await Promise.all([...this.hosts.values()].map((h) => h.close()));
    for (const w of this.idleWaiters.splice(0)) w();
    for (const list of this.cameraWaiters.values()) for (const w of list) w();
    this.cameraWaiters.clear();
  }

  private frameBytes(camera: string): number {
    const key = this.sessionOf.get(camera);
    if (key === undefined) throw new EdgefitError('E_SHARED_WORKERS', `camera ${camera} is not served here`);
    return this.hosts.get(key)!.io.inputShape.reduce((a, b) => a * b, 1);
  }

  private anyWaiting(): boolean {
    for (const id of this.sessionOf.keys()) {
      const s = this.queue.stats(id);
      if (s.offered > s.dispatched + s.dropped) return true;
    }
    return false;
  }

  private pump(): void {
    for (let d = this.queue.next(); d; d = this.queue.next()) {
      const key = this.sessionOf.get(d.camera)!;
      const meta = this.pendingMeta.get(d.camera)!;
      this.running.set(key, { camera: d.camera, ts: d.ts, waitMs: d.waitMs, seq: meta.seq, frameTs: meta.ts, startedAt: performance.timeOrigin + performance.now() });
      // the host is idle (the queue holds its resource): true means it has no worker (restarting)
      if (this.streams.get(key)!.offer(d.frame, this.seq++, Date.now())) {
        this.finished(key, (run) => this.o.onError?.(run.camera, new EdgefitError('E_ENGINE_RESTARTING', 'the inference worker is restarting; the frame was dropped')));
      }
    }
  }

  private finished(key: string, report: (run: Running) => void): void {
    const run = this.running.get(key);
    if (!run || this.closed) return;
    this.running.delete(key);
    this.queue.done(run.camera);
    report(run);
    this.wakeCamera(run.camera);
    this.pump();
    if (this.queue.busy === 0 && !this.anyWaiting()) for (const w of this.idleWaiters.splice(0)) w();
  }
}
