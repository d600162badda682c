import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { Ajv } from 'ajv';
import { DaemonProcess, fastProfile } from '../helpers/daemon.js';
import { detectorState } from '../helpers/detector.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitFor, sleep } from '../helpers/wait.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import type { ResultPayload } from '../../src/mqtt/payloads.js';

/**
 * Issue 17, "Done when": a detector's results through a real mosquitto match their published JSON Schema, and
 * Home Assistant discovery announces a binary sensor and a count sensor per watched label; when the task changes
 * (the same device restarted as a classifier) those entities are removed (empty retained configs).
 */
const validate = new Ajv({ strict: false }).compile(JSON.parse(readFileSync(join(projectRoot, 'schemas/mqtt/result.schema.json'), 'utf8')));
const ha = (component: string, id: string) => `homeassistant/${component}/edgefit_cam-d/${id}/config`;

/** the retained messages a new subscriber gets, by topic */
async function retained(url: string, filter: string): Promise<Map<string, string>> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 5 });
  const got = new Map<string, string>();
  c.on('message', (topic, payload, packet) => { if (packet.retain) got.set(topic, payload.toString()); });
  await c.subscribeAsync(filter, { qos: 1 });
  await sleep(1000);
  await c.endAsync();
  return got;
}

describe('a detector over MQTT (real mosquitto, the test photos as camera)', () => {
  let broker: Mosquitto;
  let sub: MqttClient;
  let state: string;
  const msgs: { topic: string; payload: string; retain: boolean }[] = [];
  const results = () => msgs.filter((m) => m.topic === 'edgefit/cam-d/result').map((m) => JSON.parse(m.payload) as ResultPayload);
  const common = () => [
    '--broker', broker.url, '--device-id', 'cam-d', '--state-dir', state, ...fastProfile,
    '--set', 'budget.latencyMs=60000', '--camera', `folder:${join(sharedData, 'images/test')}`, '--set', 'camera.fps=6',
  ];

  beforeAll(async () => {
    state = await detectorState();
    broker = await Mosquitto.start();
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 100 });
    sub.on('message', (topic, payload, packet) => msgs.push({ topic, payload: payload.toString(), retain: packet.retain }));
    await sub.subscribeAsync(['edgefit/#', 'homeassistant/#'], { qos: 1 });
  }, 180_000);

  afterAll(async () => {
    await sub?.endAsync();
    await broker?.stop();
  });

  it('publishes schema-valid detection results on a change of labels or counts, and HA sensors per watched label', async () => {
    const d = new DaemonProcess([...common(), '--set', 'models.task=detection', '--set', 'mqtt.homeAssistant.watchLabels=person,dog', '--set', 'mqtt.results.maxRatePerSecond=100']);
    try {
      await d.waitFor(() => results().filter((r) => r.counts?.person).length >= 2 && results().some((r) => r.counts?.dog), 'results with a person and a dog', 240_000);
    } finally {
      await d.stop();
    }
    const rs = results();
    for (const r of rs) expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    expect(rs.every((r) => Array.isArray(r.detections) && r.counts !== undefined && r.top.length === 0)).toBe(true);
    expect(rs.flatMap((r) => r.detections!).every((x) => x.score >= 0.5)).toBe(true);
    // 'change' (the default): two results in a row never hold the same counts
    for (let i = 1; i < rs.length; i++) expect(rs[i]!.counts, `results ${i - 1} and ${i}`).not.toEqual(rs[i - 1]!.counts);

    const cfg = (topic: string) => msgs.filter((m) => m.topic === topic).at(-1);
    const person = cfg(ha('binary_sensor', 'person_detected'))!;
    expect(JSON.parse(person.payload)).toMatchObject({ name: 'person detected', state_topic: 'edgefit/cam-d/result', device_class: 'occupancy' });
    expect(JSON.parse(cfg(ha('sensor', 'person_count'))!.payload)).toMatchObject({ name: 'person count', state_topic: 'edgefit/cam-d/result' });
    expect(JSON.parse(cfg(ha('binary_sensor', 'dog_detected'))!.payload).name).toBe('dog detected');
    expect(JSON.parse(cfg(ha('sensor', 'dog_count'))!.payload).name).toBe('dog count');
    // a detector has no "Top label"/"Top score": removed
    expect(cfg(ha('sensor', 'label'))!.payload).toBe('');
    expect(cfg(ha('sensor', 'score'))!.payload).toBe('');
    const kept = await retained(broker.url, 'homeassistant/#');
    expect(kept.has(ha('binary_sensor', 'person_detected'))).toBe(true);
    expect(kept.has(ha('sensor', 'label'))).toBe(false);
  }, 300_000);

  it('restarted as a classifier, the device removes its detection entities, a dropped watched label included', async () => {
    msgs.length = 0;
    // watchLabels back to its default [person]: "dog" is known only from the record of what was announced
    const d = new DaemonProcess([...common(), '--set', 'models.task=classification']);
    try {
      await d.waitFor(() => results().length >= 1, 'a classifier result', 240_000);
      await waitFor(() => msgs.some((m) => m.topic === ha('binary_sensor', 'dog_detected')), 'the removal of dog_detected');
    } finally {
      await d.stop();
    }
    expect(results().at(-1)!.top.length).toBeGreaterThan(0);
    expect(results().at(-1)!.detections).toBeUndefined();
    const kept = await retained(broker.url, 'homeassistant/#');
    for (const id of ['person_detected', 'dog_detected']) expect(kept.has(ha('binary_sensor', id)), id).toBe(false);
    for (const id of ['person_count', 'dog_count']) expect(kept.has(ha('sensor', id)), id).toBe(false);
    expect(JSON.parse(kept.get(ha('sensor', 'label'))!).name).toBe('Top label');
  }, 300_000);
});
