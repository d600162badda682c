import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Mosquitto } from '../helpers/mosquitto.js';
import { DaemonProcess, fastProfile, pulledState } from '../helpers/daemon.js';
import { RecordedDevice } from '../helpers/recorded-device.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { projectRoot } from '../../src/util/paths.js';
import type { ModelPayload } from '../../src/mqtt/payloads.js';

/**
 * The whole path in a real browser: a real daemon (child process) and a replayed recording of a second device
 * publish to a real mosquitto; the dashboard ingests them; headless Chromium renders the page.
 */
const missing = browserMissing();
if (missing) console.warn(`dashboard e2e skipped: ${missing}`);

const artifacts = join(projectRoot, 'artifacts');
const docsShots = join(projectRoot, 'docs', 'screenshots');

describe.skipIf(missing !== undefined)('dashboard in a real browser', () => {
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let replay: RecordedDevice;
  let dash: Dashboard;
  let browser: Browser;
  let page: Page;
  let watcher: MqttClient;
  let camModel: ModelPayload | undefined;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const state = await pulledState(['mobilenet_v1-0.25-128-int8']);
    daemon = new DaemonProcess(['--camera', 'synthetic', '--broker', broker.url, '--device-id', 'cam-1', '--state-dir', state, '--set', 'mqtt.telemetrySeconds=1', ...fastProfile]);
    // the test's own view of what the daemon publishes, to compare the page against
    watcher = mqtt.connect(broker.url, { protocolVersion: 5, clientId: 'e2e-watcher' });
    watcher.on('message', (_t, p) => { camModel = JSON.parse(p.toString()) as ModelPayload; });
    await new Promise<void>((resolve) => watcher.once('connect', () => resolve()));
    await watcher.subscribeAsync('edgefit/cam-1/model');
    dash = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
    replay = new RecordedDevice('pi4-kitchen', 'edgefit', 'raspberry-pi-4');
    await replay.start(broker.url, 1000);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1500, height: 900 } });
    mkdirSync(artifacts, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await replay?.stop().catch(() => undefined);
    await daemon?.stop('SIGKILL').catch(() => undefined);
    await dash?.stop().catch(() => undefined);
    watcher?.end(true);
    await broker?.stop();
  });

  const row = (id: string) => page.locator(`#viewport .row[data-device-id="${id}"]`);

  async function shot(name: string, fullPage = false): Promise<void> {
    await page.screenshot({ path: join(artifacts, name), fullPage });
    // the README's pictures: written when missing, or refreshed with UPDATE_SCREENSHOTS=1 (not EDGEFIT_*: the daemon refuses unknown EDGEFIT_ variables)
    if (!existsSync(join(docsShots, name)) || process.env.UPDATE_SCREENSHOTS === '1') {
      mkdirSync(docsShots, { recursive: true });
      await page.screenshot({ path: join(docsShots, name), fullPage });
    }
  }

  it('shows both devices, the board summary, and escapes what devices send', async () => {
    await page.goto(`${dash.url}/`);
    await row('pi4-kitchen').waitFor({ timeout: 15_000 });
    await daemon.waitFor(() => camModel !== undefined, 'the daemon to publish its model', 50_000);
    await row('cam-1').waitFor({ timeout: 15_000 });
    await expect.poll(() => row('cam-1').locator('.c-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('online');
    await expect.poll(() => row('cam-1').locator('.c-variant').textContent(), { timeout: 10_000 }).toBe(camModel!.variant.id);
    await expect.poll(() => row('pi4-kitchen').locator('.c-board').textContent()).toBe('raspberry-pi-4');
    // the real daemon's telemetry reaches the table
    await expect.poll(async () => Number(await row('cam-1').locator('.c-fps').textContent()), { timeout: 10_000 }).toBeGreaterThan(0);
    await expect.poll(() => page.locator('#boards tbody tr').count(), { timeout: 10_000 }).toBe(2);
    await expect(page.locator('#boards tr[data-board="raspberry-pi-4"] td').last().textContent()).resolves.toContain(replay.model.variant.id);

    // a hostile label is shown as text, never parsed
    replay.replayResults = false;
    const evil = '<img src=x id=pwned onerror="document.title=1">';
    await replay.result({ deviceId: 'pi4-kitchen', session: 1, seq: 1, frameTs: Date.now(), ts: new Date().toISOString(), variant: 'x', top: [{ index: 1, label: evil, score: 0.5 }], latencyMs: 1, inferMs: 1 });
    // and a message under another device's topic, or with a broken id, never becomes a row
    await replay.publish('telemetry', { deviceId: 'someone-else' }, false);
    await new Promise<void>((resolve, reject) => watcher.publish('edgefit/bad id/status', '{}', { qos: 1 }, (e) => (e ? reject(e) : resolve())));
    await expect.poll(() => row('pi4-kitchen').locator('.c-result').textContent(), { timeout: 5000 }).toContain(evil);
    expect(await page.locator('#pwned').count()).toBe(0);
    expect(await page.locator('#viewport .row').evaluateAll((rows) => rows.filter((r) => !(r as HTMLElement).hidden).length)).toBe(2);
    await expect.poll(() => dash.stats().ingest.rejected).toBeGreaterThanOrEqual(2);
    await shot('dashboard-fleet.png');
  });

  it('draws the selection chart with one point per measured candidate, the chosen one marked', async () => {
    await page.goto(`${dash.url}/#/device/pi4-kitchen`);
    const m = replay.model;
    await page.locator('#selection[data-device="pi4-kitchen"] svg').waitFor({ timeout: 10_000 });
    const measured = m.candidates.filter((c) => c.p90Ms !== undefined);
    const chosen = m.candidates.find((c) => c.chosen)!;
    await page.locator('#selection svg').waitFor({ timeout: 10_000 });
    expect(await page.locator('#selection svg circle.point').count()).toBe(measured.length);
    expect(await page.locator('#selection svg circle.point.chosen').getAttribute('data-id')).toBe(chosen.id);
    expect(await page.locator('#candidates tbody tr').count()).toBe(m.candidates.length);
    // a rejected, measured candidate carries its reason in the hover title
    const rejected = measured.find((c) => !c.chosen && c.reason && c.reason !== 'dominated');
    if (rejected) {
      const title = await page.locator(`#selection svg circle.point[data-id="${rejected.id}"] title`).textContent();
      expect(title).toContain(rejected.reason!);
    }
    // the budget line, and the latency history filling in from telemetry
    expect(await page.locator('#selection svg line.budget').count()).toBe(m.budget.latencyMs !== undefined ? 1 : 0);
    await expect.poll(() => page.locator('#latency-chart svg path.series').count(), { timeout: 10_000 }).toBe(2);
    // a model switch shows on the timeline
    await replay.publish('event', { deviceId: 'pi4-kitchen', session: 1, ts: new Date().toISOString(), type: 'switch', message: 'p90 over budget: switching down', from: chosen.id, to: 'mobilenet_v1-0.25-128-int8@cpu' }, false);
    await expect.poll(() => page.locator('#latency-chart .switch-marker').count(), { timeout: 5000 }).toBe(1);
    await expect(page.locator('#events li[data-type="switch"]').count()).resolves.toBe(1);
    await shot('dashboard-device.png', true);
  });

  it('takes a snapshot from the real daemon and shows it at the model resolution', async () => {
    await page.goto(`${dash.url}/#/device/cam-1`);
    await page.locator('#selection[data-device="cam-1"] svg').waitFor({ timeout: 10_000 });
    const measured = camModel!.candidates.filter((c) => c.p90Ms !== undefined).length;
    expect(await page.locator('#selection svg circle.point').count()).toBe(measured);
    await page.click('#snapshot-btn');
    await expect.poll(() => page.locator('#snapshot-img').evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: 15_000 }).toBe(camModel!.variant.resolution);
  });

  it('works behind its credentials and Host check: a browser with Basic auth sees the fleet and takes a snapshot', async () => {
    const token = 'e2e-token-0123456789abcdef';
    const guarded = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, host: '0.0.0.0', auth: { token } });
    const ctx = await browser.newContext({ httpCredentials: { username: 'anyone', password: token } });
    try {
      const p = await ctx.newPage();
      // served by name: the page's fetches and its event stream carry Host localhost and pass the guard
      await p.goto(`http://localhost:${guarded.port}/#/device/cam-1`);
      await p.locator('#selection[data-device="cam-1"] svg').waitFor({ timeout: 15_000 });
      await p.click('#snapshot-btn');
      await expect.poll(() => p.locator('#snapshot-img').evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: 15_000 }).toBe(camModel!.variant.resolution);
      // and without credentials, nothing
      const res = await fetch(`http://127.0.0.1:${guarded.port}/api/devices`);
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('cam-1');
    } finally {
      await ctx.close();
      await guarded.stop();
    }
  });

  it('turns the daemon to stopped on the page when it is stopped', async () => {
    await page.goto(`${dash.url}/#/`);
    await row('cam-1').waitFor();
    expect(await row('cam-1').locator('.c-state').getAttribute('data-state')).toBe('online');
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await expect.poll(() => row('cam-1').locator('.c-state').getAttribute('data-state'), { timeout: 8000 }).toBe('stopped');
    // the other device is untouched
    expect(await row('pi4-kitchen').locator('.c-state').getAttribute('data-state')).toBe('online');
  });
});
