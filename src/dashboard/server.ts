import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { projectRoot } from '../util/paths.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { FleetStore } from './store.js';
import { FleetIngest, type IngestOptions, type IngestStats } from './ingest.js';
import { SseHub } from './sse.js';
import { selectionSvg } from './selection.js';
import { RequestGuard, type DashboardAuth } from './guard.js';
import { FleetMetrics } from './metrics.js';

export interface DashboardOptions extends IngestOptions {
  /** HTTP port; 0 picks a free one */
  port?: number;
  /** listen address: loopback unless asked (the page can trigger commands on devices); beyond loopback needs `auth` */
  host?: string;
  /** host names the page is reached by besides loopback (and the listen address): see guard.ts */
  allowedHosts?: string[];
  /** credentials every request must carry (the CLI reads them from EDGEFIT_DASHBOARD_*) */
  auth?: DashboardAuth;
  maxDevices?: number;
  /** devices whose own series /metrics exports (metrics.ts); default 10,000 */
  metricsMaxDevices?: number;
  flushMs?: number;
}

export interface DashboardStats {
  devices: number;
  refusedDevices: number;
  /** cameras refused because their device already had the most the dashboard keeps (MAX_DEVICE_CAMERAS) */
  refusedCameras: number;
  ingest: IngestStats;
  sseClients: number;
  sseMessages: number;
  rssMb: number;
  heapUsedMb: number;
  uptimeS: number;
}

const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // the page loads nothing from elsewhere and runs no inline script: data from devices cannot become code
  'content-security-policy': "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

/** The page's files, read once from src/dashboard/public (tsc compiles .ts only; these ship as they are). */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const dir = join(projectRoot, 'src', 'dashboard', 'public');
  const out = new Map<string, { body: Buffer; type: string }>();
  let names: string[];
  try { names = readdirSync(dir); } catch (err) {
    throw new EdgefitError('E_DASHBOARD_ASSETS', `the dashboard page files are missing from ${dir}; reinstall edgefit`, { cause: err });
  }
  for (const n of names) {
    const type = TYPES[extname(n)];
    if (type && /^[a-z0-9-]+\.[a-z]+$/.test(n)) out.set(n, { body: readFileSync(join(dir, n)), type });
  }
  if (!out.has('index.html')) throw new EdgefitError('E_DASHBOARD_ASSETS', `${dir}/index.html is missing; reinstall edgefit`);
  return out;
}

/**
 * `edgefit dashboard`: one node:http server; MQTT in (FleetIngest -> FleetStore), Server-Sent Events out (SseHub).
 * Routes:
 *   GET  /                                 the page (and its .js/.css)
 *   GET  /events[?focus=<id>]              SSE: hello, rows, boards, device
 *   GET  /api/devices                      every row
 *   GET  /api/device/<id>                  row, model, last hour of history, events
 *   GET  /api/device/<id>/selection.svg    the selection chart (src/select/plot.ts)
 *   POST /api/device/<id>/snapshot         sends the snapshot command, answers with the JPEG (?camera=<id>: that camera's)
 *   GET  /api/boards                       latency and chosen variants per board model
 *   GET  /api/stats                        ingest counters and this process's memory
 *   GET  /metrics                          the fleet for Prometheus (metrics.ts)
 * Every request passes the RequestGuard first (Host, credentials, Origin).
 */
export class Dashboard {
  readonly store: FleetStore;
  readonly ingest: FleetIngest;
  private hub!: SseHub;
  private server: Server | undefined;
  private readonly assets = loadAssets();
  private readonly started = Date.now();
  private readonly guard: RequestGuard;
  readonly metrics: FleetMetrics;
  port = 0;

  constructor(private readonly o: DashboardOptions) {
    // first: a dashboard that would listen beyond loopback without credentials never starts
    this.guard = new RequestGuard({ host: o.host ?? '127.0.0.1', ...(o.allowedHosts ? { allowedHosts: o.allowedHosts } : {}), ...(o.auth ? { auth: o.auth } : {}) });
    this.store = new FleetStore({ ...(o.maxDevices ? { maxDevices: o.maxDevices } : {}) });
    this.ingest = new FleetIngest(o, this.store);
    this.metrics = new FleetMetrics({ store: this.store, ingest: () => this.ingest.stats, sseClients: () => this.hub?.clientCount ?? 0 }, { ...(o.metricsMaxDevices !== undefined ? { maxDevices: o.metricsMaxDevices } : {}) });
  }

  get url(): string {
    const h = this.o.host;
    const shown = !h || h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
    return `http://${shown}:${this.port}`;
  }

