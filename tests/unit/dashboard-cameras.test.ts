import { describe, expect, it } from 'vitest';
import { FleetStore } from '../../src/dashboard/store.js';
import { MAX_DEVICE_CAMERAS, MAX_TEXT, validateMessage, type Inbound } from '../../src/dashboard/validate.js';
import { loadRecording } from '../helpers/recorded-device.js';
import { mutate, numbersIn, rng, type Json } from '../helpers/hostile.js';

/**
 * Issue 18, the dashboard: a device with several cameras sends the joint choice in `model.cameras`, per-camera
 * figures in `telemetry.cameras` and results on <prefix>/<device>/<camera>/result. Every field is bounded at ingest
 * (the published schemas, the topic-level rule for camera ids), a device keeps at most MAX_DEVICE_CAMERAS cameras
 * whatever its result topics name, and the cameras become rows under their device.
 */
const rec = loadRecording();
const T0 = 1_800_000_000_000;
const DEV = 'shop-1';

const camModel = (id: string, variant = 'mobilenet_v2_0.35_96-int8') => ({
  id, variant, task: 'classification', provider: 'cpu', threads: 1, fps: 5, reason: 'best accuracy that fits with the others', priority: 1, budgetMs: 200,
  predictedP90Ms: 40, demand: 0.2, resolution: 96,
});
const camTelemetry = (id: string, status: 'running' | 'offline' = 'running') => ({
  id, variant: 'mobilenet_v2_0.35_96-int8', fps: 4.9, p90Ms: 38.5, dropped: 2, status, inferred: 100, restarts: 0, droppedTotal: 7,
});
const joint = { feasible: true, rule: 'lexicographic by priority', cores: 2, slowdown: 0.1, capacity: 1.8, demand: 0.6, memoryMb: 60, verifiedRounds: 1, met: true };

const modelBody = (cameras: unknown[], id = DEV) => ({ ...rec.model, session: 1, deviceId: id, cameras, joint });
const telemetryBody = (cameras: unknown[] | undefined, id = DEV) => {
  const t: Record<string, unknown> = { ...rec.telemetry[1]!.payload, deviceId: id };
  if (cameras) t.cameras = cameras;
  return t;
};
const resultBody = (camera: string | undefined, label = 'tabby') => {
  const r: Record<string, unknown> = { ...rec.results[0]!.payload, deviceId: DEV, top: [{ index: 281, label, score: 0.8 }] };
  if (camera !== undefined) r.camera = camera;
  return r;
};

