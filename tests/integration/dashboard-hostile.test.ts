import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Mosquitto } from '../helpers/mosquitto.js';
import { loadRecording } from '../helpers/recorded-device.js';
import { projectRoot } from '../../src/util/paths.js';

/**
 * Issue 14 end to end: `edgefit dashboard` as its own process (a dashboard that hangs must not hang this test)
 * against a real mosquitto. One device publishes a model with a candidate p90 of 1.7e308 ms: the dashboard must
 * keep answering, its selection chart included. A device clears its retained model and status (empty retained
 * messages): the dashboard forgets them instead of counting a "model is not JSON" rejection.
 */
const rec = loadRecording();
const BOUND_MS = 10_000;

interface Stats { devices: number; ingest: { messages: number; applied: number; rejected: number; rejectedBy: Record<string, number> } }

describe('a dashboard process facing hostile and cleared payloads', () => {
  let broker: Mosquitto;
  let pub: MqttClient;
  let proc: ChildProcess;
  let url: string;
  let stderr = '';

  /** GET with a time bound: a dashboard whose event loop spins answers nothing. */
  async function get(path: string): Promise<Response> {
    return fetch(`${url}${path}`, { signal: AbortSignal.timeout(BOUND_MS) }).catch((err: unknown) => {
      throw new Error(`GET ${path}: no answer within ${BOUND_MS} ms (${String(err)}); dashboard stderr: ${stderr.slice(-500)}`);
    });
  }
  const stats = async () => (await (await get('/api/stats')).json()) as Stats;
  const publish = (topic: string, body: string) => pub.publishAsync(`edgefit/${topic}`, body, { qos: 1, retain: true });

  beforeAll(async () => {
    broker = await Mosquitto.start();
    pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clientId: 'hostile-pub' });
    proc = spawn(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'dashboard', '--broker', broker.url, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const t = setTimeout(() => reject(new Error(`the dashboard did not start: ${out} ${stderr}`)), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /(http:\/\/[^/\s]+)\//.exec(out);
        if (m) { clearTimeout(t); resolve(m[1]!); }
      });
      proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`the dashboard exited (${code}): ${stderr}`)); });
    });
  });

  afterAll(async () => {
    // (a dashboard that aborted, as the unfixed one did, has already exited: by a signal, with no exit code)
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      // SIGKILL: a dashboard spinning in a loop would not run its SIGTERM handler
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
    }
    await pub?.endAsync();
    await broker?.stop();
  });

  it('keeps answering when a device publishes a candidate p90 of 1.7e308 ms; the model is refused', async () => {
    const before = await stats();
    await publish('good/status', JSON.stringify({ ...rec.status, deviceId: 'good' }));
    await publish('good/model', JSON.stringify({ ...rec.model, session: 1, deviceId: 'good' }));
    await publish('evil/status', JSON.stringify({ ...rec.status, deviceId: 'evil' }));
    const evil = structuredClone({ ...rec.model, session: 1, deviceId: 'evil' });
    evil.candidates[1]!.p90Ms = 1.7e308;
    await publish('evil/model', JSON.stringify(evil));
    await expect.poll(async () => (await stats()).ingest.messages - before.ingest.messages, { timeout: BOUND_MS }).toBe(4);
    // what hung the whole dashboard: drawing that model's chart
    const chart = await get('/api/device/evil/selection.svg');
    expect(chart.status).toBe(404);
    const after = await stats();
    expect(after.ingest.applied - before.ingest.applied).toBe(3);
    expect(after.ingest.rejectedBy.shape).toBe(1);
    // and the dashboard goes on serving the rest of the fleet
    const good = await get('/api/device/good/selection.svg');
    expect(good.status).toBe(200);
    expect(await good.text()).toContain('<circle class="point chosen"');
    expect((await (await get('/api/devices')).json()).rows.map((r: { id: string }) => r.id).sort()).toEqual(['evil', 'good']);
  });

  it('a cleared retained model and status clear the device, and are not counted as rejected', async () => {
    await publish('gone/status', JSON.stringify({ ...rec.status, deviceId: 'gone' }));
    await publish('gone/model', JSON.stringify({ ...rec.model, session: 1, deviceId: 'gone' }));
    await expect.poll(async () => (await get('/api/device/gone/selection.svg')).status, { timeout: BOUND_MS }).toBe(200);
    const before = await stats();
    await publish('gone/model', '');
    await expect.poll(async () => (await get('/api/device/gone/selection.svg')).status, { timeout: BOUND_MS }).toBe(404);
    const detail = (await (await get('/api/device/gone')).json()) as { model?: unknown; row: { board?: string } };
    expect(detail.model).toBeUndefined();
    expect(detail.row.board).toBeUndefined();
    await publish('gone/status', '');
    await expect.poll(async () => (await get('/api/device/gone')).status, { timeout: BOUND_MS }).toBe(404);
    const after = await stats();
    expect(after.ingest.rejected).toBe(before.ingest.rejected);
    expect(after.devices).toBe(before.devices - 1);
  });
});
