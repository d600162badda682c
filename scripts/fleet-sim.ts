/**
 * Fleet simulator: N virtual devices publish retained status and model, then telemetry every period, to a
 * LOCAL broker (loopback only), for a bounded time; meanwhile it watches a dashboard's SSE stream and reports
 *   - ingest rate: fleet messages the dashboard processed per second (its /api/stats counters),
 *   - update latency: device publish (the telemetry's own ts) -> the row visible in the SSE stream,
 *   - the dashboard process's memory (rss and heap, as it reports them).
 * Without --dashboard it starts `edgefit dashboard` itself as a child process and stops it at the end.
 * Retained messages it published are cleared on exit.
 *
 *   npm run fleet-sim -- --devices 1000 --broker mqtt://127.0.0.1:1883 [--seconds 60]
 *     [--telemetry-seconds 5] [--connections 20] [--dashboard http://127.0.0.1:8080] [--prefix edgefit] [--json]
 *     [--rollout-group NAME --public-key PEM [--regress BOARD=FACTOR]... [--offline N] [--proving-seconds S]]
 *
 * With --rollout-group every virtual device also joins that rollout group (scripts/fleet-sim-rollout.ts): it
 * verifies the catalog an `edgefit rollout start` publishes, proves it and reports its health, which --regress
 * makes worse on one board type (p90 x FACTOR); --offline devices never answer.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { projectRoot } from '../src/util/paths.js';
import type { ModelPayload, StatusPayload, TelemetryPayload, CandidateSummary } from '../src/mqtt/payloads.js';
import { loadPublicKey } from '../src/catalog/signature.js';
import { simRolloutArgs, startVirtualGroup, type VirtualRolloutDevice } from './fleet-sim-rollout.js';

interface Args { devices: number; broker: string; seconds: number; telemetrySeconds: number; connections: number; dashboard?: string; prefix: string; json: boolean }

function parseArgs(argv: string[]): Args {
  const a: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (!k.startsWith('--')) throw new Error(`unexpected argument ${k}`);
    if (k === '--json') { a.json = '1'; continue; }
    const v = argv[++i];
    if (v === undefined) throw new Error(`${k} needs a value`);
    a[k.slice(2)] = v;
  }
  const int = (k: string, def: number, min: number, max: number) => {
    const n = a[k] === undefined ? def : Number(a[k]);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${k} must be an integer ${min}-${max}`);
    return n;
  };
  const broker = a.broker;
  if (!broker) throw new Error('--broker mqtt://127.0.0.1:PORT is required');
  const host = new URL(broker).hostname;
  // a simulator that floods a broker must never point at a shared one
  if (!['127.0.0.1', 'localhost', '[::1]', '::1'].includes(host)) throw new Error(`--broker must be on loopback (127.0.0.1, localhost, ::1), not ${host}`);
  if (a.dashboard && !['127.0.0.1', 'localhost', '[::1]', '::1'].includes(new URL(a.dashboard).hostname)) throw new Error('--dashboard must be on loopback');
  return {
    devices: int('devices', 1000, 1, 5000), broker, seconds: int('seconds', 60, 5, 600), telemetrySeconds: int('telemetry-seconds', 5, 1, 60),
    connections: int('connections', 20, 1, 200), ...(a.dashboard ? { dashboard: a.dashboard.replace(/\/$/, '') } : {}), prefix: a.prefix ?? 'edgefit', json: a.json === '1',
  };
}

// boards with a latency factor relative to a Pi 4, and the variant each typically ends up with
const BOARDS = [
  { board: 'raspberry-pi-4', factor: 1, pick: 2 },
  { board: 'raspberry-pi-5', factor: 0.45, pick: 3 },
  { board: 'raspberry-pi-3', factor: 2.2, pick: 0 },
  { board: 'jetson-orin', factor: 0.3, pick: 4 },
  { board: 'generic-arm64', factor: 0.8, pick: 2 },
];
const LADDER = [
  { id: 'mobilenet_v1-0.25-128-int8', family: 'mobilenet_v1', alpha: 0.25, resolution: 128, acc: 0.395, macs: 13_570_304, pi4: 6 },
  { id: 'mobilenet_v1-0.5-160-int8', family: 'mobilenet_v1', alpha: 0.5, resolution: 160, acc: 0.6, macs: 76_525_312, pi4: 18 },
  { id: 'mobilenet_v1-0.75-192-int8', family: 'mobilenet_v1', alpha: 0.75, resolution: 192, acc: 0.672, macs: 235_000_000, pi4: 48 },
  { id: 'mobilenet_v2-1.0-224-int8', family: 'mobilenet_v2', alpha: 1, resolution: 224, acc: 0.703, macs: 300_000_000, pi4: 62 },
  { id: 'mobilenet_v1-1.0-224-int8', family: 'mobilenet_v1', alpha: 1, resolution: 224, acc: 0.709, macs: 569_000_000, pi4: 120 },
];

interface Sim { id: string; b: (typeof BOARDS)[number]; chosen: (typeof LADDER)[number]; jitter: number }

function modelFor(s: Sim): ModelPayload {
  const budget = 60;
  const candidates: CandidateSummary[] = LADDER.map((v, i) => {
    const p90 = Math.round(v.pi4 * s.b.factor * s.jitter * 100) / 100;
    const chosen = v === s.chosen;
    return {
      id: `${v.id}@cpu`, family: v.family, alpha: v.alpha, resolution: v.resolution, precision: 'int8', provider: 'cpu', referenceAccuracy: v.acc, macs: v.macs,
      p90Ms: p90, peakMb: 4 + i * 6, chosen, ...(chosen ? {} : i > s.b.pick ? { reason: 'too-slow', detail: `p90 ${p90} ms > ${budget} ms` } : { reason: 'dominated', detail: 'a larger variant fits' }),
    };
  });
  const c = s.chosen;
  return {
    deviceId: s.id, session: 1, ts: new Date().toISOString(), board: s.b.board,
    variant: { id: c.id, family: c.family, alpha: c.alpha, resolution: c.resolution, precision: 'int8', referenceAccuracy: c.acc, macs: c.macs, params: 1_000_000, pretrained: true, source: 'fleet-sim' },
    provider: 'cpu', threads: 4, reason: 'fleet-sim: largest variant that fits', budget: { latencyMs: budget, percentile: 'p90' },
    measurement: { p50Ms: c.pi4 * s.b.factor * 0.8, p90Ms: c.pi4 * s.b.factor, p99Ms: c.pi4 * s.b.factor * 1.3, peakMb: 20 },
    candidates, measured: LADDER.length, ladder: LADDER.length, labelsMeaningful: true,
  };
}

function telemetryFor(s: Sim, period: number): TelemetryPayload {
  const base = s.chosen.pi4 * s.b.factor * s.jitter;
  const noise = () => 0.85 + Math.random() * 0.3;
  const p50 = base * 0.8 * noise();
  const fps = Math.min(30, (1000 / base) * noise());
  return {
    deviceId: s.id, session: 1, ts: new Date().toISOString(), windowSeconds: period, variant: s.chosen.id, provider: 'cpu', paused: false,
    frames: { in: Math.round(30 * period), inferred: Math.round(fps * period), dropped: Math.round((30 - fps) * period) },
    fps: round(fps), latencyMs: { p50: round(p50), p90: round(p50 * 1.3), p99: round(p50 * 1.8) }, inferMs: { p50: round(p50 * 0.9), p90: round(p50 * 1.2), p99: round(p50 * 1.6) },
    cpuPercent: round(60 * noise()), rssMb: 180, temperatureC: round(55 + 10 * noise()), throttled: null, outbox: { depth: 0, dropped: 0, refused: 0 }, reconnects: 0,
    engine: { restarts: 0, timeouts: 0, crashes: 0, degraded: false }, camera: { online: true, stalls: 0, restarts: 0 }, eventLoopDelayP99Ms: 3,
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function connect(url: string, clientId: string): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 5, clientId, reconnectPeriod: 0 });
  return new Promise((resolve, reject) => { c.once('connect', () => resolve(c)); c.once('error', reject); });
}

function publish(c: MqttClient, topic: string, payload: string, qos: 0 | 1, retain: boolean): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, payload, { qos, retain }, (e) => (e ? reject(e) : resolve())));
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

interface Stats { devices: number; ingest: { messages: number; applied: number; rejected: number }; rssMb: number; heapUsedMb: number }

async function startDashboard(broker: string, prefix: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'dashboard', '--broker', broker, '--port', '0', '--prefix', prefix], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`the dashboard did not start: ${out}`)), 20_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /(http:\/\/[^/\s]+)\//.exec(out);
      if (m) { clearTimeout(t); resolve(m[1]!); }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`the dashboard exited (${code}): ${out}`)); });
  });
  return { url, proc };
}

/** Reads the SSE stream; for every row carrying one of our telemetry timestamps, publish -> visible latency. */
function watchSse(url: string, onRow: (latencyMs: number) => void): { close: () => void } {
  let res: IncomingMessage | undefined;
  const req = get(`${url}/events`, (r) => {
    res = r;
    let buf = '';
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const msg = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!msg.startsWith('event: rows\n')) continue;
        const at = Date.now();
        const data = JSON.parse(msg.slice(msg.indexOf('data: ') + 6)) as { rows: { telemetryTs?: string }[] };
        for (const row of data.rows) if (row.telemetryTs) onRow(at - Date.parse(row.telemetryTs));
      }
    });
  });
  req.on('error', () => undefined);
  return { close: () => { res?.destroy(); req.destroy(); } };
}

