import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, camerasOf, redactConfig, type LoadOptions } from '../../src/config/index.js';
import { EdgefitError } from '../../src/util/errors.js';
import { deviceTopics } from '../../src/mqtt/topics.js';
import { discoveryMessages } from '../../src/mqtt/discovery.js';

const host = { hostname: 'test-host', isRoot: false, home: '/home/u' };
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'edgefit-cams-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fileWith(cameras: unknown): string {
  const p = join(dir, `c${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify({ cameras }));
  return p;
}

function errorOf(opts: LoadOptions): string {
  try {
    loadConfig({ host, env: {}, ...opts });
  } catch (err) {
    expect((err as EdgefitError).code).toBe('E_CONFIG');
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(opts)}`);
}

describe('cameras: several cameras in the configuration', () => {
  it('the single camera form is one camera with id main, with the daemon-wide settings', () => {
    const { config } = loadConfig({ host, env: {}, overrides: { 'camera.source': 'synthetic', 'camera.fps': 7 } });
    const cams = camerasOf(config);
    expect(cams.map((c) => [c.id, c.fps, c.config.camera.source, c.priority])).toEqual([['main', 7, 'synthetic', 0]]);
  });

  it('each camera takes its own fields and the daemon-wide ones for the rest', () => {
    const file = fileWith([
      { id: 'door', source: 'rtsp://u:secret@10.0.0.5/s', fps: 4, task: 'detection', priority: 2, budget: { latencyMs: 300 }, results: { minScore: 0.3 } },
      { id: 'yard.2', source: 'lavfi:testsrc' },
    ]);
    const { config } = loadConfig({ host, env: {}, file, overrides: { 'camera.fps': 0, 'budget.fps': 3, 'mqtt.results.mode': 'every' } });
    const [door, yard] = camerasOf(config);
    expect(door!.config.camera).toMatchObject({ source: 'rtsp://u:secret@10.0.0.5/s', fps: 4, width: 640 });
    expect(door!.config.models.task).toBe('detection');
    expect(door!.config.budget).toMatchObject({ latencyMs: 300, fps: 3 });
    expect(door!.config.mqtt.results).toMatchObject({ minScore: 0.3, mode: 'every' });
    expect(door!.priority).toBe(2);
    // camera.fps 0 (the source's own rate): served at budget.fps
    expect(yard!.fps).toBe(3);
    expect(yard!.config.models.task).toBe(config.models.task);
    // a camera's credentials are redacted as camera.source's are
    expect(JSON.stringify(redactConfig(config))).not.toContain('secret');
  });

  it('refuses duplicate ids, ids that are not a topic level or are the device\'s own topics, with the file named', () => {
    const dup = fileWith([{ id: 'door', source: 'synthetic' }, { id: 'door', source: 'synthetic' }]);
    expect(errorOf({ file: dup })).toContain('cameras[1].id "door" is also the id of cameras[0]');
    expect(errorOf({ file: dup })).toContain(dup);
    const slash = fileWith([{ id: 'a/b', source: 'synthetic' }]);
    expect(errorOf({ file: slash })).toMatch(/cameras\[0\]\.id must be a topic level.*got "a\/b".*from /);
    expect(errorOf({ file: fileWith([{ id: 'a+', source: 'synthetic' }]) })).toContain('cameras[0].id must be a topic level');
    expect(errorOf({ file: fileWith([{ id: '', source: 'synthetic' }]) })).toContain('cameras[0].id');
    expect(errorOf({ file: fileWith([{ id: 'cmd', source: 'synthetic' }]) })).toContain('cameras[0].id must not be one of');
    expect(errorOf({ file: fileWith([{ source: 'synthetic' }]) })).toContain('cameras[0].id is missing');
    expect(errorOf({ file: fileWith([{ id: 'x', source: 'synthetic', fsp: 3 }]) })).toContain('cameras[0].fsp is not a setting');
  });

  it('refuses a camera left without a latency budget by its own fields over the daemon-wide ones', () => {
    // the camera's fps 0 over a daemon-wide latencyMs 0 (the default): nothing bounds that camera's latency
    const msg = errorOf({ file: fileWith([{ id: 'a', source: 'synthetic', budget: { fps: 0 } }]) });
    expect(msg).toContain('cameras[0].budget.latencyMs or .fps must be > 0 (both are 0: fps from the camera, the rest from budget.*)');
    expect(errorOf({ file: fileWith([{ id: 'a', source: 'synthetic', budget: { latencyMs: 0, fps: 0 } }]) })).toContain('both are 0: latencyMs and fps from the camera)');
    // a daemon-wide latency budget keeps it bounded
    const ok = loadConfig({ host, env: {}, file: fileWith([{ id: 'a', source: 'synthetic', budget: { fps: 0 } }]), overrides: { 'budget.latencyMs': '50' } });
    expect(camerasOf(ok.config)[0]!.config.budget).toMatchObject({ latencyMs: 50, fps: 0 });
  });

  it('takes the list from the environment as JSON', () => {
    const { config } = loadConfig({ host, env: { EDGEFIT_CAMERAS: '[{"id":"a","source":"synthetic"},{"id":"b","source":"synthetic","fps":1}]' } });
    expect(camerasOf(config).map((c) => c.id)).toEqual(['a', 'b']);
  });
});

describe('topics and Home Assistant entities per camera', () => {
  const topics = deviceTopics('edgefit', 'dev');

  it('a camera\'s result and snapshot topics are one level under the device; a bad id is refused', () => {
    expect(topics.cameraResult('door')).toBe('edgefit/dev/door/result');
    expect(topics.cameraSnapshot('door')).toBe('edgefit/dev/door/snapshot');
    expect(() => topics.cameraResult('a/#')).toThrow(/camera id/);
  });

  it('one set of entities per camera, unique ids with the camera id, the one-camera entities removed', () => {
    const msgs = new Map(discoveryMessages('homeassistant', 'dev', topics, {
      version: '1', board: 'x', watchLabels: ['person'], cameras: [{ id: 'door', task: 'classification' }, { id: 'yard', task: 'detection' }],
    }).map((m) => [m.topic, m.payload]));
    const entity = (component: string, id: string) => msgs.get(`homeassistant/${component}/edgefit_dev/${id}/config`);
    expect(JSON.parse(entity('sensor', 'door_label')!)).toMatchObject({ unique_id: 'edgefit_dev_door_label', state_topic: 'edgefit/dev/door/result' });
    expect(JSON.parse(entity('binary_sensor', 'yard_person_detected')!)).toMatchObject({ unique_id: 'edgefit_dev_yard_person_detected', state_topic: 'edgefit/dev/yard/result' });
    expect(JSON.parse(entity('sensor', 'yard_fps')!).value_template).toContain('"yard"');
    expect(entity('sensor', 'yard_label')).toBe('');
    expect(entity('binary_sensor', 'door_person_detected')).toBe('');
    expect(entity('sensor', 'label')).toBe('');
    expect(entity('sensor', 'fps')).toBe('');
    expect(JSON.parse(entity('binary_sensor', 'status')!).unique_id).toBe('edgefit_dev_status');
    const ids = [...msgs.values()].filter((p) => p !== '').map((p) => (JSON.parse(p) as { unique_id: string }).unique_id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
