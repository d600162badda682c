import { Gauge, Registry } from 'prom-client';
import type { BenchContext, SectionResult, Target } from './context.js';
import { fmt, table } from './stats.js';
import { FleetStore } from '../../src/dashboard/store.js';
import { FleetMetrics } from '../../src/dashboard/metrics.js';
import type { IngestStats } from '../../src/dashboard/ingest.js';
import type { ModelPayload, StatusPayload, TelemetryPayload } from '../../src/mqtt/payloads.js';

const ingest = (): IngestStats => ({ connected: true, protocolVersion: 5, messages: 0, applied: 0, rejected: 0, rejectedBy: {} });

/** A store holding `n` devices with a model and one telemetry each (five boards, as fleet-sim's). */
function fleet(n: number): FleetStore {
  const store = new FleetStore({ maxDevices: n });
  const now = Date.now();
  for (let i = 0; i < n; i++) {
    const id = `bench-${String(i).padStart(5, '0')}`;
    const ts = new Date(now).toISOString();
    const status: StatusPayload = { state: 'online', session: 1, deviceId: id, ts, version: 'bench' };
    store.apply({ kind: 'status', deviceId: id, payload: status }, now, true);
    store.apply({ kind: 'model', deviceId: id, payload: { deviceId: id, board: `board-${i % 5}`, provider: 'cpu', variant: { id: `mobilenet_v1-0.${5 + (i % 5)}-160-int8` } } as unknown as ModelPayload }, now, true);
    const t = {
      deviceId: id, session: 1, ts, windowSeconds: 5, variant: `mobilenet_v1-0.${5 + (i % 5)}-160-int8`, provider: 'cpu', paused: false,
      frames: { in: 9000, inferred: 8000, dropped: 1000 }, fps: 12 + (i % 7), latencyMs: { p50: 30 + (i % 11), p90: 40 + (i % 13), p99: 60 }, inferMs: { p50: 20, p90: 30, p99: 40 },
      cpuPercent: 50, rssMb: 180, temperatureC: 55 + (i % 9), throttled: [], outbox: { depth: 0, dropped: i % 3, refused: 0 }, reconnects: i % 4,
      engine: { restarts: 0, timeouts: 0, crashes: 0, degraded: false }, camera: { online: true, stalls: 0, restarts: 0 }, eventLoopDelayP99Ms: 2,
    } satisfies TelemetryPayload;
    store.apply({ kind: 'telemetry', deviceId: id, payload: t }, now, true);
  }
  return store;
}

/** The counterfactual: the same series through Gauge.set with the four labels, reset at each scrape. */
function gaugeSetScrape(store: FleetStore): () => Promise<string> {
  const registry = new Registry();
  const names = ['status', 'p50', 'p90', 'fps', 'dropped', 'temp', 'throttled', 'outbox', 'outbox_dropped', 'reconnects'];
  const gauges = names.map((n) => new Gauge({ name: `cf_${n}`, help: n, labelNames: ['device', 'board', 'variant', 'provider'], registers: [registry] }));
  return () => {
    registry.resetMetrics();
    for (const { row } of store.withCounters()) {
      const l = { device: row.id, board: row.board ?? '', variant: row.variant ?? '', provider: row.provider ?? '' };
      for (const g of gauges) g.set(l, row.p90 ?? 0);
    }
    return registry.metrics();
  };
}

/** CPU ms (user + system) of `f`, median over `runs`. */
async function cpuMs(runs: number, f: () => Promise<string>): Promise<{ cpu: number; bytes: number }> {
  const out: number[] = [];
  let bytes = 0;
  await f();
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    bytes = (await f()).length;
    const c = process.cpuUsage(c0);
    out.push((c.user + c.system) / 1000);
  }
  out.sort((a, b) => a - b);
  return { cpu: out[Math.floor(out.length / 2)]!, bytes };
}

/**
 * The dashboard's /metrics: CPU time of one scrape (refresh from the store and prom-client's text) at 1,000 and
 * 10,000 devices, against the counterfactual of Gauge.set per label set (what prom-client's docs show first).
 * CPU time rather than wall time: the machine is shared, and the scrape's own work is what it adds.
 */
export async function metricsSection(ctx: BenchContext): Promise<SectionResult> {
  const runs = ctx.quick ? 3 : 9;
  const rows: string[][] = [];
  const targets: Target[] = [];
  const data: Record<string, unknown> = {};
  for (const n of [1000, 10_000]) {
    const store = fleet(n);
    const m = new FleetMetrics({ store, ingest, sseClients: () => 0 });
    ctx.log(`metrics: ${n} devices, ${runs} scrapes each way`);
    // interleaved: the two ways see the same machine
    const ours = await cpuMs(runs, () => m.scrape());
    const cf = await cpuMs(runs, gaugeSetScrape(store));
    rows.push([String(n), fmt(ours.cpu, 0), fmt(cf.cpu, 0), fmt(cf.cpu / ours.cpu, 2), fmt(ours.bytes / 1048576, 1)]);
    data[n] = { scrapeCpuMs: ours.cpu, gaugeSetCpuMs: cf.cpu, bytes: ours.bytes };
    if (n === 10_000) targets.push({ what: '/metrics scrape at 10,000 devices (CPU)', target: '< 1000 ms', measured: `${fmt(ours.cpu, 0)} ms`, met: ours.cpu < 1000 });
  }
  return {
    name: 'metrics', title: 'dashboard /metrics scrape (CPU ms, median)',
    table: table(['devices', 'scrape', 'Gauge.set', 'ratio', 'MB'], rows),
    targets, notes: ['scrape: FleetMetrics (slots with cached shared labels, one family per event-loop turn); Gauge.set: the same series through Gauge.set with four labels'], data,
  };
}