const raw = (topic: string, body: unknown) => validateMessage('edgefit', `edgefit/${topic}`, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
function ok(topic: string, body: unknown): Inbound {
  const m = raw(topic, body);
  if ('reason' in m) throw new Error(`${topic}: ${m.reason} ${m.detail}`);
  return m;
}
const three = ['door', 'till', 'yard'];

describe('camera fields at ingest', () => {
  it('accepts the per-camera model, telemetry and results of a device with several cameras', () => {
    const m = ok(`${DEV}/model`, modelBody(three.map((c) => camModel(c))));
    expect(m.kind === 'model' && m.payload.cameras?.map((c) => c.id)).toEqual(three);
    const t = ok(`${DEV}/telemetry`, telemetryBody(three.map((c) => camTelemetry(c))));
    expect(t.kind === 'telemetry' && t.payload.cameras).toHaveLength(3);
    expect(ok(`${DEV}/till/result`, resultBody('till'))).toMatchObject({ kind: 'result', deviceId: DEV, camera: 'till' });
    // one camera: the device's own result topic, no camera named
    expect(ok(`${DEV}/result`, resultBody(undefined))).not.toHaveProperty('camera');
  });

  const refused: [string, string, unknown, string][] = [
    ['model', 'too many cameras', modelBody(Array.from({ length: MAX_DEVICE_CAMERAS + 1 }, (_, i) => camModel(`c${i}`))), 'shape'],
    ['telemetry', 'too many cameras', telemetryBody(Array.from({ length: MAX_DEVICE_CAMERAS + 1 }, (_, i) => camTelemetry(`c${i}`))), 'shape'],
    ['model', 'fps 1.7e308', modelBody([{ ...camModel('a'), fps: 1.7e308 }]), 'shape'],
    ['model', 'threads 1e6', modelBody([{ ...camModel('a'), threads: 1e6 }]), 'shape'],
    ['model', 'a negative predicted p90', modelBody([{ ...camModel('a'), predictedP90Ms: -1 }]), 'shape'],
    ['model', 'a fractional thread', modelBody([{ ...camModel('a'), threads: 1.5 }]), 'shape'],
    ['model', 'an unknown task', modelBody([{ ...camModel('a'), task: 'segmentation' }]), 'shape'],
    ['model', 'an id with a slash', modelBody([camModel('a/b')]), 'shape'],
    ['model', 'an empty id', modelBody([camModel('')]), 'shape'],
    ['model', 'a 65-character id', modelBody([camModel('x'.repeat(65))]), 'shape'],
    ['model', 'an id with a wildcard', modelBody([camModel('#')]), 'shape'],
    ['model', 'an extra field', modelBody([{ ...camModel('a'), html: '<b>' }]), 'shape'],
    ['model', 'a camera that is not an object', modelBody(['door']), 'shape'],
    ['telemetry', 'fps 1e308', telemetryBody([{ ...camTelemetry('a'), fps: 1e308 }]), 'shape'],
    ['telemetry', 'p90 over 1e6 ms', telemetryBody([{ ...camTelemetry('a'), p90Ms: 1e6 + 1 }]), 'shape'],
    ['telemetry', 'dropped 2^53 + 2', telemetryBody([{ ...camTelemetry('a'), dropped: 2 ** 53 + 2 }]), 'shape'],
    ['telemetry', 'dropped -1', telemetryBody([{ ...camTelemetry('a'), dropped: -1 }]), 'shape'],
    ['telemetry', 'an unknown status', telemetryBody([{ ...camTelemetry('a'), status: 'exploded' }]), 'shape'],
    ['telemetry', 'a unicode id', telemetryBody([camTelemetry('kamera-ü')]), 'shape'],
    ['telemetry', 'cameras not a list', telemetryBody({ a: 1 } as unknown as unknown[]), 'shape'],
  ];
  it.each(refused)('refuses a %s with %s', (kind, _what, body, reason) => {
    expect(raw(`${DEV}/${kind}`, body)).toMatchObject({ reason });
  });

  it('refuses a number literal that JSON.parse turns into Infinity inside a camera', () => {
    const text = JSON.stringify(telemetryBody([camTelemetry('a')])).replace('"p90Ms":38.5', '"p90Ms":1e400');
    expect(text).toContain('1e400');
    expect(raw(`${DEV}/telemetry`, text)).toMatchObject({ reason: 'shape' });
  });

  it('a camera result topic: the camera level follows the topic-level rule, is none of the device\'s own topics, and is the payload\'s camera', () => {
    expect(raw(`${DEV}/${'x'.repeat(65)}/result`, resultBody('x'.repeat(65)))).toMatchObject({ reason: 'camera-id' });
    expect(raw(`${DEV}/kamera-ü/result`, resultBody('kamera-ü'))).toMatchObject({ reason: 'camera-id' });
    // <device>/cmd/result is a command named "result", and the other levels are the device's own topics
    for (const own of ['cmd', 'status', 'model', 'telemetry', 'event', 'snapshot', 'result']) {
      expect(raw(`${DEV}/${own}/result`, resultBody(own)), own).toMatchObject({ reason: 'camera-id' });
    }
    expect(raw(`${DEV}/door/result`, resultBody(undefined))).toMatchObject({ reason: 'mismatch' });
    expect(raw(`${DEV}/door/result`, resultBody('till'))).toMatchObject({ reason: 'mismatch' });
    expect(raw(`${DEV}/result`, resultBody('door'))).toMatchObject({ reason: 'mismatch' });
    // only results have a level per camera
    expect(raw(`${DEV}/door/telemetry`, telemetryBody(undefined))).toMatchObject({ reason: 'topic' });
    expect(raw(`${DEV}/door/x/result`, resultBody('door'))).toMatchObject({ reason: 'topic' });
    expect(raw(`bad id/door/result`, resultBody('door'))).toMatchObject({ reason: 'device-id' });
  });

  it('keeps the first of a repeated camera id, and cuts free text', () => {
    const long = 'ß'.repeat(1000);
    const m = ok(`${DEV}/model`, modelBody([{ ...camModel('door'), reason: long, variant: long, provider: long, misses: Array(20).fill(long) }, camModel('door', 'second'), camModel('till')]));
    if (m.kind !== 'model') throw new Error('not a model');
    expect(m.payload.cameras!.map((c) => [c.id, c.variant.length])).toEqual([['door', MAX_TEXT], ['till', 'mobilenet_v2_0.35_96-int8'.length]]);
    const door = m.payload.cameras![0]!;
    expect([door.reason.length, door.provider.length, door.misses!.length, door.misses![0]!.length]).toEqual([MAX_TEXT, MAX_TEXT, 8, MAX_TEXT]);
    const t = ok(`${DEV}/telemetry`, telemetryBody([camTelemetry('a'), { ...camTelemetry('a'), status: 'offline' }, { ...camTelemetry('b'), variant: long }]));
    if (t.kind !== 'telemetry') throw new Error('not telemetry');
    expect(t.payload.cameras!.map((c) => [c.id, c.status, c.variant.length])).toEqual([['a', 'running', 25], ['b', 'running', MAX_TEXT]]);
  });

  it('random mutations of camera payloads: each is refused or accepted with finite, bounded numbers and at most MAX_DEVICE_CAMERAS cameras', () => {
    const r = rng(0x18ca);
    const bases: [string, Json][] = [
      // two candidates, not the recording's ladder: the mutations go to the cameras more often, and stay quick
      [`${DEV}/model`, { ...modelBody(three.map((c) => camModel(c))), candidates: rec.model.candidates.slice(0, 2) } as unknown as Json],
      [`${DEV}/telemetry`, telemetryBody(three.map((c) => camTelemetry(c))) as unknown as Json],
      [`${DEV}/door/result`, resultBody('door') as unknown as Json],
    ];
    const counts = { accepted: 0, refused: 0 };
    // (the mutation generator walks every path of a payload it has multiplied: a few hundred cases are what it affords)
    for (let i = 0; i < 150; i++) {
      const [topic, base] = bases[i % bases.length]!;
      const m = mutate(r, base);
      const out = validateMessage('edgefit', `edgefit/${topic}`, Buffer.from(m.text));
      if ('reason' in out || out.kind === 'cleared') { counts.refused++; continue; }
      counts.accepted++;
      const name = `case ${i} (${topic}: ${m.what})`;
      expect(numbersIn(out.payload).filter((x) => !Number.isFinite(x) || Math.abs(x) > 8.64e15), name).toEqual([]);
      const cams = (out.payload as { cameras?: { id: string }[] }).cameras;
      if (cams) {
        expect(cams.length, name).toBeLessThanOrEqual(MAX_DEVICE_CAMERAS);
        expect(cams.every((c) => /^[A-Za-z0-9._-]{1,64}$/.test(c.id)), name).toBe(true);
      }
    }
    expect(counts.accepted).toBeGreaterThan(5);
    expect(counts.refused).toBeGreaterThan(30);
  });
});

describe('cameras in the store: rows under their device', () => {
  it('the joint choice and the live figures of each camera, in the configured order; a result lands on its camera', () => {
    const s = new FleetStore();
    s.apply(ok(`${DEV}/model`, modelBody([camModel('yard', 'v-yard'), camModel('door', 'v-door'), camModel('till', 'v-till')])), T0, false);
    expect(s.row(DEV)!.cameras!.map((c) => [c.id, c.variant, c.targetFps, c.status])).toEqual([['yard', 'v-yard', 5, undefined], ['door', 'v-door', 5, undefined], ['till', 'v-till', 5, undefined]]);
    s.apply(ok(`${DEV}/telemetry`, telemetryBody([camTelemetry('door'), { ...camTelemetry('till', 'offline'), variant: 'v-smaller' }, camTelemetry('yard')])), T0 + 1000, true);
    s.apply(ok(`${DEV}/door/result`, resultBody('door', 'person')), T0 + 1100, true);
    const row = s.row(DEV)!;
    expect(row.cameras!.map((c) => [c.id, c.variant, c.status, c.fps, c.p90, c.dropped])).toEqual([
      ['yard', 'mobilenet_v2_0.35_96-int8', 'running', 4.9, 38.5, 2],
      ['door', 'mobilenet_v2_0.35_96-int8', 'running', 4.9, 38.5, 2],
      // the telemetry's variant is the live one (a step down after the model was published)
      ['till', 'v-smaller', 'offline', 4.9, 38.5, 2],
    ]);
    expect(row.cameras![1]).toMatchObject({ task: 'classification', provider: 'cpu', threads: 1, reason: 'best accuracy that fits with the others', result: { label: 'person', score: 0.8, camera: 'door' } });
    // the device's newest result names its camera
    expect(row.result).toMatchObject({ label: 'person', camera: 'door' });
    // and the JSON API's detail carries them (the row is what /api/devices and /api/device/<id> send)
    expect(JSON.parse(JSON.stringify(s.detail(DEV))).row.cameras).toHaveLength(3);
  });

  it('a camera neither the model nor the telemetry names any more is forgotten; one camera again means no camera rows', () => {
    const s = new FleetStore();
    s.apply(ok(`${DEV}/model`, modelBody(three.map((c) => camModel(c)))), T0, false);
    s.apply(ok(`${DEV}/telemetry`, telemetryBody(three.map((c) => camTelemetry(c)))), T0, true);
    s.apply(ok(`${DEV}/model`, modelBody([camModel('door'), camModel('till')])), T0 + 1, true);
    // yard is still in the telemetry: kept, without the model's fields
    expect(s.row(DEV)!.cameras!.map((c) => [c.id, c.task])).toEqual([['door', 'classification'], ['till', 'classification'], ['yard', undefined]]);
    s.apply(ok(`${DEV}/telemetry`, telemetryBody([camTelemetry('door'), camTelemetry('till')])), T0 + 2, true);
    expect(s.row(DEV)!.cameras!.map((c) => c.id)).toEqual(['door', 'till']);
    // the device restarted with one camera: its telemetry and model name none
    s.apply(ok(`${DEV}/telemetry`, telemetryBody(undefined)), T0 + 3, true);
    expect(s.row(DEV)!.cameras!.map((c) => [c.id, c.status])).toEqual([['door', undefined], ['till', undefined]]);
    s.apply(ok(`${DEV}/model`, { ...rec.model, session: 1, deviceId: DEV }), T0 + 4, true);
    expect(s.row(DEV)).not.toHaveProperty('cameras');
    // a cleared retained model takes the model's cameras with it
    s.apply(ok(`${DEV}/model`, modelBody([camModel('door')])), T0 + 5, true);
    expect(s.row(DEV)!.cameras).toHaveLength(1);
    s.apply(ok(`${DEV}/model`, ''), T0 + 6, true);
    expect(s.row(DEV)).not.toHaveProperty('cameras');
  });

  it(`results naming made-up cameras: at most ${MAX_DEVICE_CAMERAS} per device, the rest refused and counted, and gone with the next telemetry`, () => {
    const s = new FleetStore();
    let applied = 0;
    for (let i = 0; i < 40; i++) if (s.apply(ok(`${DEV}/fake${i}/result`, resultBody(`fake${i}`)), T0 + i, true)) applied++;
    expect(applied).toBe(MAX_DEVICE_CAMERAS);
    expect(s.row(DEV)!.cameras).toHaveLength(MAX_DEVICE_CAMERAS);
    expect(s.refusedCameras).toBe(40 - applied);
    // a refused camera's result is not the device's newest either
    expect(s.row(DEV)!.result).toMatchObject({ camera: `fake${applied - 1}` });
    // the device's own lists have room whatever results named: a named camera displaces a result-only one
    s.apply(ok(`${DEV}/model`, modelBody(Array.from({ length: MAX_DEVICE_CAMERAS }, (_, i) => camModel(`real${i}`)))), T0 + 100, true);
    expect(s.row(DEV)!.cameras!.map((c) => c.id)).toEqual([...Array.from({ length: MAX_DEVICE_CAMERAS }, (_, i) => `real${i}`)]);
    expect(s.refusedCameras).toBe(40 - applied);
    // model and telemetry naming 32 different cameras between them: still MAX_DEVICE_CAMERAS, the rest counted
    s.apply(ok(`${DEV}/telemetry`, telemetryBody(Array.from({ length: MAX_DEVICE_CAMERAS }, (_, i) => camTelemetry(`other${i}`)))), T0 + 200, true);
    expect(s.row(DEV)!.cameras).toHaveLength(MAX_DEVICE_CAMERAS);
    expect(s.refusedCameras).toBe(40 - applied + MAX_DEVICE_CAMERAS);
  });
});
