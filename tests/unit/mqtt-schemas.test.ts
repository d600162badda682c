import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { schemaFiles } from '../../scripts/write-schemas.js';
import { projectRoot } from '../../src/util/paths.js';
import { deviceTopics, discoveryTopic } from '../../src/mqtt/topics.js';

describe('MQTT payload schemas', () => {
  it('the committed schemas/mqtt files are up to date (npm run build && node dist/scripts/write-schemas.js)', () => {
    for (const [f, text] of Object.entries(schemaFiles())) {
      expect(readFileSync(join(projectRoot, 'schemas', 'mqtt', f), 'utf8'), f).toBe(text);
    }
  });

  it('every schema compiles', () => {
    const ajv = new Ajv({ strict: false });
    for (const text of Object.values(schemaFiles())) expect(() => ajv.compile(JSON.parse(text))).not.toThrow();
  });
});

describe('topics', () => {
  it('refuse device ids and prefixes that would inject topic levels or wildcards', () => {
    for (const bad of ['a/b', 'a+', '#', 'a\u0000b', 'tab\there', '', 'x'.repeat(65), 'new\nline']) {
      expect(() => deviceTopics('edgefit', bad), JSON.stringify(bad)).toThrow(/deviceId/);
    }
    for (const bad of ['a/+', '#', '/lead', 'trail/', 'a//b']) expect(() => deviceTopics(bad, 'cam'), bad).toThrow(/mqtt.prefix/);
    expect(() => discoveryTopic('homeassistant', 'sensor', 'cam', 'a/b')).toThrow();
  });

  it('build every topic under prefix/device and recognise only our command topics', () => {
    const t = deviceTopics('site/edgefit', 'cam-1.a_b');
    expect(t.result).toBe('site/edgefit/cam-1.a_b/result');
    expect(t.commands).toBe('site/edgefit/cam-1.a_b/cmd/+');
    expect(t.verbOf('site/edgefit/cam-1.a_b/cmd/pause')).toBe('pause');
    expect(t.verbOf('site/edgefit/other/cmd/pause')).toBeUndefined();
    expect(t.reply('../../x')).toBe('site/edgefit/cam-1.a_b/reply/invalid');
  });
});
