import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Mosquitto } from '../helpers/mosquitto.js';
import { DaemonProcess, fastProfile } from '../helpers/daemon.js';
import { detectorState } from '../helpers/detector.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';

/**
 * Issue 17, dashboard: a real detector daemon (the camera a folder holding one photo of two dogs) through a real
 * mosquitto; in headless Chromium the fleet's results list shows the counts and the device view draws the
 * newest result's boxes over the snapshot.
 */
const missing = browserMissing();
if (missing) console.warn(`dashboard detection e2e skipped: ${missing}`);

describe.skipIf(missing !== undefined)('a detector in the dashboard', () => {
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let dash: Dashboard;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const photos = mkdtempSync(join(tmpdir(), 'edgefit-dogs-'));
    copyFileSync(join(sharedData, 'images/test/pets.jpg'), join(photos, 'pets.jpg'));
    broker = await Mosquitto.start();
    daemon = new DaemonProcess(['--camera', `folder:${photos}`, '--broker', broker.url, '--device-id', 'cam-dogs', '--state-dir', await detectorState(),
      '--set', 'models.task=detection', '--set', 'budget.latencyMs=60000', '--set', 'camera.fps=4', '--set', 'mqtt.telemetrySeconds=1', ...fastProfile]);
    dash = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  }, 180_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    await daemon?.stop('SIGKILL').catch(() => undefined);
    await dash?.stop().catch(() => undefined);
    await broker?.stop();
  });

  it('shows the counts in the results list and the boxes over the snapshot', async () => {
    await page.goto(`${dash.url}/`);
    const row = page.locator('#viewport .row[data-device-id="cam-dogs"]');
    await row.waitFor({ timeout: 120_000 });
    await expect.poll(() => row.locator('.c-result').textContent(), { timeout: 120_000 }).toMatch(/^dog ×2 \(best \d+%\)$/);
    await page.goto(`${dash.url}/#/device/cam-dogs`);
    await expect.poll(() => page.locator('#dev-facts').textContent(), { timeout: 15_000 }).toMatch(/dog ×2/);
    await page.click('#snapshot-btn');
    await expect.poll(() => page.locator('#snapshot-boxes rect.box').count(), { timeout: 15_000 }).toBe(2);
    expect(await page.locator('#snapshot-boxes').isHidden()).toBe(false);
    const labels = await page.locator('#snapshot-boxes text').allTextContents();
    expect(labels).toEqual([expect.stringMatching(/^dog \d+%$/), expect.stringMatching(/^dog \d+%$/)]);
    // the overlay's coordinates are the snapshot's own pixels (the model's 300x300 frame): the boxes lie inside it
    const vb = await page.locator('#snapshot-boxes').getAttribute('viewBox');
    expect(vb).toBe('0 0 300 300');
    for (const r of await page.locator('#snapshot-boxes rect.box').all()) {
      const [x, y, w, h] = await Promise.all(['x', 'y', 'width', 'height'].map(async (a) => Number(await r.getAttribute(a))));
      expect(x! >= 0 && y! >= 0 && x! + w! <= 300.001 && y! + h! <= 300.001 && w! > 30 && h! > 30).toBe(true);
    }
    mkdirSync(join(projectRoot, 'artifacts'), { recursive: true });
    await page.locator('#snapshot-frame').screenshot({ path: join(projectRoot, 'artifacts', 'dashboard-detection.png') });
  }, 300_000);
});
