import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Ajv } from 'ajv';
import { DaemonProcess, copyState, fewRunsProfile } from '../helpers/daemon.js';
import { detectorState } from '../helpers/detector.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';
import { waitFor } from '../helpers/wait.js';
import { sharedData } from '../../src/util/paths.js';
import { payloadSchemas } from '../../src/mqtt/schemas.js';
import type { CameraModel, CameraTelemetry, ModelPayload, ResultPayload, TelemetryPayload } from '../../src/mqtt/payloads.js';

/**
 * Issue 18, "Done when": three cameras at different fps and tasks on one daemon through a real mosquitto, one of
 * them a real RTSP stream (GStreamer's RTSP server on loopback): each camera's results on its own topic, the joint
 * choice in `model`, per-camera telemetry and Home Assistant entities; the RTSP server stopped, the other cameras
 * go on and that camera is reported offline; its server back, its results come back. Every wait is on an event
 * (a message, a count that grows), never on a duration, so a loaded machine only makes it slower.
 */
const ajv = new Ajv({ strict: false });
const valid = Object.fromEntries(Object.entries(payloadSchemas).map(([k, s]) => [k, ajv.compile(s)]));
const DEV = 'cams';

describe('several cameras on one daemon (real mosquitto, an RTSP camera, real models)', () => {
  let broker: Mosquitto;
  let rtsp: RtspServer;
  let daemon: DaemonProcess;
  let sub: MqttClient;
  const msgs: { topic: string; payload: Buffer }[] = [];
  const json = <T>(suffix: string): T[] => msgs.filter((m) => m.topic === `edgefit/${DEV}/${suffix}` && m.payload.length > 0).map((m) => JSON.parse(m.payload.toString()) as T);
  const results = (cam: string) => json<ResultPayload>(`${cam}/result`);
  const lastTelemetry = () => json<TelemetryPayload>('telemetry').at(-1);
  const camTelemetry = (id: string) => lastTelemetry()?.cameras?.find((c) => c.id === id);

  beforeAll(async () => {
    const state = await detectorState();
    [broker, rtsp] = await Promise.all([Mosquitto.start(), startRtspServer({ width: 320, height: 240, fps: 10 })]);
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
    sub.on('message', (topic, payload) => msgs.push({ topic, payload: Buffer.from(payload) }));
    await sub.subscribeAsync(['edgefit/#', 'homeassistant/#'], { qos: 1 });
    const photos = join(sharedData, 'images/test');
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-cams-'));
    const config = join(dir, 'config.json');
    // lenient budgets: the test is about the wiring, and must hold with a busy loop on one core
    writeFileSync(config, JSON.stringify({
      cameras: [
        { id: 'door', source: rtsp.url, fps: 4, task: 'classification', watchdogSeconds: 2, budget: { latencyMs: 4000 } },
        { id: 'hall', source: `folder:${photos}`, fps: 2, task: 'classification', budget: { latencyMs: 4000 } },
        { id: 'yard', source: `folder:${photos}`, fps: 1, task: 'detection', priority: 1, budget: { latencyMs: 8000 }, results: { minScore: 0.4 } },
      ],
    }));
    daemon = new DaemonProcess([
      '--config', config, '--broker', broker.url, '--device-id', DEV, '--state-dir', copyState(state), ...fewRunsProfile,
      '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=100', '--set', 'mqtt.telemetrySeconds=1',
    ]);
    await daemon.waitFor(() => ['door', 'hall', 'yard'].every((c) => results(c).length >= 2), 'results of every camera', 300_000);
  }, 420_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await sub?.endAsync();
    await Promise.all([broker?.stop(), rtsp?.stop()]);
  });

  it('each camera publishes on its own topic, with its task', () => {
    for (const cam of ['door', 'hall', 'yard']) {
      for (const r of results(cam)) {
        expect(valid.result!(r), JSON.stringify(valid.result!.errors)).toBe(true);
        expect(r.camera).toBe(cam);
      }
    }
    expect(results('door').every((r) => r.top.length > 0 && r.detections === undefined)).toBe(true);
    expect(results('yard').every((r) => r.top.length === 0 && Array.isArray(r.detections))).toBe(true);
    // nothing on the one-camera topic
    expect(json('result')).toEqual([]);
  });

  it('the retained model payload carries the joint choice per camera', async () => {
    const model = await waitFor(() => json<ModelPayload>('model').at(-1), 'the model payload');
    expect(valid.model!(model), JSON.stringify(valid.model!.errors)).toBe(true);
    const cams = model.cameras!;
    expect(cams.map((c: CameraModel) => [c.id, c.task, c.fps])).toEqual([['door', 'classification', 4], ['hall', 'classification', 2], ['yard', 'detection', 1]]);
    for (const c of cams) {
      expect(c.reason.length).toBeGreaterThan(0);
      expect(c.provider).toBe('cpu');
      expect(c.threads).toBeGreaterThanOrEqual(1);
    }
    // the variant each camera runs is the one its results name
    for (const c of cams) expect(results(c.id).at(-1)!.variant).toBe(c.variant);
    expect(model.joint!.cores).toBeGreaterThanOrEqual(1);
    expect(model.joint!.slowdown).toBeGreaterThan(0);
  });

  it('telemetry reports every camera, and Home Assistant gets entities per camera', async () => {
    const t = await waitFor(() => {
      const x = lastTelemetry();
      return x?.cameras?.every((c) => c.status === 'running' && c.inferred > 0) ? x : undefined;
    }, 'telemetry with every camera running', 60_000);
    expect(valid.telemetry!(t), JSON.stringify(valid.telemetry!.errors)).toBe(true);
    expect(t.cameras!.map((c: CameraTelemetry) => c.id)).toEqual(['door', 'hall', 'yard']);
    const ha = (component: string, objectId: string) => msgs.find((m) => m.topic === `homeassistant/${component}/edgefit_${DEV}/${objectId}/config` && m.payload.length > 0);
    const door = await waitFor(() => ha('sensor', 'door_label'), 'the door label entity');
    expect(JSON.parse(door.payload.toString())).toMatchObject({ unique_id: `edgefit_${DEV}_door_label`, state_topic: `edgefit/${DEV}/door/result` });
    expect(ha('sensor', 'hall_fps')).toBeDefined();
    const yard = ha('binary_sensor', 'yard_person_detected');
    expect(JSON.parse(yard!.payload.toString())).toMatchObject({ unique_id: `edgefit_${DEV}_yard_person_detected`, state_topic: `edgefit/${DEV}/yard/result` });
    // a detector camera has no classification entities, and no one-camera entity is announced
    expect(ha('sensor', 'yard_label')).toBeUndefined();
    expect(ha('sensor', 'label')).toBeUndefined();
  });

  it('the snapshot command takes a camera id', async () => {
    const replies = new Map<string, Record<string, unknown>>();
    const req = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    try {
      await req.subscribeAsync('test/r', { qos: 1 });
      req.on('message', (_t, p, packet) => replies.set(packet.properties!.correlationData!.toString(), JSON.parse(p.toString()) as Record<string, unknown>));
      const ask = async (body: string, corr: string) => {
        await req.publishAsync(`edgefit/${DEV}/cmd/snapshot`, body, { qos: 1, properties: { responseTopic: 'test/r', correlationData: Buffer.from(corr) } });
        return waitFor(() => replies.get(corr), `reply ${corr}`, 60_000);
      };
      expect(await ask('{"args":{"camera":"yard"}}', 's1')).toMatchObject({ ok: true, result: { topic: `edgefit/${DEV}/yard/snapshot` } });
      await waitFor(() => msgs.some((m) => m.topic === `edgefit/${DEV}/yard/snapshot` && m.payload[0] === 0xff && m.payload[1] === 0xd8), 'a JPEG on the yard snapshot topic');
      expect(await ask('{"args":{"camera":"attic"}}', 's2')).toMatchObject({ ok: false, error: { code: 'E_UNKNOWN_CAMERA' } });
    } finally {
      await req.endAsync();
    }
  });

  it('the RTSP camera going away leaves the others running, and it comes back with its server', async () => {
    await rtsp.stop();
    await waitFor(() => camTelemetry('door')?.status === 'offline', 'door reported offline', 120_000);
    // after door went offline, hall and yard still answer
    const hall = results('hall').length, yard = results('yard').length;
    await waitFor(() => results('hall').length >= hall + 3 && results('yard').length >= yard + 2, 'hall and yard results while door is offline', 120_000);
    expect(camTelemetry('door')?.status).toBe('offline');
    expect(msgs.some((m) => m.topic === `edgefit/${DEV}/event` && (JSON.parse(m.payload.toString()) as { message: string }).message.startsWith('door offline'))).toBe(true);

    await rtsp.restart();
    const door = results('door').length;
    await waitFor(() => results('door').length >= door + 3, 'door results after its server came back', 180_000);
    await waitFor(() => camTelemetry('door')?.status === 'running', 'door reported running again', 60_000);
    expect(daemon.proc.exitCode).toBeNull();
  }, 400_000);
});
