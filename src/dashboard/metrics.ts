import { Counter, Gauge, Registry } from 'prom-client';
import type { FleetStore, DeviceRow } from './store.js';
import type { IngestStats } from './ingest.js';

/**
 * The dashboard's `/metrics`: the fleet in the Prometheus text format, through prom-client on a registry of
 * its own (never the global one: two dashboards in one process, or a library user's own metrics, must not mix).
 *
 * Nothing is updated at ingest: every scrape resets the metrics and fills them in one pass over the store, so a
 * device that has left the store has no series on the next scrape, and ingest costs nothing extra.
 *
 * Cardinality is bounded:
 *   - per-device series: at most `maxDevices` devices (default 10,000, the store's own bound), the first seen;
 *     the others are counted in edgefit_metrics_devices_omitted. About 10 series per device.
 *   - label values come from devices: board, variant and provider are cut to MAX_LABEL characters (the device id
 *     already follows the topic-level rule, 64 characters of [A-Za-z0-9._-]); prom-client escapes the rest.
 *   - the fleet counts by board and by variant keep the MAX_GROUPS largest groups; the rest are summed as "other".
 *   - rejection reasons are validate.ts's fixed set.
 */

export const DEVICE_LABELS = ['device', 'board', 'variant', 'provider'] as const;
export const STATUSES = ['online', 'degraded', 'stopped', 'offline', 'unknown', 'stale'] as const;
export const MAX_LABEL = 64;
export const MAX_GROUPS = 100;
export const DEFAULT_MAX_DEVICES = 10_000;

export interface MetricsOptions {
  /** devices whose own series are exported (the first seen); default DEFAULT_MAX_DEVICES */
  maxDevices?: number;
}

export interface MetricsSources {
  store: FleetStore;
  ingest: () => IngestStats;
  sseClients: () => number;
}

type Labels = Record<(typeof DEVICE_LABELS)[number], string>;
type Status = (typeof STATUSES)[number];

const clip = (s: string | undefined): string => (s === undefined ? '' : s.length > MAX_LABEL ? s.slice(0, MAX_LABEL) : s);

/**
 * One value of a per-device series. The device's labels go in `sharedLabels`: prom-client formats a shared-labels
 * object once and caches the text by the object's identity, and these objects live as long as the device's labels
 * do, so 10,000 devices x 11 series cost no label formatting or hashing per scrape (measured: a scrape of 10,000
 * devices took 0.7-1.7 s through Gauge.set, most of it in hashing, label formatting and the garbage they make).
 */
interface Slot { value: number; labels: Record<string, string>; sharedLabels: Labels }

const PER_DEVICE = {
  p50: ['gauge', 'edgefit_device_latency_p50_seconds', 'median frame latency (camera to result) over the device\'s last telemetry window'],
  p90: ['gauge', 'edgefit_device_latency_p90_seconds', '90th percentile frame latency over the device\'s last telemetry window'],
  fps: ['gauge', 'edgefit_device_fps', 'frames inferred per second over the device\'s last telemetry window'],
  dropped: ['counter', 'edgefit_device_frames_dropped_total', 'frames the device dropped since its daemon started (superseded in the camera ring or the engine mailbox)'],
  temp: ['gauge', 'edgefit_device_temperature_celsius', 'the device\'s CPU temperature (absent when the device cannot read it)'],
  throttled: ['gauge', 'edgefit_device_throttled', '1 when the device reports thermal or power throttling now, 0 when not (absent when it cannot tell)'],
  outbox: ['gauge', 'edgefit_device_outbox_depth', 'results waiting in the device\'s outbox for the broker'],
  outboxDropped: ['counter', 'edgefit_device_outbox_dropped_total', 'results the device\'s outbox dropped at its bound since its daemon started'],
  reconnects: ['counter', 'edgefit_device_reconnects_total', 'MQTT reconnects of the device since its daemon started'],
} as const;
type Family = keyof typeof PER_DEVICE;
const FAMILIES = Object.keys(PER_DEVICE) as Family[];
const STATUS_LABELS = Object.fromEntries(STATUSES.map((s) => [s, { status: s }])) as Record<Status, { status: Status }>;

/**
 * Lets one per-device family at a time be formatted, each in its own turn of the event loop: registry.metrics()
 * formats every metric as soon as its get() resolves, and 10,000 devices' text in one go held up ingest for
 * hundreds of ms (the publish-to-row p99 at 10,000 devices doubled while a scrape ran).
 */
