import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { projectRoot } from '../../src/util/paths.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { discoveryMessages, labelObjectId } from '../../src/mqtt/discovery.js';

const published = JSON.parse(readFileSync(join(projectRoot, 'schemas/mqtt/result.schema.json'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv({ strict: false }).compile(published);
const base = { deviceId: 'cam', session: 1, seq: 3, frameTs: 1_700_000_000_000, ts: '2026-12-04T18:00:00.000Z', variant: 'ssd', top: [], latencyMs: 40, inferMs: 30 };

describe('result payload of a detector (schemas/mqtt/result.schema.json)', () => {
  it('accepts detections with normalized boxes and counts by label; a classifier\'s result stays valid', () => {
    const ok = { ...base, detections: [{ label: 'person', index: 0, score: 0.83, box: [0.1, 0.2, 0.9, 0.6] }, { label: 'traffic light', index: 9, score: 0.5, box: [0, 0, 1, 1] }], counts: { person: 1, 'traffic light': 1 } };
    expect(validate(ok), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...base, detections: [], counts: {} })).toBe(true);
    expect(validate({ ...base, top: [{ index: 1, label: 'tabby', score: 0.9 }] })).toBe(true);
  });

  it.each([
    ['a box outside the frame', { detections: [{ label: 'person', index: 0, score: 0.8, box: [0.1, 0.2, 1.2, 0.6] }] }],
    ['a box of three numbers', { detections: [{ label: 'person', index: 0, score: 0.8, box: [0.1, 0.2, 0.6] }] }],
    ['a detection without a label', { detections: [{ index: 0, score: 0.8, box: [0.1, 0.2, 0.5, 0.6] }] }],
    ['a score above 1', { detections: [{ label: 'person', index: 0, score: 3, box: [0.1, 0.2, 0.5, 0.6] }] }],
    ['an unknown field in a detection', { detections: [{ label: 'person', index: 0, score: 0.8, box: [0.1, 0.2, 0.5, 0.6], mask: [] }] }],
    ['a count of zero (labels not seen are absent)', { counts: { person: 0 } }],
    ['a fractional count', { counts: { person: 1.5 } }],
  ])('refuses %s', (_what, extra) => {
    expect(validate({ ...base, ...extra })).toBe(false);
  });
});

describe('Home Assistant discovery of a detector', () => {
  const topics = deviceTopics('edgefit', 'cam');
  const info = { version: '1', board: 'x86' };
  const byTopic = (msgs: { topic: string; payload: string }[]) => new Map(msgs.map((m) => [m.topic, m.payload]));

  it('a binary sensor "<label> detected" and a count sensor per watched label; the classifier sensors are removed', () => {
    const m = byTopic(discoveryMessages('homeassistant', 'cam', topics, { ...info, task: 'detection', watchLabels: ['person', 'traffic light'] }));
    const person = JSON.parse(m.get('homeassistant/binary_sensor/edgefit_cam/person_detected/config')!);
    expect(person).toMatchObject({ name: 'person detected', state_topic: 'edgefit/cam/result', unique_id: 'edgefit_cam_person_detected', device_class: 'occupancy' });
    expect(person.value_template).toContain('value_json.counts["person"]');
    const count = JSON.parse(m.get('homeassistant/sensor/edgefit_cam/traffic_light_count/config')!);
    expect(count).toMatchObject({ name: 'traffic light count', state_topic: 'edgefit/cam/result', state_class: 'measurement' });
    expect(count.value_template).toContain('value_json.counts["traffic light"]');
    expect(m.has('homeassistant/binary_sensor/edgefit_cam/traffic_light_detected/config')).toBe(true);
    // removals: an empty retained config deletes the entity in Home Assistant
    expect(m.get('homeassistant/sensor/edgefit_cam/label/config')).toBe('');
    expect(m.get('homeassistant/sensor/edgefit_cam/score/config')).toBe('');
    expect(m.get('homeassistant/sensor/edgefit_cam/latency/config')).not.toBe('');
  });

  it('a classifier removes the detection entities of the watched labels (the task changed)', () => {
    const m = byTopic(discoveryMessages('homeassistant', 'cam', topics, { ...info, watchLabels: ['person'] }));
    expect(m.get('homeassistant/binary_sensor/edgefit_cam/person_detected/config')).toBe('');
    expect(m.get('homeassistant/sensor/edgefit_cam/person_count/config')).toBe('');
    expect(JSON.parse(m.get('homeassistant/sensor/edgefit_cam/label/config')!).name).toBe('Top label');
  });

  it('labels become topic levels of [a-z0-9_] only, never a wildcard or a separator', () => {
    expect(labelObjectId('Traffic Light')).toBe('traffic_light');
    expect(labelObjectId('a/+#b')).toBe('a_b');
    expect(labelObjectId('人')).toMatch(/^label_[0-9a-f]{8}$/);
    expect(labelObjectId('人')).not.toBe(labelObjectId('猫'));
  });
});
