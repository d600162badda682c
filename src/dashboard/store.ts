import type { DeviceState, ModelPayload, ResultPayload } from '../mqtt/payloads.js';
import { DeviceCameras, type CameraRow } from './cameras.js';
import { SeriesRing, type HistoryPoint } from './history.js';
import { presence } from './presence.js';
import type { Inbound } from './validate.js';

/** One fleet-table row, as sent to the page (short and flat: a thousand of them travel at start). */
export interface DeviceRow {
  id: string;
  state: DeviceState | 'unknown';
  /** ms since the epoch the state began (receipt time when seen live, the payload's ts when retained) */
  since: number;
  /** says it runs but its telemetry is overdue (presence.ts) */
  stale: boolean;
  /** online or degraded and not stale: what every "online" count counts (presence.ts) */
  online: boolean;
  session: number;
  board?: string;
  variant?: string;
  provider?: string;
  p50?: number;
  p90?: number;
  fps?: number;
  /** frames dropped in the last telemetry window */
  dropped?: number;
  tempC?: number | null;
  throttled?: string[] | null;
  outbox?: number;
  paused?: boolean;
  degraded?: boolean;
  warning?: string;
  /** the device's own ts of the newest telemetry (lets a test or fleet-sim measure publish -> page) */
  telemetryTs?: string;
  /** ms since the epoch the newest telemetry arrived here */
  seenAt?: number;
  /** the newest result (of any camera, which it names, on a device with several) */
  result?: ShownResult;
  /** a device with several cameras: one row per camera (at most MAX_DEVICE_CAMERAS), shown under the device */
  cameras?: CameraRow<ShownResult>[];
}

/** Counters of the newest telemetry, since the device's daemon started */
export interface DeviceCounters { outboxDropped: number; reconnects: number }

export interface ShownDetection { label: string; score: number; box: [number, number, number, number] }

/**
 * A result as the page shows it: a classifier's top-1; for a detector `label` sums up the counts ("person ×2, car")
 * and `score` is the best detection's, with the boxes (the first MAX_SHOWN_DETECTIONS) and the counts by label.
 * `camera`: the camera it came from, on a device with several.
 */
export interface ShownResult { label: string; score: number; at: number; detections?: ShownDetection[]; counts?: Record<string, number>; camera?: string }

export interface DeviceEvent { at: number; type: string; message: string; from?: string; to?: string }

export interface DeviceDetail {
  row: DeviceRow;
  model?: ModelPayload;
  /** bumps when a new model payload arrives, so the page knows to refetch the selection chart */
  modelSeq: number;
  history: HistoryPoint[];
  events: DeviceEvent[];
}

export interface BoardSummary {
  board: string;
  devices: number;
  online: number;
  /** median over devices of their p50, and the 90th percentile over devices of their p90 (ms) */
  p50Ms: number | null;
  p90Ms: number | null;
  variants: { variant: string; devices: number }[];
}

interface Entry {
  row: DeviceRow;
  model?: ModelPayload;
  modelSeq: number;
  history?: SeriesRing;
  lastPoint?: HistoryPoint;
  /** the newest telemetry's counters that the row does not show: /metrics exports them (metrics.ts) */
  counters?: DeviceCounters;
  events: DeviceEvent[];
  periodMs: number;
  firstSeen: number;
  cameras?: DeviceCameras<ShownResult>;
}

const MAX_EVENTS = 50;

/** "person ×2, car": the labels seen, most first; "nothing detected" when none */
export function countsText(counts: Readonly<Record<string, number>>): string {
  const e = Object.entries(counts).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return e.length === 0 ? 'nothing detected' : e.map(([l, n]) => (n > 1 ? `${l} ×${n}` : l)).join(', ');
}
const MIN_PERIOD_MS = 500;
const MAX_PERIOD_MS = 10 * 60_000;

/** What the page shows of a result. */
function shownResult(p: ResultPayload, now: number, camera: string | undefined): ShownResult {
  const cam = camera !== undefined ? { camera } : {};
  if (p.detections && p.counts) {
    const ds = p.detections;
    return {
      label: countsText(p.counts), score: ds.reduce((best, d) => Math.max(best, d.score), 0), at: now,
      detections: ds.map((d) => ({ label: d.label, score: d.score, box: d.box })), counts: p.counts, ...cam,
    };
  }
  const top = p.top[0];
  return top ? { label: top.label, score: top.score, at: now, ...cam } : { label: '', score: 0, at: now, ...cam };
}

export interface StoreOptions {
  /** devices beyond this are refused (counted): the broker could be flooded with made-up ids */
  maxDevices?: number;
}

