import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Ajv } from 'ajv';
import { DaemonProcess, pulledState, copyState, fastProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sharedData } from '../../src/util/paths.js';
import { payloadSchemas } from '../../src/mqtt/schemas.js';
import { waitFor } from '../helpers/wait.js';

const ajv = new Ajv({ strict: false });
const valid = Object.fromEntries(Object.entries(payloadSchemas).map(([k, s]) => [k, ajv.compile(s)]));

const until = <T>(fn: () => T | undefined | false, what: string, ms = 30_000): Promise<T> => waitFor(fn, what, ms);

describe('the daemon over MQTT (real mosquitto, real models, the test photos as camera)', () => {
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let sub: MqttClient;
  const msgs: { topic: string; payload: Buffer; retain: boolean }[] = [];
  const json = (suffix: string) => msgs.filter((m) => m.topic === `edgefit/cam-m/${suffix}`).map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>);

  beforeAll(async () => {
    const state = await pulledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
    sub.on('message', (topic, payload, packet) => msgs.push({ topic, payload: Buffer.from(payload), retain: packet.retain }));
    await sub.subscribeAsync(['edgefit/#', 'homeassistant/#'], { qos: 1 });
    daemon = new DaemonProcess([
      '--broker', broker.url, '--device-id', 'cam-m', '--state-dir', copyState(state), '--camera', `folder:${join(sharedData, 'images/test')}`,
      '--set', 'camera.fps=8', '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=20', '--set', 'mqtt.telemetrySeconds=1', '--set', 'mqtt.keepaliveSeconds=2', '--set', 'mqtt.reconnectMaxSeconds=1', ...fastProfile,
      // pull-model may name the configured mirror (models.allowAnyUrl is off)
      '--set', `models.mirror=${sharedData}`,
    ]);
    await daemon.waitFor(() => json('result').length >= 3, 'first results', 120_000);
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await sub?.endAsync();
    await broker?.stop();
  });

  it('publishes status, model, result and telemetry with the documented payloads', async () => {
    await until(() => json('telemetry').length >= 2, 'telemetry');
    const status = json('status').at(-1)!;
    expect(valid.status!(status), JSON.stringify(valid.status!.errors)).toBe(true);
    expect(status.state).toBe('online');
    const model = json('model').at(-1)!;
    expect(valid.model!(model), JSON.stringify(valid.model!.errors)).toBe(true);
    expect(model.labelsMeaningful).toBe(true);
    expect((model.candidates as unknown[]).length).toBe(model.ladder);
    expect((model.candidates as { chosen: boolean }[]).filter((c) => c.chosen)).toHaveLength(1);
    for (const r of json('result')) expect(valid.result!(r), JSON.stringify(valid.result!.errors)).toBe(true);
    for (const t of json('telemetry')) expect(valid.telemetry!(t), JSON.stringify(valid.telemetry!.errors)).toBe(true);
    expect(json('telemetry').at(-1)!.provider).toBe('cpu');
  });

  it('the result topic carries the photos\' accepted classes', async () => {
    const labels = JSON.parse(readFileSync(join(sharedData, 'images/test/labels.json'), 'utf8')) as Record<string, { accept: string[] }>;
    const accepted = new Set(Object.values(labels).flatMap((l) => l.accept));
    await until(() => json('result').length >= 25, 'a loop over the photos', 60_000);
    const hits = new Set(json('result').map((r) => (r.top as { label: string }[])[0]!.label.split(',')[0]!.trim()).filter((l) => accepted.has(l)));
    expect(hits.size).toBeGreaterThanOrEqual(4);
  });

  it('answers every command and refuses bad ones with error replies', async () => {
    const replies = new Map<string, Record<string, unknown>>();
    const req = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    await req.subscribeAsync('test/r', { qos: 1 });
    req.on('message', (_t, p, packet) => replies.set(packet.properties!.correlationData!.toString(), JSON.parse(p.toString())));
    const ask = async (verb: string, body: string, corr: string) => {
      await req.publishAsync(`edgefit/cam-m/cmd/${verb}`, body, { qos: 1, properties: { responseTopic: 'test/r', correlationData: Buffer.from(corr) } });
      return until(() => replies.get(corr), `reply ${corr}`, 60_000);
    };
    expect(await ask('pause', '{"id":"p1"}', 'c1')).toMatchObject({ ok: true, result: { paused: true } });
    const n = json('result').length;
    await new Promise((r) => setTimeout(r, 600));
    expect(json('result').length).toBeLessThanOrEqual(n + 1);
    expect(await ask('resume', '{}', 'c2')).toMatchObject({ ok: true });
    await until(() => json('result').length > n + 2, 'results after resume');
    const snap = await ask('snapshot', '{"args":{"quality":70}}', 'c3');
    expect(snap).toMatchObject({ ok: true, result: { topic: 'edgefit/cam-m/snapshot' } });
    const jpeg = await until(() => msgs.find((m) => m.topic === 'edgefit/cam-m/snapshot')?.payload, 'snapshot bytes');
    expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    expect(await ask('reselect', '{"id":"r1"}', 'c4')).toMatchObject({ ok: true });
    const budget = await ask('set-budget', '{"args":{"latencyMs":0.001}}', 'c5');
    expect(budget).toMatchObject({ ok: true });
    await until(() => String(json('model').at(-1)!.reason).includes('NOTHING FITS'), 'model republished with the impossible budget');
    // the retained status says it too, naming the one setting that excludes everything
    const overBudget = String(await until(() => json('status').at(-1)!.warning, 'status warning with the impossible budget'));
    expect(overBudget).toMatch(/NOTHING FITS THE BUDGET: \d+ of \d+ too slow for p90 <= 0\.0 ms: relax budget\.latencyMs \/ budget\.fps/);
    expect(overBudget).not.toMatch(/memoryMb|minAccuracy/);
    expect(await ask('set-budget', '{"args":{"latencyMs":1000}}', 'c5b')).toMatchObject({ ok: true });
    // the retained model payload carries the budget as the selector resolved it (the tighter of latency and fps)
    await until(() => (json('model').at(-1)!.budget as { latencyMs?: number }).latencyMs === 1000, 'model republished with the new budget');
    await until(() => json('status').at(-1)!.warning === undefined, 'status warning gone once the budget fits');
    // a minimum accuracy nothing meets: the model that still runs is called refused, in the model and the status
    expect(await ask('set-budget', '{"args":{"minAccuracy":0.99}}', 'c5c')).toMatchObject({ ok: true });
    const refused = String(await until(() => json('status').at(-1)!.warning, 'status warning with the impossible minimum accuracy'));
    expect(refused).toMatch(/NOTHING FITS THE BUDGET: \d+ of \d+ below budget\.minAccuracy 99\.0% .*: lower budget\.minAccuracy, or `edgefit models pull`/);
    expect(refused).toContain('IT IS BELOW budget.minAccuracy');
    expect(refused).not.toMatch(/relax budget\.latencyMs|raise budget\.memoryMb/);
    expect(String(json('model').at(-1)!.reason)).toBe(refused);
    expect(await ask('set-budget', '{"args":{"minAccuracy":0}}', 'c5d')).toMatchObject({ ok: true });
    await until(() => json('status').at(-1)!.warning === undefined, 'status warning gone once the minimum is lifted');
    const pull = await ask('pull-model', JSON.stringify({ args: { id: 'mobilenet_v1-0.25-128-int8', mirror: sharedData } }), 'c6');
    expect(pull).toMatchObject({ ok: true });
    expect(await ask('set-budget', '{"args":{"latencyMs":-5}}', 'e1')).toMatchObject({ ok: false, error: { code: 'E_INVALID_ARGS' } });
    expect(await ask('launch-missiles', '{}', 'e2')).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_VERB' } });
    expect(await ask('pause', '{oops', 'e3')).toMatchObject({ ok: false, error: { code: 'E_INVALID_JSON' } });
    expect(await ask('pause', '{"id":"p1"}', 'e4')).toMatchObject({ ok: false, error: { code: 'E_REPLAY' } });
    for (const r of replies.values()) expect(valid.reply!(r)).toBe(true);
    await req.endAsync();
    expect(daemon.proc.exitCode).toBe(null);
  });

  it('Home Assistant discovery appears and is republished when HA says online', async () => {
    const t = 'homeassistant/sensor/edgefit_cam-m/latency/config';
    await until(() => msgs.some((m) => m.topic === t), 'discovery');
    const cfg = JSON.parse(msgs.find((m) => m.topic === t)!.payload.toString()) as Record<string, unknown>;
    expect(cfg.state_topic).toBe('edgefit/cam-m/telemetry');
    const before = msgs.filter((m) => m.topic === t).length;
    await sub.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => msgs.filter((m) => m.topic === t).length > before, 'republished discovery');
  });

  it('broker stopped and restarted: results produced meanwhile arrive afterwards, in order, none missing; retained topics return', async () => {
    await broker.stop();
    await new Promise((r) => setTimeout(r, 2500)); // ~20 results at 8 fps while the broker is away
    msgs.length = 0;
    await broker.start();
    await until(() => json('status').some((s) => s.state === 'online'), 'online again', 60_000);
    // every seq from the first after the outage to the newest must be there
    const span = () => { const s = json('result').map((r) => r.seq as number); return s.length > 0 && Math.max(...s) - Math.min(...s) + 1 > 10; };
    await until(span, 'more than 10 results after the outage', 30_000);
    const seqs = json('result').map((r) => r.seq as number);
    const uniq = [...new Set(seqs)];
    expect(uniq).toEqual([...uniq].sort((a, b) => a - b));
    const min = uniq[0]!;
    const max = uniq.at(-1)!;
    expect(max - min + 1).toBeGreaterThan(10); // the outage's results were buffered and delivered
    expect(uniq.length).toBe(max - min + 1); // none missing
    await until(() => json('model').length > 0, 'model retained again');
  });

  it('SIGTERM: publishes stopped and exits 0', async () => {
    msgs.length = 0;
    expect(await daemon.stop('SIGTERM')).toBe(0);
    await until(() => json('status').at(-1)?.state === 'stopped' ? true : undefined, 'stopped');
  });
});