class Turns {
  private last: Promise<void> = Promise.resolve();
  next(): Promise<void> {
    const p = this.last.then(() => new Promise<void>((r) => setImmediate(r)));
    this.last = p;
    return p;
  }
}

/** A prom-client metric whose values are the slots filled in by FleetMetrics for this scrape. */
class DeviceGauge extends Gauge {
  slots: Slot[] = [];
  turns: Turns | undefined;
  override async get() {
    await this.turns?.next();
    return { ...(await super.get()), values: this.slots };
  }
}
class DeviceCounter extends Counter {
  slots: Slot[] = [];
  turns: Turns | undefined;
  override async get() {
    await this.turns?.next();
    return { ...(await super.get()), values: this.slots };
  }
}

interface DeviceCache { key: string; shared: Labels; status: Slot; slots: Record<Family, Slot>; seen: number }

export class FleetMetrics {
  readonly registry = new Registry();
  readonly maxDevices: number;
  private readonly g: ReturnType<FleetMetrics['define']>;
  private readonly family: Record<Family, DeviceGauge | DeviceCounter>;
  private readonly statusFamily: DeviceGauge;
  private readonly cache = new Map<string, DeviceCache>();
  private generation = 0;

  constructor(private readonly src: MetricsSources, o: MetricsOptions = {}) {
    this.maxDevices = o.maxDevices ?? DEFAULT_MAX_DEVICES;
    const registers = [this.registry];
    this.statusFamily = new DeviceGauge({ name: 'edgefit_device_status', help: 'the device\'s status: 1 on the series of its current status (online, degraded, stopped, offline, unknown; stale: says it runs but its telemetry is overdue)', labelNames: [...DEVICE_LABELS, 'status'], registers });
    this.family = Object.fromEntries(FAMILIES.map((f) => {
      const [type, name, help] = PER_DEVICE[f];
      const c = { name, help, labelNames: [...DEVICE_LABELS], registers };
      return [f, type === 'gauge' ? new DeviceGauge(c) : new DeviceCounter(c)];
    })) as Record<Family, DeviceGauge | DeviceCounter>;
    const turns = new Turns();
    this.statusFamily.turns = turns;
    for (const f of FAMILIES) this.family[f].turns = turns;
    this.g = this.define();
  }

  private define() {
    const registers = [this.registry];
    return {
      fleet: new Gauge({ name: 'edgefit_fleet_devices', help: 'devices known to this dashboard by status (stale counted apart from the status it claims)', labelNames: ['status'], registers }),
      fleetOnline: new Gauge({ name: 'edgefit_fleet_devices_online', help: 'devices online by the dashboard\'s one definition (online or degraded, telemetry not overdue)', registers }),
      byVariant: new Gauge({ name: 'edgefit_fleet_devices_by_variant', help: `devices by the variant they run (the ${MAX_GROUPS} most common; the rest as "other")`, labelNames: ['variant'], registers }),
      byBoard: new Gauge({ name: 'edgefit_fleet_devices_by_board', help: `devices by board model (the ${MAX_GROUPS} most common; the rest as "other")`, labelNames: ['board'], registers }),
      refused: new Counter({ name: 'edgefit_fleet_refused_devices_total', help: 'messages from new devices refused because the dashboard already holds its maximum number of devices', registers }),
      messages: new Counter({ name: 'edgefit_ingest_messages_total', help: 'MQTT messages received on the fleet topics', registers }),
      applied: new Counter({ name: 'edgefit_ingest_applied_total', help: 'fleet messages validated and applied', registers }),
      rejected: new Counter({ name: 'edgefit_ingest_rejected_total', help: 'fleet messages rejected by validation, by reason', labelNames: ['reason'], registers }),
      connected: new Gauge({ name: 'edgefit_ingest_connected', help: '1 while the dashboard is connected to the broker', registers }),
      exported: new Gauge({ name: 'edgefit_metrics_devices_exported', help: 'devices whose own series this scrape carries', registers }),
      omitted: new Gauge({ name: 'edgefit_metrics_devices_omitted', help: 'devices left out of the per-device series by the cap (--metrics-max-devices)', registers }),
      sse: new Gauge({ name: 'edgefit_dashboard_sse_clients', help: 'dashboard pages connected now', registers }),
      rss: new Gauge({ name: 'edgefit_dashboard_resident_memory_bytes', help: 'resident memory of the dashboard process', registers }),
      heap: new Gauge({ name: 'edgefit_dashboard_heap_used_bytes', help: 'JS heap in use by the dashboard process', registers }),
    };
  }

