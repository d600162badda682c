import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Prometheus, prometheusMissing } from '../helpers/prometheus.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { projectRoot } from '../../src/util/paths.js';
import { FleetSim } from '../../scripts/fleet-sim.js';
import { grafanaExpressions } from '../helpers/grafana.js';

/**
 * Debian's real Prometheus scrapes the dashboard's /metrics (with the bearer token, through the same guard as the
 * page) while the fleet simulator publishes through a real mosquitto; the test asks Prometheus's HTTP API for a
 * device's p90 and checks it is one the device published. Every PromQL expression of the Grafana dashboard is then
 * evaluated by the same Prometheus, on that data.
 */
const N = 40;
const TOKEN = 'prometheus-scrape-token-0123456789';
const DEVICE = 'sim-0003';

describe.skipIf(prometheusMissing() !== undefined)('Prometheus scrapes the dashboard', () => {
  let broker: Mosquitto;
  let dash: Dashboard;
  let prom: Prometheus;
  let sim: FleetSim;
  let watcher: MqttClient;
  /** every p90 (ms) the device published, as the test saw them on the broker */
  const published = new Set<number>();

  beforeAll(async () => {
    broker = await Mosquitto.start();
    dash = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, auth: { token: TOKEN } });
    watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'prom-test-watch' });
    watcher.on('message', (_t, payload) => { published.add((JSON.parse(payload.toString()) as { latencyMs: { p90: number } }).latencyMs.p90); });
    await watcher.subscribeAsync(`edgefit/${DEVICE}/telemetry`, { qos: 0 });
    sim = new FleetSim({ broker: broker.url, devices: N, telemetrySeconds: 1, connections: 4 });
    await sim.connect();
    await sim.birth();
    sim.run();
    prom = await Prometheus.start((dir) => {
      writeFileSync(join(dir, 'token'), TOKEN, { mode: 0o600 });
      return [
        'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s', 'scrape_configs:',
        '  - job_name: edgefit-dashboard', '    authorization:', '      type: Bearer', `      credentials_file: ${join(dir, 'token')}`,
        '    static_configs:', `      - targets: ['127.0.0.1:${dash.port}']`,
        // the same target without credentials: the guard must refuse it
        '  - job_name: no-credentials', '    static_configs:', `      - targets: ['127.0.0.1:${dash.port}']`, '',
      ].join('\n');
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await sim?.stop();
    await watcher?.endAsync();
    await dash?.stop();
    await broker?.stop();
  });

  it('answers a device\'s p90 from what the device published', async () => {
    let got: number | undefined;
    await expect.poll(async () => {
      const r = await prom.query(`edgefit_device_latency_p90_seconds{device="${DEVICE}"}`);
      if (r.length !== 1) return `${r.length} series`;
      got = Number(r[0]!.value[1]) * 1000;
      // the scraped value is one of the p90s the device sent (ms on the wire, seconds in Prometheus)
      return [...published].some((p) => Math.abs(p - got!) < 1e-6 * p) ? 'published' : `unknown value ${got}`;
    }, { timeout: 60_000, interval: 500 }).toBe('published');
    const [s] = await prom.query(`edgefit_device_latency_p90_seconds{device="${DEVICE}"}`);
    expect(s!.metric).toMatchObject({ device: DEVICE, board: FleetSim.boards[3 % FleetSim.boards.length], provider: 'cpu', job: 'edgefit-dashboard' });
    expect(s!.metric.variant).toMatch(/^mobilenet_/);
  });

  it('sees the whole fleet, per board, and only with credentials', async () => {
    await expect.poll(async () => Number((await prom.query('sum(edgefit_fleet_devices{job="edgefit-dashboard"})'))[0]?.value[1]), { timeout: 30_000 }).toBe(N);
    await expect.poll(async () => (await prom.query('count(edgefit_device_status{job="edgefit-dashboard"} == 1)'))[0]?.value[1], { timeout: 30_000 }).toBe(String(N));
    await expect.poll(async () => (await prom.query('quantile by (board) (0.9, edgefit_device_latency_p90_seconds)')).map((r) => r.metric.board).sort(), { timeout: 30_000 })
      .toEqual([...FleetSim.boards].sort());
    const health = async (pool: string) => (await prom.targets()).find((t) => t.scrapePool === pool);
    await expect.poll(async () => (await health('edgefit-dashboard'))?.health, { timeout: 30_000 }).toBe('up');
    // a scrape without the token: the guard answers 401, Prometheus marks the target down
    await expect.poll(async () => (await health('no-credentials'))?.health, { timeout: 30_000 }).toBe('down');
    expect((await health('no-credentials'))?.lastError).toMatch(/401/);
  });

  it('evaluates every query of the Grafana dashboard on the scraped fleet', async () => {
    const dashboard = JSON.parse(readFileSync(join(projectRoot, 'deploy/grafana/edgefit-fleet.json'), 'utf8')) as unknown;
    const vars = { device: DEVICE, board: '.*', __rate_interval: '30s' };
    // each panel's queries together return data (a panel may show a series that this fleet lacks, not all of them)
    for (const { panel, exprs } of grafanaExpressions(dashboard, vars)) {
      await expect.poll(async () => {
        let n = 0;
        for (const e of exprs) n += (await prom.query(e)).length;
        return n;
      }, { timeout: 30_000, message: `panel "${panel}": ${exprs.join(' | ')}` }).toBeGreaterThan(0);
    }
  });

  // the docs' picture (docs/img/prometheus-fleet.png) comes from here: EDGEFIT_SCREENSHOT=<file> writes it
  it.skipIf(browserMissing() !== undefined)('draws the fleet\'s p90 per board in Prometheus\'s own graph page', async () => {
    const browser = await launchChromium();
    try {
      const out = process.env.EDGEFIT_SCREENSHOT;
      // for the picture, a minute of history first (only when one is asked for)
      if (out) await expect.poll(async () => Number((await prom.query('count_over_time(edgefit_fleet_devices_online[2m])'))[0]?.value[1] ?? 0), { timeout: 120_000, interval: 2000 }).toBeGreaterThan(60);
      const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
      const expr = 'quantile by (board) (0.9, edgefit_device_latency_p90_seconds)';
      // the classic UI that Debian's package ships: tab 0 is the graph
      await page.goto(`${prom.url}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=1m`);
      await expect.poll(() => page.locator('.graph svg path, .graph canvas, svg .line').count(), { timeout: 30_000 }).toBeGreaterThan(0);
      if (out) await page.screenshot({ path: out, fullPage: true });
    } finally {
      await browser.close();
    }
  }, 180_000);
});
