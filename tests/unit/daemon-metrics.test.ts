import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsService } from '../../src/daemon/metrics-service.js';
import { loadConfig } from '../../src/config/index.js';
import type { CameraTelemetry, TelemetryPayload } from '../../src/mqtt/payloads.js';
import type { Logger } from '../../src/util/log.js';
import { loadRecording } from '../helpers/recorded-device.js';

const rec = loadRecording();
const log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } as unknown as Logger;
const choice = { variant: rec.model.variant, provider: 'cpu', threads: 4 };
const selections = () => [{ variant: choice.variant.id, provider: choice.provider, threads: choice.threads }];

function get(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('daemon metrics.port', () => {
  let svc: MetricsService | undefined;
  afterEach(async () => { await svc?.stop(); svc = undefined; });

  it('is off by default, and a port outside 0-65535 is refused', () => {
    const host = { hostname: 'pi', isRoot: false, home: '/home/pi' };
    expect(loadConfig({ env: {}, host }).config.metrics.port).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-metrics-cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'metrics:\n  port: 70000\n');
    expect(() => loadConfig({ env: {}, host, file })).toThrow(/metrics/);
    writeFileSync(file, 'metrics:\n  port: 9464\n');
    expect(loadConfig({ env: {}, host, file }).config.metrics.port).toBe(9464);
  });

  it('serves the newest telemetry and the choice on loopback, to loopback names only', async () => {
    let t: TelemetryPayload | undefined;
    svc = new MetricsService({ port: 0, deviceId: 'cam-1', log, telemetry: () => t, selections });
    await svc.start();
    const host = `127.0.0.1:${svc.port}`;
    // before the first telemetry window: the choice, no figures
    let r = await get(svc.port, '/metrics', host);
    expect(r.status).toBe(200);
    expect(r.body).toContain(`edgefit_selection{device="cam-1",variant="${choice.variant.id}",provider="cpu",threads="4"} 1`);
    expect(r.body).not.toMatch(/^edgefit_latency_p90_seconds\{/m);
    t = { ...rec.telemetry[0]!.payload, reconnects: 3, outbox: { depth: 2, dropped: 5, refused: 0 }, temperatureC: 58, throttled: [] };
    r = await get(svc.port, '/metrics', `localhost:${svc.port}`);
    expect(r.body).toContain(`edgefit_latency_p90_seconds{device="cam-1"} ${t.latencyMs.p90 / 1000}\n`);
    expect(r.body).toContain(`edgefit_fps{device="cam-1"} ${t.fps}\n`);
    expect(r.body).toContain('edgefit_reconnects_total{device="cam-1"} 3\n');
    expect(r.body).toContain('edgefit_outbox_depth{device="cam-1"} 2\n');
    expect(r.body).toContain('edgefit_outbox_dropped_total{device="cam-1"} 5\n');
    expect(r.body).toContain(`edgefit_frames_dropped_total{device="cam-1"} ${t.frames.dropped}\n`);
    expect(r.body).toContain('edgefit_throttled{device="cam-1"} 0\n');
    // a DNS-rebinding page in a browser on the device names its own host
    expect((await get(svc.port, '/metrics', `rebind.attacker.example:${svc.port}`)).status).toBe(421);
    expect((await get(svc.port, '/other', host)).status).toBe(404);
  });

  it('with several cameras: the choice and the figures per camera id, and a variant switched away leaves no series', async () => {
    const base = rec.telemetry[0]!.payload;
    const cam = (id: string, over: Partial<CameraTelemetry>): CameraTelemetry => ({ id, variant: 'v', fps: 4, p90Ms: 120, dropped: 0, status: 'running', inferred: 10, restarts: 0, droppedTotal: 0, ...over });
    let t: TelemetryPayload | undefined;
    let running = [{ camera: 'door', variant: 'big', provider: 'cpu', threads: 1 }, { camera: 'yard', variant: 'small', provider: 'cpu', threads: 1 }];
    svc = new MetricsService({ port: 0, deviceId: 'cams', log, telemetry: () => t, selections: () => running });
    await svc.start();
    const host = `127.0.0.1:${svc.port}`;
    let r = await get(svc.port, '/metrics', host);
    expect(r.body).toContain('edgefit_selection{device="cams",camera="door",variant="big",provider="cpu",threads="1"} 1\n');
    expect(r.body).toContain('edgefit_selection{device="cams",camera="yard",variant="small",provider="cpu",threads="1"} 1\n');
    expect(r.body).not.toMatch(/^edgefit_camera_fps\{/m);
    t = { ...base, cameras: [cam('door', { fps: 3.5, p90Ms: 250, inferred: 42, droppedTotal: 7 }), cam('yard', { status: 'offline', restarts: 2 })] };
    running = [{ camera: 'door', variant: 'small', provider: 'cpu', threads: 1 }, running[1]!];
    r = await get(svc.port, '/metrics', host);
    expect(r.body).toContain('edgefit_camera_fps{device="cams",camera="door"} 3.5\n');
    expect(r.body).toContain('edgefit_camera_latency_p90_seconds{device="cams",camera="door"} 0.25\n');
    expect(r.body).toContain('edgefit_camera_frames_inferred_total{device="cams",camera="door"} 42\n');
    expect(r.body).toContain('edgefit_camera_frames_dropped_total{device="cams",camera="door"} 7\n');
    expect(r.body).toContain('edgefit_camera_online{device="cams",camera="yard"} 0\n');
    expect(r.body).toContain('edgefit_camera_restarts_total{device="cams",camera="yard"} 2\n');
    // the switch replaced door's series: one selection series per camera, whatever ran before
    expect(r.body.match(/^edgefit_selection\{/gm)).toHaveLength(2);
    expect(r.body).not.toContain('variant="big"');
  });
});
