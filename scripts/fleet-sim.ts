/**
 * Fleet simulator: N virtual devices publish retained status and model, then telemetry every period, to a
 * LOCAL broker (loopback only), for a bounded time; meanwhile it watches a dashboard's SSE stream and reports
 *   - ingest rate: fleet messages the dashboard processed per second (its /api/stats counters),
 *   - update latency: device publish (the telemetry's own ts) -> the row visible in the SSE stream,
 *   - the dashboard process's memory (rss and heap, as it reports them).
 *   - the time a GET /metrics takes (Prometheus's scrape), every few seconds, and its size.
 * Without --dashboard it starts `edgefit dashboard` itself as a child process (`--dashboards 2` starts two in
 * one MQTT shared-subscription group, to measure how they split the telemetry) and stops it at the end.
 * Retained messages it published are cleared on exit. The simulated fleet itself (FleetSim) is exported for
 * tests that need devices publishing (tests/serial/dashboard-prometheus.test.ts).
 *
 *   npm run fleet-sim -- --devices 1000 --broker mqtt://127.0.0.1:1883 [--seconds 60]
 *     [--telemetry-seconds 5] [--connections 20] [--dashboard http://127.0.0.1:8080 | --dashboards 2] [--dashboard-heap-mb 192]
 *     [--prefix edgefit] [--json]
 *     [--rollout-group NAME --public-key PEM [--regress BOARD=FACTOR]... [--offline N] [--proving-seconds S]]
 *
 * With --rollout-group every virtual device also joins that rollout group (FleetSim.joinRollout,
 * scripts/fleet-sim-rollout.ts): it verifies the catalog an `edgefit rollout start` publishes, proves it and
 * reports its health, which --regress makes worse on one board type (p90 x FACTOR); --offline devices never answer.
 */
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { get, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../src/util/paths.js';
import type { ModelPayload, StatusPayload, TelemetryPayload, CandidateSummary } from '../src/mqtt/payloads.js';
import { loadPublicKey } from '../src/catalog/signature.js';
import type { KeyObject } from 'node:crypto';
import { simRolloutArgs, startVirtualGroup, type VirtualRolloutDevice } from './fleet-sim-rollout.js';
import { rolloutTopics } from '../src/mqtt/fleet-rollout.js';

interface Args { devices: number; broker: string; seconds: number; telemetrySeconds: number; connections: number; dashboard?: string; dashboards: number; dashboardHeapMb: number; prefix: string; json: boolean }

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
    devices: int('devices', 1000, 1, 20_000), broker, seconds: int('seconds', 60, 5, 600), telemetrySeconds: int('telemetry-seconds', 5, 1, 60),
    connections: int('connections', 20, 1, 200), ...(a.dashboard ? { dashboard: a.dashboard.replace(/\/$/, '') } : {}), dashboards: int('dashboards', 1, 1, 4), dashboardHeapMb: int('dashboard-heap-mb', 0, 0, 16384),
    prefix: a.prefix ?? 'edgefit', json: a.json === '1',
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

interface Sim { id: string; b: (typeof BOARDS)[number]; chosen: (typeof LADDER)[number]; jitter: number; frames: number; dropped: number }

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
  // frame counters run since the daemon started, as a real daemon's do
  s.frames += Math.round(30 * period);
  s.dropped += Math.round((30 - fps) * period);
  return {
    deviceId: s.id, session: 1, ts: new Date().toISOString(), windowSeconds: period, variant: s.chosen.id, provider: 'cpu', paused: false,
    frames: { in: s.frames, inferred: s.frames - s.dropped, dropped: s.dropped },
    fps: round(fps), latencyMs: { p50: round(p50), p90: round(p50 * 1.3), p99: round(p50 * 1.8) }, inferMs: { p50: round(p50 * 0.9), p90: round(p50 * 1.2), p99: round(p50 * 1.6) },
    cpuPercent: round(60 * noise()), rssMb: 180, temperatureC: round(55 + 10 * noise()), throttled: [], outbox: { depth: 0, dropped: 0, refused: 0 }, reconnects: 0,
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

async function startDashboard(broker: string, prefix: string, shareGroup?: string, heapMb = 0): Promise<{ url: string; proc: ChildProcess }> {
  // --max-old-space-size: V8 otherwise lets the garbage of 2,000 messages/s grow the heap well past the live set
  const args = [...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), join(projectRoot, 'bin/edgefit.js'), 'dashboard', '--broker', broker, '--port', '0', '--prefix', prefix, ...(shareGroup ? ['--share-group', shareGroup] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
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
  const seen = new Map<string, string>();
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
        const data = JSON.parse(msg.slice(msg.indexOf('data: ') + 6)) as { rows: { id: string; telemetryTs?: string }[] };
        // only a row carrying new telemetry counts: a row sent again for another reason (a presence flip, which a
        // dashboard of a share group sees when a device's telemetry went to the other member) keeps its old ts
        for (const row of data.rows) {
          if (!row.telemetryTs || seen.get(row.id) === row.telemetryTs) continue;
          seen.set(row.id, row.telemetryTs);
          onRow(at - Date.parse(row.telemetryTs));
        }
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

export interface FleetSimOptions {
  broker: string;
  devices: number;
  telemetrySeconds: number;
  prefix?: string;
  connections?: number;
  /** device ids are `<idPrefix><index>` (default "sim-") */
  idPrefix?: string;
}

/** The virtual devices joining a rollout group (FleetSim.joinRollout). */
export interface FleetSimRollout {
  group: string;
  /** the devices verify the published catalog with it */
  publicKey: KeyObject;
  /** how long a device runs the new catalog before it reports its health */
  provingMs: number;
  /** the first this many devices never answer (offline during their stage) */
  offline?: number;
  /** board -> p90 factor on the new catalog (a latency regression on one board type; the others 1.02) */
  regress?: Map<string, number>;
}

/**
 * The virtual fleet: `birth()` publishes every device's retained status and model, `run()` publishes telemetry
 * (each device once per period, spread evenly) until `stop()`, which clears the retained topics and disconnects.
 */
export class FleetSim {
  readonly sims: Sim[];
  readonly prefix: string;
  published = 0;
  failed = 0;
  /** telemetry messages sent so far */
  sent = 0;
  private clients: MqttClient[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  /** the rollout devices and their group, once joinRollout ran */
  private rollout: { group: string; devices: VirtualRolloutDevice[] } | undefined;

  constructor(private readonly o: FleetSimOptions) {
    this.prefix = o.prefix ?? 'edgefit';
    const width = Math.max(4, String(o.devices - 1).length);
    this.sims = Array.from({ length: o.devices }, (_, i) => {
      const b = BOARDS[i % BOARDS.length]!;
      return { id: `${o.idPrefix ?? 'sim-'}${String(i).padStart(width, '0')}`, b, chosen: LADDER[b.pick]!, jitter: 0.9 + ((i * 7919) % 100) / 500, frames: 0, dropped: 0 };
    });
  }

  /** The boards the simulator uses, for tests that check per-board figures. */
  static get boards(): string[] { return BOARDS.map((b) => b.board); }

  private conn(i: number): MqttClient { return this.clients[i % this.clients.length]!; }
  private topic(s: Sim, k: string): string { return `${this.prefix}/${s.id}/${k}`; }

  async connect(): Promise<void> {
    this.clients = await Promise.all(Array.from({ length: this.o.connections ?? 20 }, (_, i) => connect(this.o.broker, `fleet-sim-${process.pid}-${i}-${Math.random().toString(36).slice(2, 8)}`)));
  }

  /** Retained status and model for every device. */
  async birth(): Promise<void> {
    await Promise.all(this.sims.map(async (s, i) => {
      const st: StatusPayload = { state: 'online', session: 1, deviceId: s.id, ts: new Date().toISOString(), version: 'fleet-sim' };
      await publish(this.conn(i), this.topic(s, 'status'), JSON.stringify(st), 1, true);
      await publish(this.conn(i), this.topic(s, 'model'), JSON.stringify(modelFor(s)), 1, true);
      this.published += 2;
    }));
  }

  /**
   * Every device also joins a rollout group (scripts/fleet-sim-rollout.ts): its membership is retained, and it
   * verifies, proves and reports on the catalogs an `edgefit rollout start` publishes. Its health on the new
   * catalog is its current p90 (the model payload's) times the board's regression factor.
   */
  async joinRollout(r: FleetSimRollout): Promise<VirtualRolloutDevice[]> {
    if (this.clients.length === 0) throw new Error('FleetSim.joinRollout: connect() first');
    if (this.rollout) throw new Error(`FleetSim.joinRollout: already in rollout group ${this.rollout.group}`);
    const devices = await startVirtualGroup(this.clients, this.sims.map((s, i) => ({
      deviceId: s.id, board: s.b.board, group: r.group, prefix: this.prefix, catalogVersion: 1, publicKey: r.publicKey, provingMs: r.provingMs, offline: i < (r.offline ?? 0),
      health: { p90Ms: s.chosen.pi4 * s.b.factor * s.jitter, fps: 5, p90Factor: r.regress?.get(s.b.board) ?? 1.02, fpsFactor: 1, crashes: 0, fidelity: 0.95 },
    })));
    this.rollout = { group: r.group, devices };
    return devices;
  }

  /** Starts publishing telemetry: each device once per period, spread evenly over the period. */
  run(): void {
    if (this.running) return;
    this.running = true;
    const start = Date.now();
    const periodMs = this.o.telemetrySeconds * 1000;
    const n = this.sims.length;
    this.loop = (async () => {
      while (this.running) {
        const due = Math.floor(((Date.now() - start) / periodMs) * n);
        for (; this.sent < due; this.sent++) {
          const i = this.sent % n;
          const s = this.sims[i]!;
          publish(this.conn(i), this.topic(s, 'telemetry'), JSON.stringify(telemetryFor(s, this.o.telemetrySeconds)), 0, false).then(() => { this.published++; }, () => { this.failed++; });
        }
        await sleep(50);
      }
    })();
  }

  /** Stops the telemetry, clears what was retained (the broker forgets the virtual fleet) and disconnects. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all(this.sims.map((s, i) => Promise.all([publish(this.conn(i), this.topic(s, 'status'), '', 1, true), publish(this.conn(i), this.topic(s, 'model'), '', 1, true)]).catch(() => undefined)));
    if (this.rollout) {
      const { group, devices } = this.rollout;
      for (const d of devices) d.stop();
      const member = rolloutTopics(this.prefix, group).member;
      await Promise.all(this.sims.map((s, i) => publish(this.conn(i), member(s.id), '', 1, true).catch(() => undefined)));
      this.rollout = undefined;
    }
    await Promise.all(this.clients.map((c) => new Promise<void>((r) => c.end(false, () => r()))));
    this.clients = [];
  }
}

/** CPU seconds (user + system) a child process has used so far, from /proc (Linux), or NaN. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const after = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields 14 and 15 (utime, stime) are the 12th and 13th after the command name, in clock ticks (100 Hz)
    return (Number(after[11]) + Number(after[12])) / 100;
  } catch { return NaN; }
}

/** One GET /metrics: how long until its last byte, and how big. */
async function timeScrape(url: string): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`${url}/metrics: HTTP ${res.status}`);
  const body = await res.arrayBuffer();
  return { ms: performance.now() - t0, bytes: body.byteLength };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const log = (s: string) => { if (!a.json) process.stderr.write(s + '\n'); };
  const group = a.dashboards > 1 ? `fleet-sim-${process.pid}` : undefined;
  const own = a.dashboard ? [] : await Promise.all(Array.from({ length: a.dashboards }, () => startDashboard(a.broker, a.prefix, group, a.dashboardHeapMb)));
  const urls = a.dashboard ? [a.dashboard] : own.map((d) => d.url);
  for (const u of urls) await getJson<Stats>(`${u}/api/stats`).catch((err: unknown) => { throw new Error(`no dashboard answers at ${u}: ${String(err)}`); });
  log(`dashboard${urls.length > 1 ? `s ${urls.join(', ')} in share group ${group}` : ` ${urls[0]}`}; ${a.devices} devices over ${a.connections} connections, telemetry every ${a.telemetrySeconds} s, ${a.seconds} s`);
  const sim = new FleetSim({ broker: a.broker, devices: a.devices, telemetrySeconds: a.telemetrySeconds, prefix: a.prefix, connections: a.connections });
  await sim.connect();
  const ro = simRolloutArgs(process.argv.slice(2));
  if (ro) {
    const joined = await sim.joinRollout({ group: ro.group, publicKey: loadPublicKey(ro.publicKeyPath, 'check --public-key'), provingMs: ro.provingMs, offline: ro.offline, regress: ro.regress });
    log(`${joined.length} devices joined rollout group ${ro.group}`);
  }
  const latencies: number[] = [];
  const sses = urls.map((u) => watchSse(u, (ms) => { if (latencies.length < 2_000_000) latencies.push(ms); }));
  const scrapes: number[] = [];
  let scrapeBytes = 0;
  const peakRss = urls.map(() => 0);
  let stopping = false;
  const cleanup = async () => {
    for (const s of sses) s.close();
    await sim.stop();
    await Promise.all(own.map(async (d) => { d.proc.kill('SIGTERM'); await new Promise((r) => d.proc.once('exit', r)); }));
  };
  process.once('SIGINT', () => { stopping = true; });
  try {
    const t0 = Date.now();
    await sim.birth();
    log(`birth of ${a.devices} devices published in ${Date.now() - t0} ms`);
    // every dashboard of a share group still sees every device's retained status and model
    for (const u of urls) {
      for (;;) {
        const st = await getJson<Stats>(`${u}/api/stats`);
        if (st.devices >= a.devices) break;
        if (Date.now() - t0 > 60_000) throw new Error(`the dashboard ${u} knows ${st.devices} of ${a.devices} devices after 60 s`);
        await sleep(200);
      }
    }
    latencies.length = 0;
    const before = await Promise.all(urls.map((u) => getJson<Stats>(`${u}/api/stats`)));
    const start = Date.now();
    const cpu0 = own.map((d) => cpuSeconds(d.proc.pid));
    sim.run();
    let lastScrape = start;
    let lastStats = start;
    while (!stopping && Date.now() - start < a.seconds * 1000) {
      if (Date.now() - lastStats >= 1000) {
        lastStats = Date.now();
        urls.forEach((u, k) => getJson<Stats>(`${u}/api/stats`).then((s) => { peakRss[k] = Math.max(peakRss[k]!, s.rssMb); }, () => undefined));
      }
      // Prometheus's view: one scrape of the first dashboard every 5 s, timed to its last byte
      if (Date.now() - lastScrape >= 5000) {
        lastScrape = Date.now();
        await timeScrape(urls[0]!).then((r) => { scrapes.push(r.ms); scrapeBytes = r.bytes; }, () => undefined);
      }
      await sleep(100);
    }
    const sent = sim.sent;
    await sleep(1000);
    const after = await Promise.all(urls.map((u) => getJson<Stats>(`${u}/api/stats`)));
    const secs = (Date.now() - start - 1000) / 1000;
    // the share of one core each dashboard used: what it needs, whatever else the machine runs
    const cores = own.map((d, k) => round((cpuSeconds(d.proc.pid) - cpu0[k]!) / ((Date.now() - start) / 1000)));
    const report = {
      devices: a.devices, connections: a.connections, telemetrySeconds: a.telemetrySeconds, seconds: round(secs), loadavg: (await import('node:os')).loadavg().map(round),
      published: { telemetryPerSecond: round(sent / secs), total: sim.published, failed: sim.failed },
      dashboards: urls.map((_, k) => ({
        devicesKnown: after[k]!.devices,
        ingestPerSecond: round((after[k]!.ingest.applied - before[k]!.ingest.applied) / secs),
        telemetryShare: round((after[k]!.ingest.applied - before[k]!.ingest.applied) / Math.max(1, after.reduce((t, s, j) => t + s.ingest.applied - before[j]!.ingest.applied, 0))),
        rejected: after[k]!.ingest.rejected - before[k]!.ingest.rejected,
        rssMb: after[k]!.rssMb, peakRssMb: Math.max(peakRss[k]!, after[k]!.rssMb), heapUsedMb: after[k]!.heapUsedMb,
        ...(cores[k] !== undefined && Number.isFinite(cores[k]) ? { cpuCores: cores[k] } : {}),
      })),
      updateLatencyMs: { samples: latencies.length, p50: round(pct(latencies, 0.5)), p90: round(pct(latencies, 0.9)), p99: round(pct(latencies, 0.99)), max: round(latencies.reduce((m, v) => Math.max(m, v), 0)) },
      metricsScrapeMs: { scrapes: scrapes.length, p50: round(pct(scrapes, 0.5)), max: round(scrapes.reduce((m, v) => Math.max(m, v), 0)), bytes: scrapeBytes },
    };
    if (a.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      const r = report;
      process.stdout.write([
        `fleet-sim: ${r.devices} devices, telemetry every ${r.telemetrySeconds} s, ${r.seconds} s steady state (load ${r.loadavg.join(' ')})${a.dashboardHeapMb ? `, dashboard heap limit ${a.dashboardHeapMb} MB` : ''}`,
        `  published  ${r.published.telemetryPerSecond} telemetry/s (${r.published.failed} failed)`,
        ...r.dashboards.map((d, k) => `  dashboard${r.dashboards.length > 1 ? ` ${k + 1}` : ''}  ingest ${d.ingestPerSecond} msg/s (${Math.round(d.telemetryShare * 100)}% of the telemetry), ${d.rejected} rejected, ${d.devicesKnown} devices known; rss ${d.rssMb} MB (peak ${d.peakRssMb} MB), heap ${d.heapUsedMb} MB${d.cpuCores !== undefined ? `, CPU ${d.cpuCores} core` : ''}`),
        `  latency    publish -> SSE row: p50 ${r.updateLatencyMs.p50} ms, p90 ${r.updateLatencyMs.p90} ms, p99 ${r.updateLatencyMs.p99} ms, max ${r.updateLatencyMs.max} ms (${r.updateLatencyMs.samples} rows)`,
        `  /metrics   scrape p50 ${r.metricsScrapeMs.p50} ms, max ${r.metricsScrapeMs.max} ms (${r.metricsScrapeMs.scrapes} scrapes, ${Math.round(r.metricsScrapeMs.bytes / 1024)} KB)`,
      ].join('\n') + '\n');
    }
  } finally {
    await cleanup();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`fleet-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
