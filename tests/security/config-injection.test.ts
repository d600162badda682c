import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadConfig, redactConfig } from '../../src/config/index.js';
import { deviceTopics, discoveryTopic } from '../../src/mqtt/topics.js';
import { EdgefitError } from '../../src/util/errors.js';
import { projectRoot } from '../../src/util/paths.js';

const host = { hostname: 'test-host', isRoot: false, home: tmpdir() };
const dir = mkdtempSync(join(tmpdir(), 'edgefit-inject-'));

function refused(fn: () => unknown): EdgefitError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefitError);
    return err as EdgefitError;
  }
  throw new Error('was accepted');
}

// every way a name could widen a subscription or leave its own tree
const badLevels = ['a+b', 'cam#', 'a/b', '+', '#', 'nul\u0000x', 'esc\u001b[31m', 'tab\tx', 'nl\nx', 'sp ace', 'del\u007f', 'rtl\u202eevil', 'é', 'x'.repeat(65)];
const badPrefixes = ['a/+/b', 'edgefit/#', '/edgefit', 'edgefit/', 'a//b', 'a/b/c/d/e', `${'p'.repeat(65)}`, 'nul\u0000', 'ctl\u0007x'];

describe('topic injection is refused at configuration time', () => {
  it.each(badLevels)('deviceId %j: refused from a file, the environment and a flag, naming the field', (bad) => {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ deviceId: bad }));
    for (const e of [
      refused(() => loadConfig({ file, env: {}, host })),
      refused(() => loadConfig({ env: { EDGEFIT_DEVICE_ID: bad }, host })),
      refused(() => loadConfig({ env: {}, overrides: { deviceId: bad }, host })),
    ]) {
      expect(e.code).toBe('E_CONFIG');
      expect(e.message).toMatch(/deviceId must be/);
      // the message never echoes raw control characters into a terminal or a log line
      expect(e.message).not.toMatch(/[\u0000\u0007\u001b]/);
    }
  });

  it.each(badPrefixes)('mqtt.prefix / homeAssistant.prefix %j: refused', (bad) => {
    expect(refused(() => loadConfig({ env: { EDGEFIT_MQTT_PREFIX: bad }, host })).message).toMatch(/mqtt\.prefix must be topic levels/);
    expect(refused(() => loadConfig({ env: {}, overrides: { 'mqtt.homeAssistant.prefix': bad }, host })).message).toMatch(/mqtt\.homeAssistant\.prefix must be/);
  });

  it('what the loader accepts, the topic builder accepts (no late surprise at daemon start)', () => {
    for (const prefix of ['edgefit', 'site-1/floor.2/edgefit', 'a/b/c/d', 'p'.repeat(64)]) {
      for (const id of ['cam-1', 'x', 'a.b_c-d', 'd'.repeat(64)]) {
        const { config } = loadConfig({ env: { EDGEFIT_MQTT_PREFIX: prefix, EDGEFIT_DEVICE_ID: id }, host });
        const t = deviceTopics(config.mqtt.prefix, config.deviceId);
        expect(t.result).toBe(`${prefix}/${id}/result`);
        expect(discoveryTopic(config.mqtt.homeAssistant.prefix, 'sensor', config.deviceId, 'latency')).toBe(`homeassistant/sensor/edgefit_${id}/latency/config`);
      }
    }
  });

  it('a host name full of odd characters becomes a safe automatic deviceId', () => {
    const { config } = loadConfig({ env: {}, host: { ...host, hostname: 'my+host#1/x\u0000y' } });
    expect(config.deviceId).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
    expect(() => deviceTopics('edgefit', config.deviceId)).not.toThrow();
  });

  it('the topic builder itself refuses the same levels (defence in depth), and an unknown verb never becomes a reply level', () => {
    for (const bad of badLevels) expect(() => deviceTopics('edgefit', bad)).toThrow(EdgefitError);
    for (const bad of badPrefixes) expect(() => deviceTopics(bad, 'cam')).toThrow(EdgefitError);
    const t = deviceTopics('edgefit', 'cam');
    expect(t.reply('../x/#')).toBe('edgefit/cam/reply/invalid');
    expect(t.reply('a+b')).toBe('edgefit/cam/reply/invalid');
    expect(() => t.command('pause/x' as never)).toThrow(EdgefitError);
  });
});

