import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { get } from 'node:http';
import type { Browser } from 'playwright-core';
import { Mosquitto } from '../helpers/mosquitto.js';
import { loadRecording } from '../helpers/recorded-device.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';

/**
 * Fleet-scale behaviour against a real mosquitto: a thousand devices in a virtualised table, telemetry split
 * between two dashboards by an MQTT 5 shared subscription, and an idle SSE stream that stays idle.
 */
const N = 1000;
const rec = loadRecording();
const id = (i: number) => `dev-${String(i).padStart(4, '0')}`;

function telemetry(i: number) {
  const t = rec.telemetry[i % rec.telemetry.length]!.payload;
  // p90 grows with the index, so sorting by p90 has a known answer
  return { ...t, deviceId: id(i), ts: new Date().toISOString(), latencyMs: { ...t.latencyMs, p90: 10 + i } };
}

async function publishAll(c: MqttClient, kinds: ('status' | 'telemetry')[]): Promise<void> {
  const jobs: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    if (kinds.includes('status')) jobs.push(c.publishAsync(`edgefit/${id(i)}/status`, JSON.stringify({ ...rec.status, deviceId: id(i) }), { qos: 1, retain: true }));
    if (kinds.includes('telemetry')) jobs.push(c.publishAsync(`edgefit/${id(i)}/telemetry`, JSON.stringify(telemetry(i)), { qos: 1 }));
  }
  await Promise.all(jobs);
}

describe('dashboard at fleet scale', () => {
  let broker: Mosquitto;
  let pub: MqttClient;
  let a: Dashboard;
  let b: Dashboard;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'fleet-pub' });
    a = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, shareGroup: 'dash' });
    b = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0, shareGroup: 'dash' });
    await publishAll(pub, ['status', 'telemetry']);
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await pub?.endAsync();
    await broker?.stop();
  });

  it('splits telemetry between dashboards of one share group; retained status reaches both', async () => {
    await expect.poll(() => a.store.size + 0, { timeout: 15_000 }).toBe(N);
    await expect.poll(() => b.store.size + 0, { timeout: 15_000 }).toBe(N);
    const withTelemetry = (d: Dashboard) => d.store.rows().filter((r) => r.seenAt !== undefined).length;
    await expect.poll(() => withTelemetry(a) + withTelemetry(b), { timeout: 15_000 }).toBe(N);
    // each message went to exactly one member of the group, and both got a share
    expect(withTelemetry(a)).toBeGreaterThan(0);
    expect(withTelemetry(b)).toBeGreaterThan(0);
    expect(a.stats().ingest.rejected + b.stats().ingest.rejected).toBe(0);
  });

  it('keeps an idle event stream idle (no resending of the fleet to a page)', async () => {
    const bytes = await new Promise<number>((resolve, reject) => {
      let n = 0;
      const req = get(`${a.url}/events`, (res) => {
        res.on('data', (d: Buffer) => { n += d.length; });
        setTimeout(() => { req.destroy(); resolve(n); }, 2500);
      });
      req.on('error', reject);
    });
    const hello = JSON.stringify({ rows: a.store.rows(), boards: a.store.boards() }).length;
    // the hello with every row, plus small frames and at most one flip of the whole fleet to stale (the simulated
    // devices stop sending telemetry, and 1000 rows change at once when their three periods run out): not the
    // stream of copies the first version sent (55 MB in 2.5 s)
    expect(bytes).toBeGreaterThan(hello * 0.9);
    expect(bytes).toBeLessThan(hello * 2.2 + 20_000);
  });

  describe.skipIf(browserMissing() !== undefined)('in the browser', () => {
    let browser: Browser;
    beforeAll(async () => { browser = await launchChromium(); });
    afterAll(async () => { await browser?.close(); });

    it('renders only the visible rows of a thousand, sorts and filters them', async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      // one dashboard without a share group sees all the telemetry
      const c = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
      try {
        await page.goto(`${c.url}/`);
        await publishAll(pub, ['telemetry']);
        await expect.poll(() => page.locator('#counts').textContent(), { timeout: 15_000 }).toMatch(/^1000 devices/);
        const inDom = await page.locator('#viewport .row:not([hidden])').count();
        expect(inDom).toBeGreaterThan(5);
        expect(inDom).toBeLessThan(80);
        // sort by p90, descending: the device with the largest p90 first
        await page.click('#table-head span[data-key="p90"]');
        await page.click('#table-head span[data-key="p90"]');
        const firstId = () => page.locator('#viewport .row:not([hidden])').evaluateAll((rows) => {
          const top = rows.map((r) => ({ id: (r as HTMLElement).dataset.deviceId, y: new DOMMatrix(getComputedStyle(r).transform).m42 })).sort((x, y) => x.y - y.y)[0];
          return top?.id;
        });
        await expect.poll(firstId).toBe(id(N - 1));
        // scrolling to the end shows the other end of the order
        await page.locator('#viewport').evaluate((v) => { v.scrollTop = v.scrollHeight; });
        await expect.poll(() => page.locator(`#viewport .row[data-device-id="${id(0)}"]:not([hidden])`).count()).toBe(1);
        // filter by id
        await page.fill('#filter', 'dev-012');
        await expect.poll(() => page.locator('#shown').textContent()).toBe('10 shown');
      } finally {
        await page.close();
        await c.stop();
      }
    });

    // issue 14: the header said "300 devices, 0 online" while "By board model" said 60 of 60 online per board
    it('counts online the same way in the header and per board, and drops a device whose retained status is cleared', async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const c = await startDashboard({ url: broker.url, prefix: 'edgefit', port: 0 });
      const boardsOnline = () => page.locator('#boards tbody tr').evaluateAll((rows) => rows.map((r) => [r.children[0]!.textContent, r.children[1]!.textContent, r.children[2]!.textContent]));
      try {
        await page.goto(`${c.url}/`);
        await expect.poll(() => page.locator('#counts').textContent(), { timeout: 15_000 }).toBe(`${N} devices, ${N} online`);
        // one round of telemetry, then silence: three periods later the whole fleet is stale, in both places
        // (a 1 s window each: the period the dashboard judges staleness on starts from it)
        await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync(`edgefit/${id(i)}/telemetry`, JSON.stringify({ ...telemetry(i), windowSeconds: 1 }), { qos: 1 })));
        await expect.poll(() => page.locator('#counts').textContent(), { timeout: 20_000 }).toBe(`${N} devices, 0 online`);
        await expect.poll(boardsOnline, { timeout: 5000 }).toEqual([['unknown', String(N), '0']]);
        // an empty retained message clears the status: with nothing retained and no fresh telemetry, the device goes
        await pub.publishAsync(`edgefit/${id(0)}/status`, '', { qos: 1, retain: true });
        await expect.poll(() => page.locator('#counts').textContent(), { timeout: 10_000 }).toBe(`${N - 1} devices, 0 online`);
        await expect.poll(boardsOnline, { timeout: 5000 }).toEqual([['unknown', String(N - 1), '0']]);
        expect(c.stats().ingest.rejected).toBe(0);
      } finally {
        await page.close();
        await c.stop();
      }
    });
  });
});