/**
 * The dashboard's memory of the fleet: one entry per device, bounded (device count, events, an hour of
 * history in fixed buckets). Changes mark the device dirty; the SSE hub takes the dirty set on each flush.
 */
export class FleetStore {
  private readonly devices = new Map<string, Entry>();
  private dirty = new Set<string>();
  private boardsDirty = true;
  readonly maxDevices: number;
  refusedDevices = 0;
  /** cameras refused because their device already had MAX_DEVICE_CAMERAS */
  refusedCameras = 0;

  constructor(o: StoreOptions = {}) {
    this.maxDevices = o.maxDevices ?? 10_000;
  }

  get size(): number { return this.devices.size; }

  private entry(id: string, now: number): Entry | undefined {
    let e = this.devices.get(id);
    if (!e) {
      if (this.devices.size >= this.maxDevices) { this.refusedDevices++; return undefined; }
      e = { row: { id, state: 'unknown', since: now, stale: false, online: false, session: 0 }, modelSeq: 0, events: [], periodMs: 0, firstSeen: now };
      this.devices.set(id, e);
    }
    return e;
  }

  /** Applies a change to the device's cameras and puts the cameras' rows on its row. */
  private cameras<T>(e: Entry, change: (c: DeviceCameras<ShownResult>) => T): T {
    const c = (e.cameras ??= new DeviceCameras<ShownResult>());
    const refused = c.refused;
    const out = change(c);
    this.refusedCameras += c.refused - refused;
    const rows = c.rows();
    if (rows) e.row.cameras = rows;
    else {
      delete e.row.cameras;
      delete e.cameras;
    }
    return out;
  }

  /** Puts the presence verdict on the row; true when it changed. */
  private refresh(e: Entry, now: number): boolean {
    const r = e.row;
    const p = presence({ state: r.state, seenAt: r.seenAt, periodMs: e.periodMs, firstSeen: e.firstSeen }, now);
    if (p.stale === r.stale && p.online === r.online) return false;
    r.stale = p.stale;
    r.online = p.online;
    this.boardsDirty = true;
    return true;
  }