  /** The text Prometheus reads, built from the store as it is now. */
  async scrape(now = Date.now()): Promise<string> {
    this.refresh(now);
    return this.registry.metrics();
  }

  get contentType(): string { return this.registry.contentType; }

  /** The device's slots, made again when its labels change (a model switch: the old series ends). */
  private slotsOf(row: DeviceRow): DeviceCache {
    const board = clip(row.board);
    const variant = clip(row.variant);
    const provider = clip(row.provider);
    const key = `${board}\n${variant}\n${provider}`;
    let c = this.cache.get(row.id);
    if (!c || c.key !== key) {
      const shared: Labels = { device: row.id, board, variant, provider };
      const slot = (): Slot => ({ value: 0, labels: {}, sharedLabels: shared });
      c = { key, shared, status: { value: 1, labels: STATUS_LABELS.unknown, sharedLabels: shared }, slots: Object.fromEntries(FAMILIES.map((f) => [f, slot()])) as Record<Family, Slot>, seen: 0 };
      this.cache.set(row.id, c);
    }
    c.seen = this.generation;
    return c;
  }

  private refresh(now: number): void {
    const g = this.g;
    this.registry.resetMetrics();
    const gen = ++this.generation;
    this.statusFamily.slots = [];
    for (const f of FAMILIES) this.family[f].slots = [];
    const put = (f: Family, c: DeviceCache, v: number) => {
      const s = c.slots[f];
      s.value = v;
      this.family[f].slots.push(s);
    };
    this.src.store.markStale(now);
    const byStatus = new Map<string, number>(STATUSES.map((s) => [s, 0]));
    const variants = new Map<string, number>();
    const boards = new Map<string, number>();
    let online = 0;
    let exported = 0;
    let omitted = 0;
    for (const { row, counters } of this.src.store.withCounters()) {
      const status = statusOf(row);
      byStatus.set(status, byStatus.get(status)! + 1);
      if (row.online) online++;
      if (row.variant) variants.set(row.variant, (variants.get(row.variant) ?? 0) + 1);
      const board = row.board ?? 'unknown';
      boards.set(board, (boards.get(board) ?? 0) + 1);
      if (exported >= this.maxDevices) { omitted++; continue; }
      exported++;
      const c = this.slotsOf(row);
      c.status.labels = STATUS_LABELS[status];
      this.statusFamily.slots.push(c.status);
      // no telemetry yet: only what the retained status says
      if (!counters) continue;
      put('p50', c, row.p50! / 1000);
      put('p90', c, row.p90! / 1000);
      put('fps', c, row.fps!);
      put('dropped', c, row.dropped!);
      if (row.tempC !== null && row.tempC !== undefined) put('temp', c, row.tempC);
      if (row.throttled !== null && row.throttled !== undefined) put('throttled', c, row.throttled.length > 0 ? 1 : 0);
      put('outbox', c, row.outbox!);
      put('outboxDropped', c, counters.outboxDropped);
      put('reconnects', c, counters.reconnects);
    }
    // a device that left the store (or the cap) has no series now: forget its slots too
    for (const [id, c] of this.cache) if (c.seen !== gen) this.cache.delete(id);
    for (const [s, n] of byStatus) g.fleet.set({ status: s }, n);
    g.fleetOnline.set(online);
    for (const [v, n] of top(variants)) g.byVariant.set({ variant: clip(v) }, n);
    for (const [b, n] of top(boards)) g.byBoard.set({ board: clip(b) }, n);
    g.refused.inc(this.src.store.refusedDevices);
    const st = this.src.ingest();
    g.messages.inc(st.messages);
    g.applied.inc(st.applied);
    for (const [reason, n] of Object.entries(st.rejectedBy)) g.rejected.inc({ reason }, n);
    g.connected.set(st.connected ? 1 : 0);
    g.exported.set(exported);
    g.omitted.set(omitted);
    g.sse.set(this.src.sseClients());
    const m = process.memoryUsage();
    g.rss.set(m.rss);
    g.heap.set(m.heapUsed);
  }
}

function statusOf(r: DeviceRow): Status {
  return r.stale ? 'stale' : r.state;
}

/** The MAX_GROUPS largest groups, and the rest summed as "other": a fleet of made-up variants stays bounded. */
function top(m: Map<string, number>): [string, number][] {
  if (m.size <= MAX_GROUPS) return [...m];
  const sorted = [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const kept = sorted.slice(0, MAX_GROUPS);
  kept.push(['other', sorted.slice(MAX_GROUPS).reduce((s, [, n]) => s + n, 0)]);
  return kept;
}
