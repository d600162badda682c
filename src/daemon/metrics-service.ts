import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../util/log.js';
import { EdgefitError } from '../util/errors.js';
import type { CameraTelemetry, TelemetryPayload } from '../mqtt/payloads.js';
import type { Service } from './service.js';

export interface MetricsInputs {
  /** loopback port; 0 picks a free one (tests) */
  port: number;
  deviceId: string;
  log: Logger;
  /** the newest telemetry the daemon published (TelemetryService.lastPublished) */
  telemetry(): TelemetryPayload | undefined;
  /** what runs: one entry, or one per camera (with its id) on a several-camera daemon */
  selections(): Selection[];
}

export interface Selection { camera?: string; variant: string; provider: string; threads: number }

/** Host names a loopback scraper uses; any other Host is a DNS-rebinding page in a browser on the device (421). */
const LOOPBACK_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/**
 * `metrics.port`: the daemon's own telemetry as Prometheus metrics on 127.0.0.1 (never beyond: it has no
 * credentials), for a scraper on the device, node-exporter style. The figures are those of the newest telemetry
 * window, so they agree with what the daemon publishes over MQTT; a registry of its own (prom-client).
 */
export class MetricsService implements Service {
  readonly name = 'metrics';
  readonly registry = new Registry();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly i: MetricsInputs) {
    const registers = [this.registry];
    const t = () => i.telemetry();
    // a device label: a labelled metric can be absent (before the first telemetry window), an unlabelled one reads 0
    const device = { device: i.deviceId };
    const gauge = (name: string, help: string, read: (t: TelemetryPayload) => number | null) => new Gauge({
      name, help, registers, labelNames: ['device'],
      collect() {
        this.reset();
        const p = t();
        const v = p ? read(p) : null;
        if (v !== null) this.set(device, v);
      },
    });
    const counter = (name: string, help: string, read: (t: TelemetryPayload) => number) => new Counter({
      name, help, registers, labelNames: ['device'],
      collect() {
        this.reset();
        const p = t();
        if (p) this.inc(device, read(p));
      },
    });
    new Gauge({
      name: 'edgefit_selection', help: 'the running choice: 1 on the series of the chosen variant, provider and thread count (per camera with several)', labelNames: ['device', 'camera', 'variant', 'provider', 'threads'], registers,
      collect() {
        // reset: the series of a variant no longer running goes away, so the count stays one per camera
        this.reset();
        for (const c of i.selections()) this.set({ device: i.deviceId, ...(c.camera !== undefined ? { camera: c.camera } : {}), variant: c.variant, provider: c.provider, threads: String(c.threads) }, 1);
      },
    });
    gauge('edgefit_latency_p50_seconds', 'median frame latency (camera to result), last telemetry window', (p) => p.latencyMs.p50 / 1000);
    gauge('edgefit_latency_p90_seconds', '90th percentile frame latency, last telemetry window', (p) => p.latencyMs.p90 / 1000);
    gauge('edgefit_latency_p99_seconds', '99th percentile frame latency, last telemetry window', (p) => p.latencyMs.p99 / 1000);
    gauge('edgefit_infer_p90_seconds', '90th percentile inference time, last telemetry window', (p) => p.inferMs.p90 / 1000);
    gauge('edgefit_fps', 'frames inferred per second, last telemetry window', (p) => p.fps);
    counter('edgefit_frames_in_total', 'frames from the camera since the daemon started', (p) => p.frames.in);
    counter('edgefit_frames_inferred_total', 'frames inferred since the daemon started', (p) => p.frames.inferred);
    counter('edgefit_frames_dropped_total', 'frames dropped since the daemon started (superseded in the camera ring or the engine mailbox)', (p) => p.frames.dropped);
    gauge('edgefit_outbox_depth', 'results waiting in the outbox for the broker', (p) => p.outbox.depth);
    counter('edgefit_outbox_dropped_total', 'results the outbox dropped at its bound', (p) => p.outbox.dropped);
    counter('edgefit_reconnects_total', 'MQTT reconnects since the daemon started', (p) => p.reconnects);
    counter('edgefit_engine_restarts_total', 'engine restarts since the daemon started (over every model it ran: model switches do not reset it)', (p) => p.engine.restarts);
    gauge('edgefit_temperature_celsius', 'CPU temperature (absent when unreadable)', (p) => p.temperatureC);
    gauge('edgefit_throttled', '1 while the board reports throttling (absent when it cannot tell)', (p) => (p.throttled === null ? null : p.throttled.length > 0 ? 1 : 0));
    // several cameras: a series per configured camera id (bounded by the configuration), never per variant
    const cameras = () => t()?.cameras ?? [];
    const cameraGauge = (name: string, help: string, read: (c: CameraTelemetry) => number) => new Gauge({
      name, help, registers, labelNames: ['device', 'camera'],
      collect() { this.reset(); for (const c of cameras()) this.set({ device: i.deviceId, camera: c.id }, read(c)); },
    });
    const cameraCounter = (name: string, help: string, read: (c: CameraTelemetry) => number) => new Counter({
      name, help, registers, labelNames: ['device', 'camera'],
      collect() { this.reset(); for (const c of cameras()) this.inc({ device: i.deviceId, camera: c.id }, read(c)); },
    });
    cameraGauge('edgefit_camera_fps', 'frames of one camera inferred per second, last telemetry window', (c) => c.fps);
    cameraGauge('edgefit_camera_latency_p90_seconds', '90th percentile frame latency of one camera (queue wait included), last telemetry window', (c) => c.p90Ms / 1000);
    cameraGauge('edgefit_camera_online', '1 while the camera delivers frames', (c) => (c.status === 'running' ? 1 : 0));
    cameraCounter('edgefit_camera_frames_inferred_total', 'frames of one camera inferred since the daemon started', (c) => c.inferred);
    cameraCounter('edgefit_camera_frames_dropped_total', 'frames of one camera dropped since the daemon started', (c) => c.droppedTotal);
    cameraCounter('edgefit_camera_restarts_total', 'restarts of one camera\'s source since the daemon started', (c) => c.restarts);
    gauge('edgefit_paused', '1 while inference is paused by a command', (p) => (p.paused ? 1 : 0));
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (!LOOPBACK_HOST.test(req.headers.host ?? '')) { res.writeHead(421).end('this endpoint serves loopback names only\n'); return; }
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') { res.writeHead(404).end('GET /metrics\n'); return; }
      this.registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
        res.end(body);
      }, () => { res.writeHead(500).end(); });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new EdgefitError('E_CONFIG', `metrics.port ${this.i.port}: cannot listen on 127.0.0.1 (${err.code ?? err.message}); choose another port or 0 to turn /metrics off`, { cause: err })));
      server.listen(this.i.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.i.log.info('metrics', { url: `http://127.0.0.1:${this.port}/metrics` });
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}
