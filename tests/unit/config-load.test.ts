import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, fields, envName, type LoadOptions } from '../../src/config/index.js';
import { validateConfig } from '../../src/config/validate.js';
import { EdgefitError } from '../../src/util/errors.js';

const host = { hostname: 'test-host', isRoot: false, home: '/home/u' };
let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'edgefit-config-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

/** The error loadConfig throws (the test fails if it does not throw). */
function errorOf(opts: LoadOptions): string {
  try {
    loadConfig({ host, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(EdgefitError);
    expect((err as EdgefitError).code).toBe('E_CONFIG');
    return (err as Error).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(opts)}`);
}

describe('config defaults', () => {
  it('validate, and every value comes from the defaults', () => {
    const { config, sources } = loadConfig({ env: {}, host });
    expect(validateConfig(config, () => 'x')).toEqual([]);
    expect(Object.values(sources).every((s) => s === 'default')).toBe(true);
    expect(Object.keys(sources).sort()).toEqual(fields.map((f) => f.path).sort());
    expect(config.mqtt.protocolVersion).toBe(5);
    expect(config.engine.providers).toEqual(['tensorrt', 'cuda', 'cpu']);
    expect(config.camera.watchdogSeconds).toBe(10);
    expect(config.mqtt.url).toBe('');
  });

  it('derive deviceId from the host name (sanitised) and stateDir from the user', () => {
    expect(loadConfig({ env: {}, host: { ...host, hostname: 'my pi+cam#1/x' } }).config.deviceId).toBe('my-pi-cam-1-x');
    expect(loadConfig({ env: {}, host: { ...host, hostname: '+++' } }).config.deviceId).toBe('edgefit');
    expect(loadConfig({ env: {}, host }).config.stateDir).toBe('/home/u/.local/state/edgefit');
    expect(loadConfig({ env: {}, host: { ...host, isRoot: true } }).config.stateDir).toBe('/var/lib/edgefit');
    expect(loadConfig({ env: { XDG_STATE_HOME: '/xdg' }, host }).config.stateDir).toBe('/xdg/edgefit');
    const r = loadConfig({ env: { EDGEFIT_STATE_DIR: '~/edge' }, host });
    expect(r.config.stateDir).toBe('/home/u/edge');
    expect(r.sources.stateDir).toBe('env');
  });
});

describe('config precedence', () => {
  it('defaults < file < environment < flags, with the source of each value', () => {
    const f = file('p.yaml', toYaml({ mqtt: { url: 'mqtt://file:1883', prefix: 'fromfile' }, camera: { fps: 3 }, log: { level: 'warn' } }));
    const { config, sources } = loadConfig({
      file: f,
      env: { EDGEFIT_MQTT_URL: 'mqtt://env:1883', EDGEFIT_LOG_LEVEL: 'debug', EDGEFIT_ENGINE_PROVIDERS: 'cuda, cpu', PATH: '/bin' },
      overrides: { 'mqtt.url': 'mqtt://flag:1883', 'camera.loop': 'false', 'budget.fps': 12 },
      host,
    });
    expect(config.mqtt.url).toBe('mqtt://flag:1883');
    expect(sources['mqtt.url']).toBe('flag');
    expect(config.mqtt.prefix).toBe('fromfile');
    expect(sources['mqtt.prefix']).toBe('file');
    expect(config.log.level).toBe('debug');
    expect(sources['log.level']).toBe('env');
    expect(config.camera.fps).toBe(3);
    expect(sources['camera.fps']).toBe('file');
    expect(config.camera.loop).toBe(false);
    expect(sources['camera.loop']).toBe('flag');
    expect(config.budget.fps).toBe(12);
    expect(config.engine.providers).toEqual(['cuda', 'cpu']);
    expect(sources['engine.providers']).toBe('env');
    expect(sources['mqtt.protocolVersion']).toBe('default');
  });

  it('reads $EDGEFIT_CONFIG when no file is given', () => {
    const f = file('envfile.json', JSON.stringify({ adapt: { enabled: false } }));
    const r = loadConfig({ env: { EDGEFIT_CONFIG: f }, host });
    expect(r.config.adapt.enabled).toBe(false);
    expect(r.file).toBe(f);
  });

  it('parses environment text by the schema type', () => {
    const { config } = loadConfig({
      env: {
        EDGEFIT_MQTT_PROTOCOL_VERSION: '4', EDGEFIT_MQTT_TLS_REJECT_UNAUTHORIZED: '0', EDGEFIT_ADAPT_ENABLED: 'no',
        EDGEFIT_BUDGET_MEMORY_FRACTION: '0.25', EDGEFIT_ENGINE_PROVIDERS: '["cpu"]', EDGEFIT_MQTT_HOME_ASSISTANT_PREFIX: 'ha',
        EDGEFIT_SHARED_DATA: '/x', EDGEFIT_TEST_ANYTHING: '1',
      },
      host,
    });
    expect(config.mqtt.protocolVersion).toBe(4);
    expect(config.mqtt.tls.rejectUnauthorized).toBe(false);
    expect(config.adapt.enabled).toBe(false);
    expect(config.budget.memoryFraction).toBe(0.25);
    expect(config.engine.providers).toEqual(['cpu']);
    expect(config.mqtt.homeAssistant.prefix).toBe('ha');
  });

  it('maps paths to variables: segments joined by _, camelCase to UPPER_SNAKE, all distinct', () => {
    expect(envName('mqtt.url')).toBe('EDGEFIT_MQTT_URL');
    expect(envName('mqtt.protocolVersion')).toBe('EDGEFIT_MQTT_PROTOCOL_VERSION');
    expect(envName('mqtt.tls.rejectUnauthorized')).toBe('EDGEFIT_MQTT_TLS_REJECT_UNAUTHORIZED');
    expect(envName('stateDir')).toBe('EDGEFIT_STATE_DIR');
    expect(new Set(fields.map((f) => f.env)).size).toBe(fields.length);
  });

  it('reads the same settings from YAML and JSON', () => {
    const data = { deviceId: 'kitchen-pi', camera: { source: 'lavfi:testsrc=size=320x240', fps: 7.5 }, mqtt: { protocolVersion: 4, results: { mode: 'every' } } };
    const a = loadConfig({ file: file('same.yaml', toYaml(data)), env: {}, host });
    const b = loadConfig({ file: file('same.json', JSON.stringify(data)), env: {}, host });
    expect(a.config).toEqual(b.config);
    expect(a.config.deviceId).toBe('kitchen-pi');
    expect(a.config.camera.fps).toBe(7.5);
    expect(a.config.mqtt.results.mode).toBe('every');
    expect(a.sources['mqtt.results.mode']).toBe('file');
  });

  it('accepts every documented camera source form', () => {
    for (const source of ['auto', 'synthetic', 'rpicam', '/dev/video0', 'rtsp://cam.local/stream', 'http://cam/mjpg', 'https://cam/x', 'file:/v/a.mp4', '/home/u/clip.mkv', 'clip.mp4', 'lavfi:testsrc=size=640x480:rate=15', 'folder:/srv/images']) {
      expect(loadConfig({ env: { EDGEFIT_CAMERA_SOURCE: source }, host }).config.camera.source).toBe(source);
    }
  });
});

describe('config errors', () => {
  it('name the path, the accepted values, the value and its source', () => {
    expect(errorOf({ env: { EDGEFIT_MQTT_PROTOCOL_VERSION: '6' } })).toBe('config: mqtt.protocolVersion must be one of 4, 5 (got 6) — from EDGEFIT_MQTT_PROTOCOL_VERSION');
    const f = file('bad.yaml', 'camera:\n  fps: -1\n');
    expect(errorOf({ file: f, env: {} })).toBe(`config: camera.fps must be >= 0 and <= 240 (got -1) — from ${f}`);
    expect(errorOf({ env: {}, overrides: { 'log.level': 'verbose' } })).toBe('config: log.level must be one of debug, info, warn, error (got "verbose") — from the command line');
  });

  it('refuse an outbox of 0 messages: it would drop every result, even while connected', () => {
    const f = file('outbox0.yaml', 'mqtt:\n  outbox:\n    maxMessages: 0\n');
    expect(errorOf({ file: f, env: {} })).toBe(`config: mqtt.outbox.maxMessages must be >= 1 and <= 10000000 (got 0) — from ${f}`);
    expect(errorOf({ env: { EDGEFIT_MQTT_OUTBOX_MAX_MESSAGES: '0' } })).toContain('mqtt.outbox.maxMessages must be >= 1');
    expect(loadConfig({ env: {}, host, overrides: { 'mqtt.outbox.maxMessages': '1' } }).config.mqtt.outbox.maxMessages).toBe(1);
  });

  it.each([
    [{ EDGEFIT_ENGINE_PROVIDERS: 'cpu,gpu' }, ['engine.providers[1]', 'one of tensorrt, cuda, cpu', '"gpu"', 'EDGEFIT_ENGINE_PROVIDERS']],
    [{ EDGEFIT_ENGINE_PROVIDERS: '' }, ['engine.providers', 'at least 1']],
    [{ EDGEFIT_LOG_JSON: 'maybe' }, ['log.json must be a boolean', '"maybe"', 'EDGEFIT_LOG_JSON']],
    [{ EDGEFIT_CAMERA_FPS: 'fast' }, ['camera.fps must be a number >= 0 and <= 240', '"fast"']],
    [{ EDGEFIT_ENGINE_THREADS: '1.5' }, ['engine.threads must be an integer', '(got 1.5)']],
    [{ EDGEFIT_CAMERA_SOURCE: 'rtmp://x/y' }, ['camera.source must be', "'rtsp://…'", "'folder:DIR'", '"rtmp://x/y"']],
    [{ EDGEFIT_MQTT_URL: 'http://broker' }, ['mqtt.url must be empty or a URL mqtt://', '"http://broker"']],
    // the scheme passes the schema's pattern; the client would fail only after profiling, without naming the setting
    [{ EDGEFIT_MQTT_URL: 'mqtt://broker:99999' }, ['mqtt.url must be a broker URL such as mqtt://broker.local:1883', 'does not parse', '"mqtt://broker:99999"', 'EDGEFIT_MQTT_URL']],
    [{ EDGEFIT_MQTT_URL: 'mqtt://broker:abc' }, ['mqtt.url must be a broker URL', '"mqtt://broker:abc"']],
    [{ EDGEFIT_MQTT_URL: 'mqtt://[bad' }, ['mqtt.url must be a broker URL', 'does not parse']],
    [{ EDGEFIT_MQTT_URL: 'mqtt://broker:0' }, ['mqtt.url must be a broker URL', 'port 0']],
    [{ EDGEFIT_MQTT_PREFIX: 'a/+/b' }, ['mqtt.prefix must be topic levels', "no '+', '#'"]],
    [{ EDGEFIT_MQTT_RESULTS_MODE: 'sometimes' }, ['mqtt.results.mode must be one of every, change, threshold']],
    [{ EDGEFIT_BUDGET_MEMORY_FRACTION: '0' }, ['budget.memoryFraction must be > 0 and <= 1', '(got 0)']],
    [{ EDGEFIT_BUDGET_FPS: '0' }, ['budget.latencyMs or budget.fps must be > 0', 'EDGEFIT_BUDGET_FPS']],
    [{ EDGEFIT_MQTT_TLS_KEY: '/k.pem' }, ['mqtt.tls.cert and mqtt.tls.key must be given together', 'EDGEFIT_MQTT_TLS_KEY']],
    [{ EDGEFIT_MODELS_TASK: 'faces' }, ['models.task must be one of imagenet, classification, person, detection']],
  ] as Array<[Record<string, string>, string[]]>)('%j is refused with a message naming the field', (env, parts) => {
    const msg = errorOf({ env });
    for (const p of parts) expect(msg).toContain(p);
  });

  it.each(['mqtt://broker.local:1883', 'mqtts://broker.example.com', 'ws://10.0.0.2:8080/mqtt', 'tcp://[::1]:1883'])('accepts the broker URL %s', (url) => {
    expect(loadConfig({ env: { EDGEFIT_MQTT_URL: url }, host }).config.mqtt.url).toBe(url);
  });

  it('reports every problem at once', () => {
    const msg = errorOf({ env: { EDGEFIT_MQTT_PROTOCOL_VERSION: '3', EDGEFIT_LOG_LEVEL: 'loud' } });
    expect(msg.split('\n')).toHaveLength(2);
    expect(msg).toContain('mqtt.protocolVersion');
    expect(msg).toContain('log.level');
  });

  it.each(['a+b', 'a#b', 'a/b', 'a\u0000b', 'a\nb', 'a\tb', 'a\u007fb', 'a b', 'x'.repeat(65)])('refuses deviceId %j from env, file and flags', (id) => {
    expect(errorOf({ env: { EDGEFIT_DEVICE_ID: id } })).toMatch(/^config: deviceId must be (letters, digits|at most 64 characters).*— from EDGEFIT_DEVICE_ID$/s);
    const f = file('dev.json', JSON.stringify({ deviceId: id }));
    expect(errorOf({ file: f, env: {} })).toContain(`deviceId must be`);
    expect(errorOf({ env: {}, overrides: { deviceId: id } })).toContain("letters, digits, '.', '_', '-'");
  });

  it('accepts a deviceId of letters, digits, dot, underscore and dash', () => {
    expect(loadConfig({ env: { EDGEFIT_DEVICE_ID: 'Pi-4.kitchen_01' }, host }).config.deviceId).toBe('Pi-4.kitchen_01');
  });

  it('refuses unknown keys with a suggestion, wherever they come from', () => {
    const f = file('typo.yaml', 'mqtt:\n  protocolVersio: 5\ncamra:\n  fps: 3\n');
    const msg = errorOf({ file: f, env: {} });
    expect(msg).toContain('config: mqtt.protocolVersio is not a setting — did you mean mqtt.protocolVersion?');
    expect(msg).toContain('config: camra is not a setting — did you mean camera?');
    expect(msg).toContain(f);
    expect(errorOf({ env: { EDGEFIT_MQTT_URLL: 'mqtt://x' } })).toContain('environment variable EDGEFIT_MQTT_URLL is not a setting — did you mean EDGEFIT_MQTT_URL?');
    expect(errorOf({ env: {}, overrides: { 'mqtt.prefx': 'a' } })).toContain('--set mqtt.prefx: not a setting — did you mean mqtt.prefix?');
    expect(errorOf({ file: file('obj.yaml', 'mqtt: 5\n'), env: {} })).toContain('mqtt must be a mapping with keys url, prefix');
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(errorOf({ file: join(dir, 'missing.yaml'), env: {} })).toContain('cannot read');
    const y = file('broken.yaml', 'mqtt:\n  url: [unclosed\n');
    expect(errorOf({ file: y, env: {} })).toContain(`${y} is not valid YAML`);
    const j = file('broken.json', '{"mqtt": ');
    expect(errorOf({ file: j, env: {} })).toContain(`${j} is not valid JSON`);
    expect(errorOf({ file: file('list.yaml', '- 1\n- 2\n'), env: {} })).toContain('must be a mapping of settings');
  });
});

describe('camera.ffmpegPath and budget.percentile (issue 15, item 7)', () => {
  it('the ffmpeg binary is the setting camera.ffmpegPath, with its generated environment variable', () => {
    expect(loadConfig({ env: {}, host }).config.camera.ffmpegPath).toBe('ffmpeg');
    const { config, sources } = loadConfig({ env: { EDGEFIT_CAMERA_FFMPEG_PATH: '/opt/ffmpeg/bin/ffmpeg' }, host });
    expect(config.camera.ffmpegPath).toBe('/opt/ffmpeg/bin/ffmpeg');
    expect(sources['camera.ffmpegPath']).toBe('env');
    expect(envName('camera.ffmpegPath')).toBe('EDGEFIT_CAMERA_FFMPEG_PATH');
  });

  it('the old EDGEFIT_FFMPEG is refused with the name of the setting that replaced it', () => {
    expect(errorOf({ env: { EDGEFIT_FFMPEG: '/opt/ffmpeg' } })).toContain('EDGEFIT_CAMERA_FFMPEG_PATH');
  });

  it.each([50, 90, 99])('budget.percentile %d is accepted', (p) => {
    expect(loadConfig({ env: { EDGEFIT_BUDGET_PERCENTILE: String(p) }, host }).config.budget.percentile).toBe(p);
  });

  it.each([95, 75, 100, 50.5])('budget.percentile %d is refused, not rounded to a neighbour', (p) => {
    expect(errorOf({ env: { EDGEFIT_BUDGET_PERCENTILE: String(p) } })).toMatch(/budget\.percentile.*50, 90.*99/);
  });
});