  /** Applies a validated message; `live` is false for retained messages delivered at subscription. */
  apply(m: Inbound, now: number, live: boolean): boolean {
    // a clear names a device only to take something away: it never creates one
    if (m.kind === 'cleared' && !this.devices.has(m.deviceId)) return false;
    const e = this.entry(m.deviceId, now);
    if (!e) return false;
    const r = e.row;
    switch (m.kind) {
      case 'cleared': {
        // the retained status or model was removed from the broker (an empty retained message)
        if (m.topic === 'status') {
          if (r.state !== 'unknown') r.since = now;
          r.state = 'unknown';
          delete r.warning;
        } else {
          delete e.model;
          e.modelSeq++;
          delete r.board;
          this.cameras(e, (c) => c.model(undefined));
          this.boardsDirty = true;
        }
        this.refresh(e, now);
        if (!e.model && r.state === 'unknown' && (r.seenAt === undefined || r.stale)) {
          // nothing retained is left and nothing fresh arrives: the device was retired; the page hears of it
          // as a dirty id without a row
          this.devices.delete(m.deviceId);
          this.boardsDirty = true;
        }
        this.dirty.add(m.deviceId);
        return true;
      }
      case 'status': {
        const s = m.payload;
        // a will from an older connection can arrive after the newer connection's birth: the session says so
        if (s.session < r.session) return false;
        if (s.state !== r.state || s.session !== r.session) {
          const ts = Date.parse(s.ts);
          r.since = live || !Number.isFinite(ts) ? now : ts;
        }
        r.state = s.state;
        r.session = s.session;
        if (s.warning !== undefined) r.warning = s.warning; else delete r.warning;
        break;
      }
      case 'model': {
        const p = m.payload;
        e.model = p;
        e.modelSeq++;
        r.board = p.board;
        r.variant = p.variant.id;
        r.provider = p.provider;
        this.cameras(e, (c) => c.model(p.cameras));
        this.boardsDirty = true;
        break;
      }
      case 'telemetry': {
        const t = m.payload;
        if (r.seenAt !== undefined) {
          const gap = now - r.seenAt;
          const clamped = Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, gap));
          // the period is learned from arrivals (the first window of a run is longer than the rest)
          e.periodMs = e.periodMs === 0 ? clamped : 0.7 * e.periodMs + 0.3 * clamped;
        } else {
          e.periodMs = Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, t.windowSeconds * 1000));
        }
        r.seenAt = now;
        e.counters = { outboxDropped: t.outbox.dropped, reconnects: t.reconnects };
        r.telemetryTs = t.ts;
        r.variant = t.variant;
        r.provider = t.provider;
        r.p50 = t.latencyMs.p50;
        r.p90 = t.latencyMs.p90;
        r.fps = t.fps;
        r.dropped = t.frames.dropped;
        r.tempC = t.temperatureC;
        r.throttled = t.throttled;
        r.outbox = t.outbox.depth;
        r.paused = t.paused;
        r.degraded = t.engine.degraded;
        this.cameras(e, (c) => c.telemetry(t.cameras));
        e.history ??= new SeriesRing();
        e.lastPoint = e.history.add(now, t.latencyMs.p50, t.latencyMs.p90, t.fps);
        this.boardsDirty = true;
        break;
      }
      case 'result': {
        const shown = shownResult(m.payload, now, m.camera);
        const camera = m.camera;
        // a result for a camera the device has no room for is not shown at all, not even as the device's newest
        if (camera !== undefined && !this.cameras(e, (c) => c.result(camera, shown))) return false;
        r.result = shown;
        break;
      }
      case 'event': {
        const ev = m.payload;
        e.events.push({ at: now, type: ev.type, message: ev.message, ...(ev.from ? { from: ev.from } : {}), ...(ev.to ? { to: ev.to } : {}) });
        if (e.events.length > MAX_EVENTS) e.events.splice(0, e.events.length - MAX_EVENTS);
        break;
      }
    }
    this.refresh(e, now);
    this.dirty.add(m.deviceId);
    return true;
  }

  /** Brings every device's stale/online verdict up to `now` (time alone turns telemetry overdue). */
  markStale(now: number): void {
    for (const [id, e] of this.devices) if (this.refresh(e, now)) this.dirty.add(id);
  }

  /** The ids changed since the last call, and forgets them. */
  takeDirty(): Set<string> {
    const d = this.dirty;
    this.dirty = new Set();
    return d;
  }

  takeBoardsDirty(): boolean {
    const d = this.boardsDirty;
    this.boardsDirty = false;
    return d;
  }

  row(id: string): DeviceRow | undefined { return this.devices.get(id)?.row; }

  /** Every device's row with its telemetry counters, in the order first seen (metrics.ts walks it per scrape). */
  *withCounters(): IterableIterator<{ row: DeviceRow; counters: DeviceCounters | undefined }> {
    for (const e of this.devices.values()) yield { row: e.row, counters: e.counters };
  }

  rows(): DeviceRow[] { return [...this.devices.values()].map((e) => e.row); }

  lastPoint(id: string): HistoryPoint | undefined { return this.devices.get(id)?.lastPoint; }

  events(id: string): DeviceEvent[] { return this.devices.get(id)?.events ?? []; }

  model(id: string): { model?: ModelPayload; modelSeq: number } | undefined {
    const e = this.devices.get(id);
    return e ? { ...(e.model ? { model: e.model } : {}), modelSeq: e.modelSeq } : undefined;
  }

  detail(id: string): DeviceDetail | undefined {
    const e = this.devices.get(id);
    if (!e) return undefined;
    return { row: e.row, ...(e.model ? { model: e.model } : {}), modelSeq: e.modelSeq, history: e.history?.points() ?? [], events: e.events };
  }

  /** "What does a Pi 4 typically pick?": per board, latency over its online devices and the variants chosen. */
  boards(): BoardSummary[] {
    const by = new Map<string, DeviceRow[]>();
    for (const e of this.devices.values()) {
      const b = e.row.board ?? 'unknown';
      let list = by.get(b);
      if (!list) by.set(b, (list = []));
      list.push(e.row);
    }
    const out: BoardSummary[] = [];
    for (const [board, rows] of by) {
      const live = rows.filter((r) => r.online && r.seenAt !== undefined);
      const variants = new Map<string, number>();
      for (const r of rows) if (r.variant) variants.set(r.variant, (variants.get(r.variant) ?? 0) + 1);
      out.push({
        board,
        devices: rows.length,
        online: rows.filter((r) => r.online).length,
        p50Ms: quantile(live.map((r) => r.p50!), 0.5),
        p90Ms: quantile(live.map((r) => r.p90!), 0.9),
        variants: [...variants].map(([variant, devices]) => ({ variant, devices })).sort((a, b) => b.devices - a.devices || a.variant.localeCompare(b.variant)),
      });
    }
    return out.sort((a, b) => b.devices - a.devices || a.board.localeCompare(b.board));
  }
}

/** Nearest-rank quantile; null for no values. */
export function quantile(values: number[], q: number): number | null {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return null;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}
