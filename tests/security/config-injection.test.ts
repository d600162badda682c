import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { deviceTopics, discoveryTopic } from '../../src/mqtt/topics.js';
import { EdgefitError } from '../../src/util/errors.js';

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