describe('npm start on a fresh machine', () => {
  it('with no configuration: embedded broker, zoo models, and the printed mosquitto_sub command shows the messages', async () => {
    const d = new DaemonProcess(['--state-dir', mkdtempSync(join(tmpdir(), 'edgefit-fresh-')), '--camera', 'synthetic', ...fastProfile]);
    try {
      await d.waitFor(() => /mosquitto_sub -h \S+ -p \d+ -t '[^']+' -v/.test(d.stderr), 'watch instructions', 240_000);
      expect(d.stderr).toMatch(/labels they report are MEANINGLESS/);
      const cmd = /mosquitto_sub -h (\S+) -p (\d+) -t '([^']+)' -v/.exec(d.stderr)!;
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn('mosquitto_sub', ['-h', cmd[1]!, '-p', cmd[2]!, '-t', cmd[3]!, '-v', '-C', '3', '-W', '60']);
        let s = '';
        p.stdout.on('data', (b: Buffer) => { s += b.toString(); });
        p.on('exit', (code) => (code === 0 ? resolve(s) : reject(new Error(`mosquitto_sub exited ${code}: ${s}`))));
      });
      expect(out).toMatch(/edgefit\/[^/]+\/(status|model) \{/);
      expect(out).toMatch(/"warning":"NO PRETRAINED MODEL/);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  }, 300_000);
});