  async start(): Promise<void> {
    this.hub = new SseHub(this.store, { ...(this.o.flushMs ? { flushMs: this.o.flushMs } : {}) });
    const server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => {
        if (!res.headersSent) json(res, 500, { error: errorMessage(err) });
        else res.end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new EdgefitError('E_DASHBOARD_LISTEN', `cannot listen on ${this.o.host ?? '127.0.0.1'}:${this.o.port ?? 0} (${err.code ?? err.message}); choose another --port`, { cause: err })));
      server.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    try {
      await this.ingest.start();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  stats(): DashboardStats {
    const m = process.memoryUsage();
    return {
      devices: this.store.size, refusedDevices: this.store.refusedDevices, refusedCameras: this.store.refusedCameras, ingest: this.ingest.stats,
      sseClients: this.hub.clientCount, sseMessages: this.hub.sent,
      rssMb: Math.round(m.rss / 1048576), heapUsedMb: Math.round(m.heapUsed / 1048576), uptimeS: Math.round((Date.now() - this.started) / 1000),
    };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const refusal = this.guard.check(req);
    if (refusal) {
      for (const [k, v] of Object.entries(refusal.headers)) res.setHeader(k, v);
      req.resume();
      return json(res, refusal.status, { error: refusal.error });
    }
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (method === 'GET' && (path === '/' || path === '/index.html')) return asset(res, this.assets.get('index.html')!);
    if (method === 'GET' && /^\/[a-z0-9-]+\.[a-z]+$/.test(path) && this.assets.has(path.slice(1))) return asset(res, this.assets.get(path.slice(1))!);
    if (method === 'GET' && path === '/events') {
      const focus = url.searchParams.get('focus') ?? undefined;
      if (focus !== undefined && !DEVICE_ID.test(focus)) return json(res, 400, { error: 'focus must be a device id' });
      this.hub.open(req, res, focus);
      return;
    }
    if (method === 'GET' && path === '/api/devices') return json(res, 200, { now: Date.now(), rows: this.store.rows() });
    if (method === 'GET' && path === '/api/boards') return json(res, 200, { boards: this.store.boards() });
    if (method === 'GET' && path === '/api/stats') return json(res, 200, this.stats());
    if (method === 'GET' && path === '/metrics') {
      const body = await this.metrics.scrape();
      res.writeHead(200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' });
      res.end(body);
      return;
    }
    const m = /^\/api\/device\/([^/]+)(\/selection\.svg|\/snapshot)?$/.exec(path);
    if (m) {
      let id = '';
      try {
        id = decodeURIComponent(m[1]!);
      } catch {
        // a malformed percent-escape is the client's error, not ours
      }
      if (!DEVICE_ID.test(id)) return json(res, 400, { error: "a device id is 1-64 letters, digits, '.', '_' or '-'" });
      const what = m[2];
      if (what === undefined && method === 'GET') {
        const d = this.store.detail(id);
        return d ? json(res, 200, d) : json(res, 404, { error: `no device "${id}" has been seen` });
      }
      if (what === '/selection.svg' && method === 'GET') {
        const model = this.store.model(id)?.model;
        if (!model) return json(res, 404, { error: `${id} has not published its model yet` });
        res.writeHead(200, { 'content-type': TYPES['.svg']!, 'cache-control': 'no-store' });
        res.end(selectionSvg(model));
        return;
      }
      if (what === '/snapshot' && method === 'POST') return this.snapshot(req, res, id, url.searchParams.get('camera') ?? undefined);
    }
    json(res, 404, { error: `nothing at ${method} ${path.slice(0, 100)}` });
  }

  /** `camera`: one camera of a device with several (?camera=<id>) */
  private async snapshot(req: IncomingMessage, res: ServerResponse, id: string, camera: string | undefined): Promise<void> {
    // a custom header forces a CORS preflight, which this server never grants: other sites cannot trigger commands
    if (req.headers['x-edgefit'] !== '1') return json(res, 403, { error: 'send the X-Edgefit: 1 header (the page does)' });
    req.resume();
    if (!this.store.row(id)) return json(res, 404, { error: `no device "${id}" has been seen` });
    if (camera !== undefined && !DEVICE_ID.test(camera)) return json(res, 400, { error: "a camera id is 1-64 letters, digits, '.', '_' or '-'" });
    try {
      const { jpeg } = await this.ingest.snapshot(id, undefined, undefined, camera);
      res.writeHead(200, { 'content-type': 'image/jpeg', 'cache-control': 'no-store', 'content-length': jpeg.length });
      res.end(jpeg);
    } catch (err) {
      const code = (err as { code?: string }).code;
      json(res, code === 'E_SNAPSHOT_TIMEOUT' ? 504 : code === 'E_DASHBOARD_OFFLINE' ? 503 : 502, { error: errorMessage(err) });
    }
  }

  async stop(): Promise<void> {
    this.hub?.close();
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
    await this.ingest.stop();
  }
}

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const d = new Dashboard(o);
  await d.start();
  return d;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(s);
}

function asset(res: ServerResponse, a: { body: Buffer; type: string }): void {
  res.writeHead(200, { 'content-type': a.type, 'cache-control': 'no-cache', 'content-length': a.body.length });
  res.end(a.body);
}
