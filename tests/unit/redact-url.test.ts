import { describe, it, expect } from 'vitest';
import { redactUrl, hasScheme } from '../../src/util/redact.js';

describe('redactUrl', () => {
  it.each([
    ['mqtt://alice:hunter2@broker:1883', 'mqtt://alice:***@broker:1883'],
    ['mqtts://alice:hunter2@broker:8883', 'mqtts://alice:***@broker:8883'],
    ['ws://alice:hunter2@broker:8080/mqtt', 'ws://alice:***@broker:8080/mqtt'],
    ['wss://alice:hunter2@broker/mqtt?x=1', 'wss://alice:***@broker/mqtt?x=1'],
    // passwords typed raw: '@', '/', ':', '?', '#' inside them
    ['mqtt://alice:p@ss@broker:1883', 'mqtt://alice:***@broker:1883'],
    ['mqtt://alice:p/ss@broker:1883', 'mqtt://alice:***@broker:1883'],
    ['mqtt://alice:p:s?s#x@broker', 'mqtt://alice:***@broker'],
    ['mqtt://alice:@broker', 'mqtt://alice:***@broker'],
    // userinfo without a password may be a token: hidden whole
    ['mqtt://tok3n@broker:1883', 'mqtt://***@broker:1883'],
    // no scheme: still an authority
    ['alice:hunter2@broker:1883', 'alice:***@broker:1883'],
    // nothing to hide
    ['mqtt://broker:1883', 'mqtt://broker:1883'],
    ['', ''],
  ])('%j -> %j', (input, shown) => {
    expect(redactUrl(input)).toBe(shown);
  });

  it('never lets the text between the first ":" of the userinfo and the last "@" through', () => {
    for (const pw of ['a@b', 'a/b', '@@@', 'a b', '%40', 'ü:ñ']) {
      expect(redactUrl(`mqtts://u:${pw}@h:1/p`)).toBe('mqtts://u:***@h:1/p');
    }
  });

  it('tells a URL from a path', () => {
    expect(hasScheme('rtsp://cam/x')).toBe(true);
    expect(hasScheme('folder:/a@b')).toBe(false);
    expect(hasScheme('/dev/video0')).toBe(false);
  });
});
