import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Ajv } from 'ajv';
import { DaemonProcess, fastProfile } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { loadConfig } from '../../src/config/index.js';
import { pullModels } from '../../src/catalog/pull.js';
import { payloadSchemas } from '../../src/mqtt/schemas.js';
// the documented limit (README: payloads of at most 16 KiB), not the constant: a raised constant must fail here
const MAX_COMMAND_BYTES = 16 * 1024;
import { makeFixture, snapshot, NASTY_LABELS, type Fixture } from './fixtures.js';
import { waitFor } from '../helpers/wait.js';
import { startHttpServer } from '../helpers/slow-http.js';

const validReply = new Ajv({ strict: false }).compile(payloadSchemas.reply);

const until = <T>(fn: () => T | undefined | false, what: string, ms = 30_000): Promise<T> => waitFor(fn, what, ms);

type Json = Record<string, unknown>;
const DEV = 'sec-1';
// state that changes while the daemon runs, by design
const LIVE = /^(outbox|mqtt-session\.json|profile-cache\.json|\.write-test)/;

describe('a running daemon refuses bad commands and bad models, and keeps running the last good model', () => {
  let fx: Fixture;
  let parent: string;
  let stateDir: string;
  /** the daemon's configured models.mirror (a copy of the fixture's, which the corrupt-mirror test edits) */
  let configured: string;
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let sub: MqttClient;
  let req: MqttClient;
  const msgs: { topic: string; payload: Buffer }[] = [];
  const sent = new Set<string>();
  const replies = new Map<string, Json>();
  const json = (suffix: string) => msgs.filter((m) => m.topic === `edgefit/${DEV}/${suffix}`).map((m) => JSON.parse(m.payload.toString()) as Json);
  let n = 0;
  const ask = async (verb: string, body: string | Buffer): Promise<Json> => {
    const corr = `c${++n}`;
    const topic = `edgefit/${DEV}/cmd/${verb}`;
    sent.add(topic);
    await req.publishAsync(topic, body, { qos: 1, properties: { responseTopic: 'sec/replies', correlationData: Buffer.from(corr) } });
    return until(() => replies.get(corr), `reply to ${verb} ${String(body).slice(0, 40)}`, 60_000);
  };

  beforeAll(async () => {
    fx = makeFixture();
    parent = mkdtempSync(join(tmpdir(), 'edgefit-sec-daemon-'));
    stateDir = join(parent, 'state');
    mkdirSync(stateDir);
    const { config } = loadConfig({ env: {}, overrides: { stateDir, 'models.catalog': fx.catalogPath }, host: { hostname: 't', isRoot: false, home: parent } });
    const pulled = await pullModels(config, { mirror: fx.mirror, only: [fx.ids.good, fx.ids.bomb, fx.ids.failing] });
    expect(pulled.ok, JSON.stringify(pulled.items)).toBe(true);
    configured = mkdtempSync(join(tmpdir(), 'edgefit-sec-configured-'));
    cpSync(fx.mirror, configured, { recursive: true });
    broker = await Mosquitto.start();
    sub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    sub.on('message', (topic, payload) => msgs.push({ topic, payload: Buffer.from(payload) }));
    await sub.subscribeAsync('#', { qos: 1 });
    req = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    req.on('message', (_t, p, packet) => { const c = packet.properties?.correlationData?.toString(); if (c) replies.set(c, JSON.parse(p.toString()) as Json); });
    await req.subscribeAsync('sec/replies', { qos: 1 });
    daemon = new DaemonProcess([
      '--broker', broker.url, '--device-id', DEV, '--state-dir', stateDir, '--camera', 'synthetic',
      '--set', `models.catalog=${fx.catalogPath}`, '--set', 'models.allowZooFallback=false', '--set', `models.mirror=${configured}`,
      // the memory bomb must hit the profiler's limit (2 x budget.memoryMb), not the machine
      '--set', 'budget.memoryMb=150', '--set', 'budget.latencyMs=1000',
      '--set', 'camera.fps=10', '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=20', '--set', 'mqtt.telemetrySeconds=1', ...fastProfile,
    ]);
    await daemon.waitFor(() => json('result').length >= 3, 'first results', 120_000);
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop('SIGKILL');
    await sub?.endAsync();
    await req?.endAsync();
    await broker?.stop();
  });

  it('a model that blows memory and one that fails at run time were tried first, in the profiler child; the daemon runs the good one', () => {
    const model = json('model').at(-1)!;
    expect((model.variant as Json).id).toBe(fx.ids.good);
    const cands = model.candidates as Json[];
    const bomb = cands.find((c) => String(c.id).startsWith(fx.ids.bomb))!;
    const failing = cands.find((c) => String(c.id).startsWith(fx.ids.failing))!;
    expect(bomb.chosen).toBe(false);
    expect(failing.chosen).toBe(false);
    expect(bomb).toMatchObject({ reason: 'too-big' });
    expect(String(bomb.detail)).toMatch(/out of memory budget.*killed/);
    expect(failing).toMatchObject({ reason: 'failed' });
    expect(String(failing.detail)).toMatch(/kernel channels \* group/);
    expect(daemon.stderr).toMatch(/measured candidate=tiny-bomb@cpu .*ok=false/);
    expect(json('status').at(-1)!.state).toBe('online');
  });

  it('labels go into payloads only: no label text ever becomes a topic level', async () => {
    await until(() => json('result').length >= 20, 'results');
    const labels = new Set(json('result').flatMap((r) => (r.top as { label: string }[]).map((t) => t.label)));
    // the nasty labels do reach the payloads, byte for byte
    expect([...labels].filter((l) => NASTY_LABELS.includes(l)).length).toBeGreaterThanOrEqual(5);
    const allowed = new RegExp(`^(edgefit/${DEV}/(status|model|result|telemetry|event|snapshot|reply/[A-Za-z0-9._-]+)|homeassistant/(sensor|binary_sensor)/edgefit_${DEV}/[A-Za-z0-9._-]+/config|homeassistant/status|sec/replies)$`);
    const theirs = msgs.map((m) => m.topic).filter((t) => !sent.has(t));
    expect([...new Set(theirs.filter((t) => !allowed.test(t)))]).toEqual([]);
    for (const t of new Set(theirs)) for (const l of NASTY_LABELS) expect(t.includes(l) && l.length > 1 ? `${t} holds ${l}` : '').toBe('');
  });

  it('malformed, oversized, mistyped, extra-field, replayed and unknown commands: an error reply each, nothing changed', async () => {
    // a server on the board's network that a pull-model must not be able to make it fetch from
    const foreign = await startHttpServer((_req, res) => { res.writeHead(500, 'SECRET'); res.end(); });
    const before = snapshot(stateDir, LIVE);
    const mirrorBefore = snapshot(fx.mirror);
    const cases: [string, string | Buffer, string][] = [
      ['pause', JSON.stringify({ id: 'big', pad: 'x'.repeat(MAX_COMMAND_BYTES) }), 'E_TOO_LARGE'],
      ['pause', Buffer.from([0xff, 0xfe, 0x7b, 0x00]), 'E_INVALID_JSON'],
      ['pause', '{"id":"a",}', 'E_INVALID_JSON'],
      ...(['[]', 'null', '42', '"pause"', 'true', '[' .repeat(5000) + ']'.repeat(5000)].map((b) => ['pause', b, 'E_INVALID_ARGS'] as [string, string, string])),
      ['set-budget', '{"args":{"latencyMs":"fast"}}', 'E_INVALID_ARGS'],
      ['set-budget', '{"args":{"latencyMs":1e308}}', 'E_INVALID_ARGS'],
      ['set-budget', '{"args":{}}', 'E_INVALID_ARGS'],
      ['snapshot', '{"args":{"quality":5000}}', 'E_INVALID_ARGS'],
      ['pull-model', '{"args":{"id":123}}', 'E_INVALID_ARGS'],
      ['pause', '{"id":42}', 'E_INVALID_ARGS'],
      ['pause', JSON.stringify({ id: 'x'.repeat(129) }), 'E_INVALID_ARGS'],
      ['pause', '{"id":""}', 'E_INVALID_ARGS'],
      ['pause', '{"id":"e1","args":{},"extra":1}', 'E_INVALID_ARGS'],
      ['set-budget', '{"args":{"latencyMs":50,"evil":1}}', 'E_INVALID_ARGS'],
      ['reselect', '{"args":{"a":1}}', 'E_INVALID_ARGS'],
      ['pause', '{"__proto__":{"polluted":true}}', 'E_INVALID_ARGS'],
      ['set-budget', '{"args":{"__proto__":{"latencyMs":0.001}}}', 'E_INVALID_ARGS'],
      ['eval', '{"args":{"code":"process.exit(1)"}}', 'E_UNKNOWN_VERB'],
      ['exec', '{}', 'E_UNKNOWN_VERB'],
      ['load-model', '{"args":{"path":"/tmp/x.so"}}', 'E_UNKNOWN_VERB'],
      ['PAUSE', '{}', 'E_UNKNOWN_VERB'],
      ['a%b', '{}', 'E_UNKNOWN_VERB'],
      ['..', '{}', 'E_UNKNOWN_VERB'],
      // pull-model: only http(s) URLs and absolute directories pass the schema
      ['pull-model', JSON.stringify({ args: { mirror: 'file:///etc' } }), 'E_INVALID_ARGS'],
      ['pull-model', JSON.stringify({ args: { mirror: '../../etc' } }), 'E_INVALID_ARGS'],
      ['pull-model', JSON.stringify({ args: { mirror: 'ftp://127.0.0.1/' } }), 'E_INVALID_ARGS'],
      ['pull-model', JSON.stringify({ args: { mirror: `https://x/${'a'.repeat(2048)}` } }), 'E_INVALID_ARGS'],
      ['pull-model', JSON.stringify({ args: { id: '../../etc/passwd' } }), 'E_INVALID_ARGS'],
      ['pull-model', JSON.stringify({ args: { id: '..' } }), 'E_CATALOG'],
      ['pull-model', JSON.stringify({ args: { mirror: 'https://ops:hunter2@127.0.0.1:9/' } }), 'E_MIRROR'],
      // only the configured mirror or the catalog's hosts (models.allowAnyUrl is off)
      ['pull-model', JSON.stringify({ args: { id: fx.ids.spare, mirror: foreign.url } }), 'E_MIRROR_NOT_ALLOWED'],
      ['pull-model', JSON.stringify({ args: { id: fx.ids.spare, mirror: '/tmp/../etc' } }), 'E_MIRROR_NOT_ALLOWED'],
      ['pull-model', JSON.stringify({ args: { mirror: 'http://169.254.169.254/latest/meta-data/' } }), 'E_MIRROR_NOT_ALLOWED'],
    ];
    for (const [verb, body, code] of cases) {
      const r = await ask(verb, body);
      expect(r, `${verb} ${String(body).slice(0, 60)}`).toMatchObject({ ok: false, error: { code } });
      expect(validReply(r)).toBe(true);
      expect(JSON.stringify(r)).not.toContain('hunter2');
    }
    expect(foreign.requests).toEqual([]);
    await foreign.close();
    // a replayed id is refused whatever the verb
    expect(await ask('reselect', '{"id":"once"}')).toMatchObject({ ok: true });
    expect(await ask('resume', '{"id":"once"}')).toMatchObject({ ok: false, error: { code: 'E_REPLAY' } });
    // a verb with a level more is not a command at all: no reply, not paused
    await req.publishAsync(`edgefit/${DEV}/cmd/pause/now`, '{}', { qos: 1 });
    sent.add(`edgefit/${DEV}/cmd/pause/now`);
    const t0 = json('telemetry').length;
    await until(() => json('telemetry').length > t0 + 1, 'telemetry after the bogus topic');
    expect(json('telemetry').at(-1)!.paused).toBe(false);

    expect(snapshot(stateDir, LIVE)).toEqual(before);
    expect(snapshot(fx.mirror)).toEqual(mirrorBefore);
    expect(readdirSync(parent)).toEqual(['state']);
    expect(({} as Json).polluted).toBeUndefined();
    expect(daemon.proc.exitCode).toBe(null);
    const r0 = json('result').length;
    await until(() => json('result').length > r0 + 2, 'results still flowing');
    expect(json('result').at(-1)!.variant).toBe(fx.ids.good);
  });

  it('pull-model from a mirror serving a corrupted file: error reply, the old model keeps running; a good mirror then works', async () => {
    // the configured mirror serves a corrupted copy of the spare model
    const corrupted = new Uint8Array(fx.bytes[fx.ids.spare]!);
    corrupted[corrupted.length >> 1]! ^= 0x01;
    writeFileSync(join(configured, 'models', `${fx.ids.spare}.onnx`), corrupted);
    writeFileSync(join(configured, 'labels', 'nasty.txt'), NASTY_LABELS.join('\n') + '\n');
    const before = snapshot(stateDir, LIVE);
    const r = await ask('pull-model', JSON.stringify({ args: { id: fx.ids.spare } }));
    expect(r).toMatchObject({ ok: false, error: { code: 'E_PULL' } });
    expect(String((r.error as Json).message)).toMatch(/sha256 does not match the catalog's [0-9a-f]{64}.*running tiny-good \(unchanged\)/);
    expect(snapshot(stateDir, LIVE)).toEqual(before);
    const r0 = json('result').length;
    await until(() => json('result').length > r0 + 2, 'results after the failed pull');
    expect(json('result').at(-1)!.variant).toBe(fx.ids.good);
    expect((json('model').at(-1)!.variant as Json).id).toBe(fx.ids.good);

    // the positive control: the real file, from the configured mirror named explicitly, is pulled and, ranked higher, taken
    writeFileSync(join(configured, 'models', `${fx.ids.spare}.onnx`), fx.bytes[fx.ids.spare]!);
    const ok = await ask('pull-model', JSON.stringify({ args: { id: fx.ids.spare, mirror: configured } }));
    expect(ok).toMatchObject({ ok: true, result: { variant: fx.ids.spare, switched: true } });
    await until(() => json('result').at(-1)?.variant === fx.ids.spare, 'results from the new model');
    expect(daemon.proc.exitCode).toBe(null);
  });
});