// a broker password lives in mqtt.password or inside mqtt.url (mqtt://user:secret@host); neither may reach a
// terminal, a log or a bug report through `config --print` or a configuration error
describe('broker secrets never leave through config output or errors', () => {
  const cli = join(projectRoot, 'bin', 'edgefit.js');
  const env = { PATH: process.env.PATH ?? '', HOME: tmpdir(), ...(process.env.EDGEFIT_TEST_DIST ? { EDGEFIT_TEST_DIST: process.env.EDGEFIT_TEST_DIST } : {}) };
  const urls = [
    'mqtt://alice:hunter2@broker.local:1883',
    'mqtts://alice:hunter2@broker.local:8883',
    'wss://alice:hunter2@broker.local:443/mqtt',
    'mqtt://alice:hun@ter2@broker.local:1883',
    'mqtt://alice:hun%2Fter2@broker.local:1883',
  ];

  it('a password with a raw "/" (which makes the URL host "alice", port "hun") is refused with it redacted, and how to write it', () => {
    const r = spawnSync(process.execPath, [cli, 'config', '--print'], { env: { ...env, EDGEFIT_MQTT_URL: 'mqtt://alice:hun/ter2@broker.local:1883' }, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('mqtt.url must be a broker URL');
    expect(r.stderr).toContain('%2F');
    expect(r.stderr + r.stdout).not.toMatch(/ter2/);
  });

  it.each(urls)('config --print (text and --json) shows %j with its password as ***', (url) => {
    for (const json of [false, true]) {
      const r = spawnSync(process.execPath, [cli, 'config', '--print', ...(json ? ['--json'] : [])], { env: { ...env, EDGEFIT_MQTT_URL: url }, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).not.toMatch(/ter2/);
      expect(r.stdout).toContain('alice:***@broker.local');
    }
  });

  it('a refused mqtt.url is named without its password, from the environment, a file and a flag', () => {
    const bad = 'mqtt://alice:hunter2@broker local:1883';
    const file = join(dir, 'url.json');
    writeFileSync(file, JSON.stringify({ mqtt: { url: bad } }));
    for (const e of [
      refused(() => loadConfig({ env: { EDGEFIT_MQTT_URL: bad }, host })),
      refused(() => loadConfig({ file, env: {}, host })),
      refused(() => loadConfig({ env: {}, overrides: { 'mqtt.url': 'alice:hunter2@broker.local:1883' }, host })),
    ]) {
      expect(e.message).toMatch(/mqtt\.url must be/);
      expect(e.message).not.toContain('hunter2');
      expect(e.message).toContain('alice:***@broker');
    }
  });

  it('camera.source and models.mirror URLs are shown without their passwords; paths with @ are left alone', () => {
    const r = spawnSync(process.execPath, [cli, 'config', '--print', '--json'], {
      env: { ...env, EDGEFIT_CAMERA_SOURCE: 'rtsp://admin:hunter2@10.0.0.5:554/s', EDGEFIT_MODELS_MIRROR: 'https://ci:hunter3@mirror.local/m' }, encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/hunter/);
    const out = JSON.parse(r.stdout) as { config: { camera: { source: string }; models: { mirror: string } } };
    expect(out.config.camera.source).toBe('rtsp://admin:***@10.0.0.5:554/s');
    expect(out.config.models.mirror).toBe('https://ci:***@mirror.local/m');
    const bad = refused(() => loadConfig({ env: { EDGEFIT_CAMERA_SOURCE: 'rtsp://admin:hunter2@10.0.0.5 /s' }, host }));
    expect(bad.message).toMatch(/camera\.source must be/);
    expect(bad.message).not.toContain('hunter2');
    const { config } = loadConfig({ env: { EDGEFIT_CAMERA_SOURCE: 'folder:/srv/me@home/frames' }, host });
    expect(JSON.stringify(redactConfig(config))).toContain('folder:/srv/me@home/frames');
  });

  it('a password of the wrong type (a YAML number) is refused without echoing it', () => {
    const file = join(dir, 'pw.yaml');
    writeFileSync(file, 'mqtt:\n  password: 73914\n');
    const e = refused(() => loadConfig({ file, env: {}, host }));
    expect(e.message).toMatch(/mqtt\.password must be a string/);
    expect(e.message).not.toContain('73914');
  });

  it('the CLI\'s own error output for a refused mqtt.url carries no password', () => {
    const r = spawnSync(process.execPath, [cli, 'config', '--print'], { env: { ...env, EDGEFIT_MQTT_URL: 'ftp://alice:hunter2@broker.local' }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('mqtt.url must be');
    expect(r.stderr).not.toContain('hunter2');
  });
});
