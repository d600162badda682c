import type { CameraModel, CameraTelemetry } from '../mqtt/payloads.js';
import { MAX_DEVICE_CAMERAS } from './validate.js';

/**
 * One camera of a device with several, as a row under its device (model: the joint choice; telemetry: live).
 * R: the newest result as the store shows it (store.ts ShownResult).
 */
export interface CameraRow<R> {
  id: string;
  /** from the model payload */
  task?: CameraModel['task'];
  provider?: string;
  threads?: number;
  /** the frame rate the joint choice serves it at */
  targetFps?: number;
  reason?: string;
  /** the variant it runs: the model's, replaced by the newer telemetry's (a live step down) */
  variant?: string;
  /** from telemetry: results per second, p90 and frames dropped over the window */
  fps?: number;
  p90?: number;
  dropped?: number;
  status?: CameraTelemetry['status'];
  result?: R;
}

interface Slot<R> { row: CameraRow<R>; inModel: boolean; inTelemetry: boolean }

/**
 * The cameras of one device. Which cameras exist is said by the retained model and by each telemetry: a camera
 * neither names any more is forgotten. A result for a camera neither named yet (results can come first) is kept
 * until the next model or telemetry, and never beyond MAX_DEVICE_CAMERAS cameras, so made-up camera ids on result
 * topics cannot grow a device without bound.
 */
export class DeviceCameras<R> {
  private readonly slots = new Map<string, Slot<R>>();
  private modelOrder: string[] = [];
  /** cameras refused because the device already had MAX_DEVICE_CAMERAS */
  refused = 0;

  get size(): number { return this.slots.size; }

  /** the model's cameras (absent: one camera, or the model was cleared) */
  model(list: readonly CameraModel[] | undefined): void {
    const named = new Set<string>();
    for (const c of list ?? []) {
      const s = this.slot(c.id, true);
      // the model's and the telemetry's lists are each capped, but together could name more
      if (!s) { this.refused++; continue; }
      named.add(c.id);
      s.inModel = true;
      Object.assign(s.row, { task: c.task, provider: c.provider, threads: c.threads, targetFps: c.fps, reason: c.reason, variant: c.variant });
    }
    this.modelOrder = [...named];
    for (const s of this.slots.values()) {
      if (named.has(s.row.id)) continue;
      s.inModel = false;
      for (const k of ['task', 'provider', 'threads', 'targetFps', 'reason'] as const) delete s.row[k];
    }
    this.prune();
  }

  /** the telemetry's cameras (absent: one camera) */
  telemetry(list: readonly CameraTelemetry[] | undefined): void {
    const named = new Set<string>();
    for (const c of list ?? []) {
      const s = this.slot(c.id, true);
      // the model's and the telemetry's lists are each capped, but together could name more
      if (!s) { this.refused++; continue; }
      named.add(c.id);
      s.inTelemetry = true;
      Object.assign(s.row, { variant: c.variant, fps: c.fps, p90: c.p90Ms, dropped: c.dropped, status: c.status });
    }
    for (const s of this.slots.values()) {
      if (named.has(s.row.id)) continue;
      s.inTelemetry = false;
      for (const k of ['fps', 'p90', 'dropped', 'status'] as const) delete s.row[k];
    }
    this.prune();
  }

  /** false when the camera is unknown and the device has no room for another */
  result(camera: string, shown: R): boolean {
    const s = this.slot(camera, false);
    if (!s) { this.refused++; return false; }
    s.row.result = shown;
    return true;
  }

  /** The rows: in the model's order (the configuration's), then those only telemetry or results named. */
  rows(): CameraRow<R>[] | undefined {
    if (this.slots.size === 0) return undefined;
    const out: CameraRow<R>[] = [];
    for (const id of this.modelOrder) { const s = this.slots.get(id); if (s) out.push(s.row); }
    for (const s of this.slots.values()) if (!s.inModel) out.push(s.row);
    return out;
  }

  /** `named`: the model or telemetry names it, so it gets a place (their lists are capped by the schemas) */
  private slot(id: string, named: boolean): Slot<R> | undefined {
    let s = this.slots.get(id);
    if (!s) {
      if (this.slots.size >= MAX_DEVICE_CAMERAS && !(named && this.evictUnnamed())) return undefined;
      s = { row: { id }, inModel: false, inTelemetry: false };
      this.slots.set(id, s);
    }
    return s;
  }

  /** Makes room for a named camera by forgetting one that only a result named. */
  private evictUnnamed(): boolean {
    for (const [id, s] of this.slots) if (!s.inModel && !s.inTelemetry) { this.slots.delete(id); return true; }
    return false;
  }

  private prune(): void {
    for (const [id, s] of this.slots) if (!s.inModel && !s.inTelemetry) this.slots.delete(id);
  }
}