function pct(v: number[], q: number): number {
  if (v.length === 0) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const log = (s: string) => { if (!a.json) process.stderr.write(s + '\n'); };
  const own = a.dashboard ? undefined : await startDashboard(a.broker, a.prefix);
  const dashUrl = a.dashboard ?? own!.url;
  await getJson<Stats>(`${dashUrl}/api/stats`).catch((err: unknown) => { throw new Error(`no dashboard answers at ${dashUrl}: ${String(err)}`); });
  log(`dashboard ${dashUrl}; ${a.devices} devices over ${a.connections} connections, telemetry every ${a.telemetrySeconds} s, ${a.seconds} s`);
  const clients = await Promise.all(Array.from({ length: a.connections }, (_, i) => connect(a.broker, `fleet-sim-${process.pid}-${i}`)));
  const sims: Sim[] = Array.from({ length: a.devices }, (_, i) => {
    const b = BOARDS[i % BOARDS.length]!;
    return { id: `sim-${String(i).padStart(4, '0')}`, b, chosen: LADDER[b.pick]!, jitter: 0.9 + ((i * 7919) % 100) / 500 };
  });
  const conn = (i: number) => clients[i % clients.length]!;
  const topic = (s: Sim, k: string) => `${a.prefix}/${s.id}/${k}`;
  const ro = simRolloutArgs(process.argv.slice(2));
  let rolloutDevices: VirtualRolloutDevice[] = [];
  if (ro) {
    const publicKey = loadPublicKey(ro.publicKeyPath, 'check --public-key');
    rolloutDevices = await startVirtualGroup(clients, sims.map((s, i) => ({
      deviceId: s.id, board: s.b.board, group: ro.group, prefix: a.prefix, catalogVersion: 1, publicKey, provingMs: ro.provingMs, offline: i < ro.offline,
      health: { p90Ms: s.chosen.pi4 * s.b.factor * s.jitter, fps: 5, p90Factor: ro.regress.get(s.b.board) ?? 1.02, fpsFactor: 1, crashes: 0, fidelity: 0.95 },
    })));
    log(`${rolloutDevices.length} devices joined rollout group ${ro.group}`);
  }
  const latencies: number[] = [];
  const sse = watchSse(dashUrl, (ms) => { if (latencies.length < 1_000_000) latencies.push(ms); });
  let published = 0;
  let failed = 0;
  let peakRss = 0;
  let stopping = false;
  const cleanup = async () => {
    sse.close();
    // clear what we retained, so the broker forgets the virtual fleet
    await Promise.all(sims.map((s, i) => Promise.all([publish(conn(i), topic(s, 'status'), '', 1, true), publish(conn(i), topic(s, 'model'), '', 1, true)]).catch(() => undefined)));
    for (const d of rolloutDevices) d.stop();
    if (ro) await Promise.all(sims.map((s, i) => publish(conn(i), `${a.prefix}/fleet/groups/${ro.group}/${s.id}`, '', 1, true).catch(() => undefined)));
    await Promise.all(clients.map((c) => new Promise<void>((r) => c.end(false, () => r()))));
    if (own) { own.proc.kill('SIGTERM'); await new Promise((r) => own.proc.once('exit', r)); }
  };
  process.once('SIGINT', () => { stopping = true; });
  try {
    // birth: retained status and model for every device
    const t0 = Date.now();
    await Promise.all(sims.map(async (s, i) => {
      const st: StatusPayload = { state: 'online', session: 1, deviceId: s.id, ts: new Date().toISOString(), version: 'fleet-sim' };
      await publish(conn(i), topic(s, 'status'), JSON.stringify(st), 1, true);
      await publish(conn(i), topic(s, 'model'), JSON.stringify(modelFor(s)), 1, true);
      published += 2;
    }));
    log(`birth of ${a.devices} devices published in ${Date.now() - t0} ms`);
    for (;;) {
      const st = await getJson<Stats>(`${dashUrl}/api/stats`);
      if (st.devices >= a.devices) break;
      if (Date.now() - t0 > 30_000) throw new Error(`the dashboard knows ${st.devices} of ${a.devices} devices after 30 s`);
      await sleep(200);
    }
    // steady state: each device publishes telemetry once per period, spread evenly over the period
    latencies.length = 0;
    const before = await getJson<Stats>(`${dashUrl}/api/stats`);
    const start = Date.now();
    const periodMs = a.telemetrySeconds * 1000;
    const tickMs = 50;
    let next = 0;
    while (!stopping && Date.now() - start < a.seconds * 1000) {
      const due = Math.floor(((Date.now() - start) / periodMs) * a.devices);
      for (; next < due; next++) {
        const i = next % a.devices;
        const s = sims[i]!;
        publish(conn(i), topic(s, 'telemetry'), JSON.stringify(telemetryFor(s, a.telemetrySeconds)), 0, false).then(() => { published++; }, () => { failed++; });
      }
      if ((Date.now() - start) % 1000 < tickMs) {
        getJson<Stats>(`${dashUrl}/api/stats`).then((s) => { peakRss = Math.max(peakRss, s.rssMb); }, () => undefined);
      }
      await sleep(tickMs);
    }
    await sleep(1000);
    const after = await getJson<Stats>(`${dashUrl}/api/stats`);
    const secs = (Date.now() - start - 1000) / 1000;
    peakRss = Math.max(peakRss, after.rssMb);
    const report = {
      devices: a.devices, connections: a.connections, telemetrySeconds: a.telemetrySeconds, seconds: round(secs),
      published: { telemetryPerSecond: round(next / secs), total: published, failed },
      dashboard: {
        devicesKnown: after.devices,
        ingestPerSecond: round((after.ingest.applied - before.ingest.applied) / secs),
        rejected: after.ingest.rejected - before.ingest.rejected,
        rssMb: after.rssMb, peakRssMb: peakRss, heapUsedMb: after.heapUsedMb,
      },
      updateLatencyMs: { samples: latencies.length, p50: round(pct(latencies, 0.5)), p90: round(pct(latencies, 0.9)), p99: round(pct(latencies, 0.99)), max: round(Math.max(...latencies)) },
    };
    if (a.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const r = report;
      process.stdout.write([
        `fleet-sim: ${r.devices} devices, telemetry every ${r.telemetrySeconds} s, ${r.seconds} s steady state`,
        `  published  ${r.published.telemetryPerSecond} telemetry/s (${r.published.failed} failed)`,
        `  dashboard  ingest ${r.dashboard.ingestPerSecond} msg/s, ${r.dashboard.rejected} rejected, ${r.dashboard.devicesKnown} devices known`,
        `  latency    publish -> SSE row: p50 ${r.updateLatencyMs.p50} ms, p90 ${r.updateLatencyMs.p90} ms, p99 ${r.updateLatencyMs.p99} ms, max ${r.updateLatencyMs.max} ms (${r.updateLatencyMs.samples} rows)`,
        `  memory     dashboard rss ${r.dashboard.rssMb} MB (peak ${r.dashboard.peakRssMb} MB), heap ${r.dashboard.heapUsedMb} MB`,
      ].join('\n') + '\n');
    }
  } finally {
    await cleanup();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`fleet-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
