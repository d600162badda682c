import type { CameraModel, CameraTelemetry } from '../mqtt/payloads.js';
import { MAX_DEVICE_CAMERAS } from './validate.js';

export interface ShownDetection { label: string; score: number; box: [number, number, number, number] }

/**
 * A result as the page shows it: a classifier's top-1; for a detector `label` sums up the counts ("person ×2, car")
 * and `score` is the best detection's, with the boxes (the first MAX_SHOWN_DETECTIONS) and the counts by label.
 * `camera`: the camera it came from, on a device with several.
 */
export interface ShownResult { label: string; score: number; at: number; detections?: ShownDetection[]; counts?: Record<string, number>; camera?: string }

/** One camera of a device with several, as a row under its device (model: the joint choice; telemetry: live). */
export interface CameraRow {
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
  result?: ShownResult;
}

interface Slot { row: CameraRow; inModel: boolean; inTelemetry: boolean }

/**
 * The cameras of one device. Which cameras exist is said by the retained model and by each telemetry: a camera
 * neither names any more is forgotten. A result for a camera neither named yet (results can come first) is kept
 * until the next model or telemetry, and never beyond MAX_DEVICE_CAMERAS cameras, so made-up camera ids on result
 * topics cannot grow a device without bound.
 */
export class DeviceCameras {
  private readonly slots = new Map<string, Slot>();
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
  result(camera: string, shown: ShownResult): boolean {
    const s = this.slot(camera, false);
    if (!s) { this.refused++; return false; }
    s.row.result = shown;
    return true;
  }

  /** The rows: in the model's order (the configuration's), then those only telemetry or results named. */
  rows(): CameraRow[] | undefined {
    if (this.slots.size === 0) return undefined;
    const out: CameraRow[] = [];
    for (const id of this.modelOrder) { const s = this.slots.get(id); if (s) out.push(s.row); }
    for (const s of this.slots.values()) if (!s.inModel) out.push(s.row);
    return out;
  }

  /** `named`: the model or telemetry names it, so it gets a place (their lists are capped by the schemas) */
  private slot(id: string, named: boolean): Slot | undefined {
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
