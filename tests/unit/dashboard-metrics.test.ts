import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { FleetStore } from '../../src/dashboard/store.js';
import { FleetMetrics, MAX_GROUPS, MAX_LABEL } from '../../src/dashboard/metrics.js';
import type { IngestStats } from '../../src/dashboard/ingest.js';
import type { ModelPayload, TelemetryPayload } from '../../src/mqtt/payloads.js';
import { projectRoot } from '../../src/util/paths.js';
import { loadRecording } from '../helpers/recorded-device.js';
import { allPanels, grafanaProblems, metricNames } from '../helpers/grafana.js';

const rec = loadRecording();
const T0 = 1_700_000_000_000;

interface Line { name: string; labels: Record<string, string>; value: number }

/** The Prometheus text format, parsed the strict way Prometheus does for what prom-client writes. */
function parse(text: string): Line[] {
  const out: Line[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? '';
    const re = /([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let lm: RegExpExecArray | null;
    let at = 0;
    while (at < body.length && (lm = re.exec(body))) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
      at = re.lastIndex;
    }
    if (at !== body.length) throw new Error(`bad labels: ${body}`);
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function feed(store: FleetStore, id: string, o: { board?: string; variant?: string; telemetry?: Partial<TelemetryPayload> } = {}, now = T0): void {
  store.apply({ kind: 'status', deviceId: id, payload: { ...rec.status, deviceId: id } }, now, true);
  const model: ModelPayload = { ...rec.model, deviceId: id, ...(o.board ? { board: o.board } : {}), ...(o.variant ? { variant: { ...rec.model.variant, id: o.variant } } : {}) };
  store.apply({ kind: 'model', deviceId: id, payload: model }, now, true);
  if (o.telemetry) {
    const t = rec.telemetry[0]!.payload;
    store.apply({ kind: 'telemetry', deviceId: id, payload: { ...t, deviceId: id, ...(o.variant ? { variant: o.variant } : {}), ...o.telemetry } }, now, true);
  }
}

const ingest = (): IngestStats => ({ connected: true, protocolVersion: 5, messages: 12, applied: 10, rejected: 2, rejectedBy: { json: 1, shape: 1 } });
const metricsOf = (store: FleetStore, maxDevices?: number) => new FleetMetrics({ store, ingest, sseClients: () => 1 }, maxDevices ? { maxDevices } : {});
const series = (lines: Line[], name: string, device?: string) => lines.filter((l) => l.name === name && (device === undefined || l.labels.device === device));

describe('dashboard /metrics', () => {
  it('exports each device\'s figures with device, board, variant and provider labels', async () => {
    const store = new FleetStore();
    const t = rec.telemetry[0]!.payload;
    feed(store, 'cam-1', { board: 'raspberry-pi-4', telemetry: { temperatureC: 61.5, throttled: ['under-voltage'], outbox: { depth: 3, dropped: 7, refused: 0 }, reconnects: 4, frames: { in: 900, inferred: 800, dropped: 100 } } });
    feed(store, 'cam-2', { board: 'jetson-orin' });
    const lines = parse(await metricsOf(store).scrape(T0 + 1000));
    const labels = { device: 'cam-1', board: 'raspberry-pi-4', variant: t.variant, provider: t.provider };
    const one = (name: string) => {
      const s = series(lines, name, 'cam-1');
      expect(s, name).toHaveLength(1);
      return s[0]!;
    };
    expect(one('edgefit_device_latency_p90_seconds')).toEqual({ name: 'edgefit_device_latency_p90_seconds', labels, value: t.latencyMs.p90 / 1000 });
    expect(one('edgefit_device_latency_p50_seconds').value).toBe(t.latencyMs.p50 / 1000);
    expect(one('edgefit_device_fps').value).toBe(t.fps);
    expect(one('edgefit_device_frames_dropped_total').value).toBe(100);
    expect(one('edgefit_device_temperature_celsius').value).toBe(61.5);
    expect(one('edgefit_device_throttled').value).toBe(1);
    expect(one('edgefit_device_outbox_depth').value).toBe(3);
    expect(one('edgefit_device_outbox_dropped_total').value).toBe(7);
    expect(one('edgefit_device_reconnects_total').value).toBe(4);
    expect(one('edgefit_device_status')).toEqual({ name: 'edgefit_device_status', labels: { ...labels, status: 'online' }, value: 1 });
    // a device without telemetry has its status and nothing it has not reported
    expect(series(lines, 'edgefit_device_status', 'cam-2')).toHaveLength(1);
    expect(series(lines, 'edgefit_device_latency_p90_seconds', 'cam-2')).toHaveLength(0);
    // fleet counts and ingest counters
    const fleet = Object.fromEntries(series(lines, 'edgefit_fleet_devices').map((l) => [l.labels.status, l.value]));
    expect(fleet).toEqual({ online: 2, degraded: 0, stopped: 0, offline: 0, unknown: 0, stale: 0 });
    expect(series(lines, 'edgefit_fleet_devices_by_board').map((l) => [l.labels.board, l.value]).sort()).toEqual([['jetson-orin', 1], ['raspberry-pi-4', 1]]);
    expect(series(lines, 'edgefit_ingest_rejected_total').map((l) => [l.labels.reason, l.value]).sort()).toEqual([['json', 1], ['shape', 1]]);
    expect(series(lines, 'edgefit_ingest_messages_total')[0]!.value).toBe(12);
    // its own registry: nothing leaks into prom-client's global one
    expect(await globalRegistry.metrics()).not.toContain('edgefit_');
  });

  it('follows a device: stale after its telemetry stops, a new series after a model switch, gone when it leaves', async () => {
    const store = new FleetStore();
    feed(store, 'cam-1', { variant: 'v-a', telemetry: { windowSeconds: 5 } });
    const m = metricsOf(store);
    expect(series(parse(await m.scrape(T0 + 1000)), 'edgefit_device_status', 'cam-1').map((l) => l.labels.status)).toEqual(['online']);
    // no telemetry for far more than three periods
    expect(series(parse(await m.scrape(T0 + 10 * 60_000)), 'edgefit_device_status', 'cam-1').map((l) => l.labels.status)).toEqual(['stale']);
    // the device switches its model: only the new variant's series remains
    feed(store, 'cam-1', { variant: 'v-b', telemetry: { windowSeconds: 5 } }, T0 + 10 * 60_000);
    const p90 = series(parse(await m.scrape(T0 + 10 * 60_000 + 1000)), 'edgefit_device_latency_p90_seconds', 'cam-1');
    expect(p90.map((l) => l.labels.variant)).toEqual(['v-b']);
    // the retained status and model are cleared and no telemetry comes: the device leaves, its series with it
    const later = T0 + 20 * 60_000;
    store.apply({ kind: 'cleared', deviceId: 'cam-1', topic: 'status' }, later, true);
    store.apply({ kind: 'cleared', deviceId: 'cam-1', topic: 'model' }, later, true);
    expect(store.size).toBe(0);
    const gone = parse(await m.scrape(later + 1000));
    expect(gone.filter((l) => l.labels.device === 'cam-1')).toEqual([]);
  });

  it('keeps cardinality bounded: a cap on devices, cut label values, "other" beyond the largest groups', async () => {
    const store = new FleetStore();
    const hostile = `pi"\\\n${'x'.repeat(500)}`;
    feed(store, 'dev-0', { board: hostile, telemetry: {} });
    for (let i = 1; i < MAX_GROUPS + 20; i++) feed(store, `dev-${i}`, { variant: `made-up-${i}`, telemetry: {} });
    const lines = parse(await metricsOf(store, 50).scrape(T0 + 1000));
    const devices = new Set(lines.filter((l) => l.name.startsWith('edgefit_device_')).map((l) => l.labels.device));
    expect(devices.size).toBe(50);
    expect(series(lines, 'edgefit_metrics_devices_exported')[0]!.value).toBe(50);
    expect(series(lines, 'edgefit_metrics_devices_omitted')[0]!.value).toBe(MAX_GROUPS + 20 - 50);
    // the hostile board: cut, escaped, and read back exactly
    const board = series(lines, 'edgefit_device_status', 'dev-0')[0]!.labels.board!;
    expect(board).toBe(hostile.slice(0, MAX_LABEL));
    const variants = series(lines, 'edgefit_fleet_devices_by_variant');
    expect(variants).toHaveLength(MAX_GROUPS + 1);
    expect(variants.reduce((s, l) => s + l.value, 0)).toBe(MAX_GROUPS + 20);
    expect(variants.some((l) => l.labels.variant === 'other')).toBe(true);
  });
});

describe('deploy/grafana', () => {
  const dashboard = JSON.parse(readFileSync(join(projectRoot, 'deploy/grafana/edgefit-fleet.json'), 'utf8')) as unknown;

  it('is a Grafana dashboard: uid, schemaVersion, panels with a Prometheus datasource and targets', () => {
    expect(grafanaProblems(dashboard)).toEqual([]);
    const titles = allPanels(dashboard as never).filter((p) => p.type === 'row').map((p) => p.title);
    expect(titles).toEqual(['Fleet overview', 'Latency per board', 'Device $device']);
  });

  it('queries only metrics the dashboard exports', async () => {
    const store = new FleetStore();
    feed(store, 'cam-1', { telemetry: { temperatureC: 50, throttled: [] } });
    const exported = new Set(parse(await metricsOf(store).scrape(T0 + 1000)).map((l) => l.name));
    const used = new Set<string>();
    for (const p of allPanels(dashboard as never)) {
      for (const t of p.targets ?? []) {
        const names = metricNames(String(t.expr));
        expect(names.length, String(t.expr)).toBeGreaterThan(0);
        for (const n of names) used.add(n);
      }
    }
    expect([...used].filter((n) => !exported.has(n))).toEqual([]);
    // the variables' queries too
    for (const v of (dashboard as { templating: { list: { definition?: string }[] } }).templating.list) {
      for (const n of v.definition ? metricNames(v.definition.replace(/^label_values\((.*), \w+\)$/, '$1')) : []) expect(exported.has(n), n).toBe(true);
    }
  });
});
