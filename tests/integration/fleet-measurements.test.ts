import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Ajv } from 'ajv';
import { DaemonProcess, pulledState, copyState, fewRunsProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { sharedData } from '../../src/util/paths.js';
import { payloadSchemas } from '../../src/mqtt/schemas.js';
import { fleetMeasurementSchema } from '../../src/mqtt/fleet-schemas.js';
import { fingerprintLevel } from '../../src/mqtt/topics.js';
import { waitFor } from '../helpers/wait.js';

const ajv = new Ajv({ strict: false });
const validModel = ajv.compile(payloadSchemas.model);
const validFleet = ajv.compile(fleetMeasurementSchema);

interface Msg { topic: string; payload: Buffer }

/**
 * Issue 19, shared measurements, end to end: device A (real daemon, real models, real mosquitto) profiles and
 * shares; hostile entries and 10,000 entries of other boards are retained beside them; device B, a new device
 * of the same fingerprint with an empty profile cache, seeds from A's figures, confirms its pick with one
 * measurement of its own, runs, and says in its `model` payload which figures were whose.
 */
describe('shared measurements between devices of one fingerprint (real mosquitto, real daemons)', () => {
  let broker: Mosquitto;
  let sub: MqttClient;
  let state: string;
  const msgs: Msg[] = [];
  const daemons: DaemonProcess[] = [];
  const models = (id: string) => msgs.filter((m) => m.topic === `edgefit/${id}/model`).map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>);
  const camera = `folder:${join(sharedData, 'images/test')}`;
  // a budget every rung fits: the choice is the most accurate rung whatever the load, so A and B must agree
  const common = ['--broker', '', '--camera', camera, '--set', 'camera.fps=4', '--set', 'mqtt.results.mode=every', '--set', 'budget.latencyMs=5000', ...fewRunsProfile];

  beforeAll(async () => {
    state = await pulledState(['mobilenet_v1-0.25-128-int8', 'mobilenet_v1-0.5-160-int8']);
    broker = await Mosquitto.start();
    common[1] = broker.url;
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (topic, payload) => msgs.push({ topic, payload: Buffer.from(payload) }));
    await sub.subscribeAsync(['edgefit/+/model', 'edgefit/fleet/measurements/#'], { qos: 1 });
  }, 180_000);

  afterAll(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await sub?.endAsync();
    await broker?.stop();
  });

  it('A shares, B seeds from it, confirms with one own measurement, picks the same, and refuses hostile entries', async () => {
    const a = new DaemonProcess([...common, '--device-id', 'dev-a', '--state-dir', copyState(state), '--set', 'fleet.shareMeasurements=true']);
    daemons.push(a);
    await waitFor(() => models('dev-a').length > 0, 'A\'s model', 180_000);
    const shared = () => msgs.filter((m) => m.topic.startsWith('edgefit/fleet/measurements/'));
    await waitFor(() => shared().length >= 1, 'A\'s shared measurements', 60_000);
    const aModel = models('dev-a').at(-1)!;
    expect(aModel.fleet).toBeUndefined();
    await a.stop();
    const entries = shared().map((m) => ({ topic: m.topic, body: JSON.parse(m.payload.toString()) as Record<string, unknown> & { board: string; key: Record<string, unknown>; measurement: Record<string, number> } }));
    for (const e of entries) expect(validFleet(e.body), JSON.stringify(validFleet.errors)).toBe(true);
    const board = entries[0]!.body.board;
    const fp = fingerprintLevel(board);
    expect(entries.every((e) => e.topic.startsWith(`edgefit/fleet/measurements/${fp}/`))).toBe(true);
    expect(entries.length).toBe(Number(aModel.measured));

    // a hostile device writes into this fingerprint's subtree: an absurd value, inconsistent figures, another
    // fingerprint in the payload; and 10,000 entries of other boards sit beside them (never read by B)
    const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const e0 = entries[0]!;
    const ort = e0.body.key.ortVersion as string;
    const liar = (sha: string) => `edgefit/fleet/measurements/${fp}/${ort}/${sha}/128/cpu/1`;
    const hostile = [
      { ...e0.body, key: { ...e0.body.key, sha256: 'e'.repeat(64) }, measurement: { ...e0.body.measurement, p90Ms: 1e-9 } },
      { ...e0.body, key: { ...e0.body.key, sha256: 'f'.repeat(64) }, measurement: { ...e0.body.measurement, p50Ms: 1e5 } },
      { ...e0.body, board: 'pi4_elsewhere', key: { ...e0.body.key, sha256: 'd'.repeat(64) } },
    ];
    for (const h of hostile) await pub.publishAsync(liar((h.key as { sha256: string }).sha256), JSON.stringify(h), { qos: 1, retain: true });
    const others: Promise<unknown>[] = [];
    for (let i = 0; i < 10_000; i++) {
      others.push(pub.publishAsync(`edgefit/fleet/measurements/fp-other${i % 100}/${ort}/${'a'.repeat(64)}/${96 + (i % 50)}/cpu/${1 + Math.floor(i / 5000)}`, JSON.stringify({ ...e0.body, board: `other-${i % 100}` }), { qos: 1, retain: true }));
    }
    await Promise.all(others);
    await pub.endAsync();

    const bState = copyState(state);
    const b = new DaemonProcess([...common, '--device-id', 'dev-b', '--state-dir', bState, '--set', 'fleet.useMeasurements=true']);
    daemons.push(b);
    await waitFor(() => models('dev-b').length > 0, 'B\'s model', 180_000);
    await b.waitFor(() => b.stdout.length > 0 || true, 'running');
    const bModel = models('dev-b').at(-1)!;
    expect(validModel(bModel), JSON.stringify(validModel.errors)).toBe(true);
    // the same choice as A's full profile
    expect((bModel.variant as { id: string }).id).toBe((aModel.variant as { id: string }).id);
    expect(bModel.threads).toBe(aModel.threads);
    const fleet = bModel.fleet as { fleetCandidates: number; ownCandidates: number; confirmed: string[]; chosenFigures: string; devices: string[]; refused: number };
    expect(fleet.chosenFigures).toBe('own');
    expect(fleet.confirmed.length).toBeGreaterThanOrEqual(1);
    expect(fleet.confirmed.length).toBeLessThanOrEqual(3);
    expect(fleet.devices).toEqual(['dev-a']);
    expect(fleet.refused).toBe(3);
    const cands = bModel.candidates as { id: string; chosen: boolean; figures?: string; p90Ms?: number }[];
    expect(cands.find((c) => c.chosen)!.figures).toBe('own');
    expect(cands.filter((c) => c.figures === 'fleet').length).toBe(fleet.fleetCandidates);
    // B measured only what it confirmed: its own profile cache holds those entries and nothing of the fleet's
    const cache = JSON.parse(readFileSync(join(bState, 'profile-cache.json'), 'utf8')) as { entries: Record<string, { measurement: { variantId: string; fromFleet?: string } }> };
    const own = Object.values(cache.entries);
    expect(own.length).toBe(fleet.confirmed.length);
    expect(own.every((e) => e.measurement.fromFleet === undefined)).toBe(true);
    // results flow
    await b.stop();
  }, 600_000);

  // runs after the test above: A's shared figures and the hostile entries are still retained on the broker
  it('a device with several cameras seeds every camera\'s selection from the same figures, read once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-fleet-cams-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({
      cameras: [
        { id: 'door', source: camera, fps: 2, task: 'classification', budget: { latencyMs: 5000 } },
        { id: 'hall', source: camera, fps: 1, task: 'classification', budget: { latencyMs: 5000 } },
      ],
    }));
    const cState = copyState(state);
    const c = new DaemonProcess(['--config', config, '--broker', broker.url, '--device-id', 'dev-c', '--state-dir', cState, '--set', 'mqtt.results.mode=every', ...fewRunsProfile, '--set', 'fleet.useMeasurements=true']);
    daemons.push(c);
    await waitFor(() => models('dev-c').length > 0, 'C\'s model', 300_000);
    const cModel = models('dev-c').at(-1)!;
    expect(validModel(cModel), JSON.stringify(validModel.errors)).toBe(true);
    type Use = { confirmed: string[]; chosenFigures: string; devices: string[]; refused: number };
    const cams = cModel.cameras as { id: string; fleet?: Use }[];
    expect(cams.map((x) => x.id)).toEqual(['door', 'hall']);
    for (const cam of cams) {
      expect(cam.fleet, `camera ${cam.id}`).toBeDefined();
      expect(cam.fleet!.refused).toBe(3);
    }
    // the top level is the first camera's, as the top-level variant is
    expect(cModel.fleet).toEqual(cams[0]!.fleet);
    expect(new Set(cams.flatMap((x) => x.fleet!.devices))).toEqual(new Set(['dev-a']));
    // the first camera confirmed its pick here; the second may find that figure already its own
    expect(cams[0]!.fleet!.confirmed.length).toBeGreaterThanOrEqual(1);
    // the fleet's figures are never written to C's own cache, and the read happened once (one log line)
    const cache = JSON.parse(readFileSync(join(cState, 'profile-cache.json'), 'utf8')) as { entries: Record<string, { measurement: { fromFleet?: string } }> };
    expect(Object.values(cache.entries).every((e) => e.measurement.fromFleet === undefined)).toBe(true);
    expect(c.stderr.split('fleet measurements of this board').length - 1).toBe(1);
    await c.stop();
  }, 600_000);
});
