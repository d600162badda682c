/**
 * Shares inference workers between cameras: at most `slots` runs at once (one per core), each camera's frames run
 * on its `resource` (the engine host of its model, one frame at a time, possibly shared with other cameras on the
 * same model), and per camera only the newest frame waits: an offer replaces a frame not yet dispatched, and
 * the replaced one is counted as dropped for that camera.
 *
 * Order: start-time fair queueing in worker time. A camera's waiting frame gets a start tag max(V, F), where F is
 * when the camera's previous run ends in virtual time (its start tag + its cost, the mean run time seen so far)
 * and V the start tag of the last frame dispatched; the smallest tag among the cameras whose resource is free
 * runs next. So a camera that has used less than an equal share of the workers goes first: a 1 fps camera waits
 * at most for the runs already going, never behind the backlog of a 30 fps one, and under overload the
 * cameras that ask for more than an equal share split what is left equally (max-min fair in worker time).
 *
 * No timers and no clock of its own beyond `now` (a fake one in tests): the caller offers frames, asks next()
 * whenever a run may start, and calls done() when a run ends.
 */
import { EdgefitError } from '../util/errors.js';

export interface FairCamera {
  id: string;
  /** the frame rate the camera delivers (reported; the queue never asks for more than it offers) */
  fps: number;
  /** what runs this camera's frames, one at a time: cameras on the same model share one */
  resource: string;
  /** expected run time (ms) before any run was seen: the predicted time per frame */
  costMs: number;
}

export interface FairDispatch<F> {
  camera: string;
  frame: F;
  /** when the frame was offered (the queue's clock) */
  ts: number;
  /** how long it waited in the queue (ms) */
  waitMs: number;
}

export interface FairCameraStats {
  offered: number;
  dispatched: number;
  /** frames replaced by a newer one before they ran, or withdrawn */
  dropped: number;
  /** runs ended (done) */
  done: number;
  /** mean run time seen (ms), the cost the order uses */
  costMs: number;
  maxWaitMs: number;
}

interface Entry<F> {
  cam: FairCamera;
  pending: boolean;
  frame: F | undefined;
  ts: number;
  start: number;
  finish: number;
  running: boolean;
  /** removed while a run was in progress: deleted when it ends */
  removed: boolean;
  dispatchedAt: number;
  stats: FairCameraStats;
}

/** Weight of the newest run in the mean cost: moves within a few runs, one slow run does not swing it. */
const COST_ALPHA = 0.2;

export class FairQueue<F> {
  private readonly cams = new Map<string, Entry<F>>();
  private readonly busyResources = new Set<string>();
  private running = 0;
  private virtual = 0;

  constructor(private readonly slots: number, private readonly now: () => number = () => performance.now()) {
    if (!Number.isInteger(slots) || slots < 1) throw new EdgefitError('E_FAIR_QUEUE', `a fair queue needs at least one slot (got ${slots}); use one per core`);
  }

  add(cam: FairCamera): void {
    if (this.cams.has(cam.id)) throw new EdgefitError('E_FAIR_QUEUE', `camera ${cam.id} is already queued; camera ids must be unique`);
    if (!(cam.fps > 0) || !(cam.costMs > 0)) throw new EdgefitError('E_FAIR_QUEUE', `camera ${cam.id}: fps and costMs must be > 0 (got ${cam.fps}, ${cam.costMs})`);
    this.cams.set(cam.id, {
      cam: { ...cam }, pending: false, frame: undefined, ts: 0, start: 0, finish: this.virtual, running: false, removed: false, dispatchedAt: 0,
      stats: { offered: 0, dispatched: 0, dropped: 0, done: 0, costMs: cam.costMs, maxWaitMs: 0 },
    });
  }

  /** Removes a camera (it went offline): its waiting frame is dropped; a run in progress still ends with done(). */
  remove(id: string): void {
    const e = this.entry(id);
    if (e.pending) e.stats.dropped++;
    e.pending = false;
    e.frame = undefined;
    if (!e.running) this.cams.delete(id);
    else e.removed = true;
  }

  /** Offers a camera's newest frame; true when it replaced one that had not run (that one is dropped). */
  offer(id: string, frame: F): boolean {
    const e = this.entry(id);
    if (e.removed) return true;
    e.stats.offered++;
    const replaced = e.pending;
    if (replaced) e.stats.dropped++;
    else e.start = Math.max(this.virtual, e.finish);
    e.pending = true;
    e.frame = frame;
    e.ts = this.now();
    return replaced;
  }

  /** Withdraws a camera's waiting frame; true when there was one (counted as dropped). */
  cancel(id: string): boolean {
    const e = this.entry(id);
    if (!e.pending) return false;
    e.pending = false;
    e.frame = undefined;
    e.stats.dropped++;
    return true;
  }

  /** The frame to run now, or undefined when every slot is busy or no waiting camera has its resource free. */
  next(): FairDispatch<F> | undefined {
    if (this.running >= this.slots) return undefined;
    let best: Entry<F> | undefined;
    for (const e of this.cams.values()) {
      if (!e.pending || this.busyResources.has(e.cam.resource)) continue;
      if (!best || e.start < best.start || (e.start === best.start && (e.ts < best.ts || (e.ts === best.ts && e.cam.id < best.cam.id)))) best = e;
    }
    if (!best) return undefined;
    const t = this.now();
    const frame = best.frame as F;
    best.pending = false;
    best.frame = undefined;
    best.running = true;
    best.dispatchedAt = t;
    best.finish = best.start + best.stats.costMs;
    this.virtual = Math.max(this.virtual, best.start);
    this.busyResources.add(best.cam.resource);
    this.running++;
    best.stats.dispatched++;
    const waitMs = t - best.ts;
    best.stats.maxWaitMs = Math.max(best.stats.maxWaitMs, waitMs);
    return { camera: best.cam.id, frame, ts: best.ts, waitMs };
  }

  /**
   * The camera's run ended (answered or failed); its slot and resource are free again. `runMs` overrides the time
   * measured by the queue's clock (e.g. the time inside the runtime).
   */
  done(id: string, runMs?: number): void {
    const e = this.entry(id);
    if (!e.running) throw new EdgefitError('E_FAIR_QUEUE', `camera ${id} has no run in progress; done() answers next()`);
    e.running = false;
    this.running--;
    this.busyResources.delete(e.cam.resource);
    const ran = runMs ?? this.now() - e.dispatchedAt;
    if (Number.isFinite(ran) && ran > 0) e.stats.costMs += COST_ALPHA * (ran - e.stats.costMs);
    e.stats.done++;
    if (e.removed) this.cams.delete(id);
  }

  stats(id: string): Readonly<FairCameraStats> {
    return this.entry(id).stats;
  }

  /** runs in progress */
  get busy(): number {
    return this.running;
  }

  private entry(id: string): Entry<F> {
    const e = this.cams.get(id);
    if (!e) throw new EdgefitError('E_FAIR_QUEUE', `camera ${id} is not in the queue`);
    return e;
  }
}
