import { EdgefitError } from '../../src/util/errors.js';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttService } from '../../src/mqtt/service.js';
import { payloadSchemas } from '../../src/mqtt/schemas.js';
import { loadConfig } from '../../src/config/index.js';
import type { CommandHandlers } from '../../src/mqtt/commands.js';
import type { MqttConfig } from '../../src/config/types.js';
import type { ResultPayload } from '../../src/mqtt/payloads.js';
import { waitFor } from '../helpers/wait.js';

const ajv = new Ajv({ strict: false });
const validators = Object.fromEntries(Object.entries(payloadSchemas).map(([k, s]) => [k, ajv.compile(s)]));

function mqttConfig(over: Partial<MqttConfig> = {}): MqttConfig {
  const { config } = loadConfig({ env: {}, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
  // outages here last seconds: a 2 s reconnect cap keeps the test about the outbox, not about backoff luck
  return { ...config.mqtt, keepaliveSeconds: 2, reconnectMaxSeconds: 2, ...over };
}

const calls: string[] = [];
const handlers: CommandHandlers = {
  reselect: async () => { calls.push('reselect'); return { chosen: 'x' }; },
  'set-budget': async (a) => { calls.push(`set-budget:${JSON.stringify(a)}`); return a; },
  pause: async () => { calls.push('pause'); },
  resume: async () => { calls.push('resume'); },
  'pull-model': async () => { throw new EdgefitError('E_MIRROR', 'no mirror configured; pass args.mirror'); },
  snapshot: async () => ({ bytes: 3 }),
};

/** A persistent session: what is published while it reconnects after a broker restart is queued for it, not lost. */
function consumer(url: string, version: 4 | 5 = 5): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, {
      protocolVersion: version, reconnectPeriod: 200, clientId: `consumer-${Math.random().toString(36).slice(2)}`,
      clean: false, ...(version === 5 ? { properties: { sessionExpiryInterval: 300 } } : {}),
    });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

const until = <T>(fn: () => T | undefined | false, what: string, ms = 15_000): Promise<T> => waitFor(fn, what, ms);

function makeResult(i: number) {
  return (seq: number, session: number): ResultPayload => ({
    deviceId: 'cam-1', session, seq, frameTs: Date.now(), ts: new Date().toISOString(), variant: 'v',
    top: [{ index: i % 10, label: `class${i % 10}`, score: 0.5 }], latencyMs: 3, inferMs: 2,
  });
}

describe('MqttService against a real mosquitto', () => {
  let broker: Mosquitto;
  let svc: MqttService;
  let sub: MqttClient;
  const got = new Map<string, Buffer[]>();
  const stateDir = mkdtempSync(join(tmpdir(), 'edgefit-mqtt-'));

  beforeAll(async () => {
    broker = await Mosquitto.start(undefined, { persist: true });
    sub = await consumer(broker.url);
    sub.on('message', (t, p) => { const a = got.get(t) ?? []; a.push(Buffer.from(p)); got.set(t, a); });
    await sub.subscribeAsync(['edgefit/#', 'homeassistant/#'], { qos: 1 });
    svc = new MqttService({ config: mqttConfig(), url: broker.url, deviceId: 'cam-1', stateDir, version: '0.1.0', board: 'test', handlers });
    await svc.start();
    await until(() => svc.stats().connected, 'connect');
  });
  afterAll(async () => {
    await svc?.stop().catch(() => undefined);
    await sub?.endAsync();
    await broker?.stop();
  });

  const json = (t: string) => (got.get(t) ?? []).map((b) => JSON.parse(b.toString()) as Record<string, unknown>);

  it('publishes status online (retained, valid) and negotiates MQTT 5 with mosquitto', async () => {
    const st = await until(() => json('edgefit/cam-1/status').at(-1), 'status');
    expect(validators.status!(st)).toBe(true);
    expect(st.state).toBe('online');
    expect(st.session).toBe(1);
    expect(svc.stats().protocolVersion).toBe(5);
    // retained: a late subscriber sees it
    const late = await consumer(broker.url);
    const seen = new Promise<Buffer>((r) => late.on('message', (_t, p) => r(p)));
    await late.subscribeAsync('edgefit/cam-1/status');
    expect(JSON.parse((await seen).toString()).state).toBe('online');
    await late.endAsync();
  });

  it('publishes results in order with increasing seq, all valid', async () => {
    for (let i = 0; i < 20; i++) await svc.publishResult(makeResult(i));
    const rs = await until(() => { const r = json('edgefit/cam-1/result'); return r.length >= 20 ? r : undefined; }, '20 results');
    for (const r of rs) expect(validators.result!(r), JSON.stringify(validators.result!.errors)).toBe(true);
    const seqs = rs.map((r) => r.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(20);
  });

  it('answers commands over MQTT 5 request/response with correlation data', async () => {
    const req = await consumer(broker.url, 5);
    await req.subscribeAsync('test/replies', { qos: 1 });
    const replies: { payload: Record<string, unknown>; corr?: string }[] = [];
    req.on('message', (_t, p, packet) => replies.push({ payload: JSON.parse(p.toString()), ...(packet.properties?.correlationData ? { corr: packet.properties.correlationData.toString() } : {}) }));
    const send = (verb: string, body: string, corr: string) => req.publishAsync(`edgefit/cam-1/cmd/${verb}`, body, { qos: 1, properties: { responseTopic: 'test/replies', correlationData: Buffer.from(corr) } });
    await send('pause', '{"id":"a1"}', 'c1');
    await send('set-budget', '{"id":"a2","args":{"latencyMs":50}}', 'c2');
    await send('resume', '', 'c3');
    await send('reselect', '{"id":"a4"}', 'c4');
    await send('snapshot', '{"id":"a5"}', 'c5');
    await send('pull-model', '{"id":"a6"}', 'c6');
    const rs = await until(() => (replies.length >= 6 ? replies : undefined), '6 replies');
    const byCorr = Object.fromEntries(rs.map((r) => [r.corr, r.payload]));
    for (const r of rs) expect(validators.reply!(r.payload)).toBe(true);
    expect(byCorr.c1).toMatchObject({ id: 'a1', verb: 'pause', ok: true });
    expect(byCorr.c2).toMatchObject({ ok: true, result: { latencyMs: 50 } });
    expect(byCorr.c3).toMatchObject({ verb: 'resume', ok: true });
    expect(byCorr.c4).toMatchObject({ ok: true, result: { chosen: 'x' } });
    expect(byCorr.c6).toMatchObject({ ok: false, error: { code: 'E_MIRROR' } });
    expect(calls).toEqual(expect.arrayContaining(['pause', 'set-budget:{"latencyMs":50}', 'resume', 'reselect']));
    await req.endAsync();
  });

  it('refuses bad commands with error replies and keeps running (3.1.1 reply topics)', async () => {
    const req = await consumer(broker.url, 4);
    const replies: Record<string, unknown>[] = [];
    await req.subscribeAsync('edgefit/cam-1/reply/#', { qos: 1 });
    req.on('message', (_t, p) => replies.push(JSON.parse(p.toString())));
    const before = calls.length;
    await req.publishAsync('edgefit/cam-1/cmd/pause', '{not json', { qos: 1 });
    await req.publishAsync('edgefit/cam-1/cmd/rm-rf', '{}', { qos: 1 });
    await req.publishAsync('edgefit/cam-1/cmd/set-budget', '{"args":{"latencyMs":"fast"}}', { qos: 1 });
    await req.publishAsync('edgefit/cam-1/cmd/set-budget', '{"args":{"latencyMs":5,"eval":"x"}}', { qos: 1 });
    await req.publishAsync('edgefit/cam-1/cmd/pause', JSON.stringify({ id: 'x'.repeat(100), pad: 'y'.repeat(20000) }), { qos: 1 });
    await req.publishAsync('edgefit/cam-1/cmd/pause', '{"id":"a1"}', { qos: 1 }); // replay of an id used above
    const rs = await until(() => (replies.length >= 6 ? replies : undefined), '6 error replies');
    const codes = rs.map((r) => (r.error as { code: string }).code).sort();
    expect(codes).toEqual(['E_INVALID_ARGS', 'E_INVALID_ARGS', 'E_INVALID_JSON', 'E_REPLAY', 'E_TOO_LARGE', 'E_UNKNOWN_VERB']);
    expect(rs.every((r) => r.ok === false)).toBe(true);
    expect(calls.length).toBe(before);
    await req.endAsync();
  });

  it('announces Home Assistant discovery and republishes it when HA comes online', async () => {
    const cfgs = await until(() => { const k = [...got.keys()].filter((t) => t.startsWith('homeassistant/') && t.endsWith('/config')); return k.length >= 6 ? k : undefined; }, 'discovery');
    expect(cfgs).toContain('homeassistant/sensor/edgefit_cam-1/latency/config');
    const n = got.get('homeassistant/sensor/edgefit_cam-1/latency/config')!.length;
    await sub.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await until(() => got.get('homeassistant/sensor/edgefit_cam-1/latency/config')!.length > n, 'republished discovery');
  });

  it('buffers results while the broker is down and delivers them in order after it returns; retained topics come back', async () => {
    await svc.setModel({ deviceId: 'cam-1', ts: new Date().toISOString(), variant: { id: 'm', family: 'mobilenet_v1', alpha: 0.5, resolution: 160, precision: 'int8', macs: 1, params: 1, pretrained: true, source: 'test' }, provider: 'cpu', threads: 1, reason: 'test', budget: {}, measurement: null, candidates: [], measured: 0, ladder: 0, labelsMeaningful: true, board: 'test' });
    await broker.stop('SIGTERM');
    await until(() => !svc.stats().connected, 'disconnect');
    const accepted: number[] = [];
    for (let i = 0; i < 50; i++) accepted.push(await svc.publishResult(makeResult(i)));
    expect(svc.stats().outbox.depth).toBe(50);
    got.clear();
    await broker.start();
    await until(() => svc.stats().connected, 'reconnect', 30_000);
    // whichever of the service and the consumer reconnects first, the consumer's session holds what it missed
    const rs = await until(() => { const s = new Set(json('edgefit/cam-1/result').map((r) => r.seq as number)); return accepted.every((a) => s.has(a)) ? json('edgefit/cam-1/result') : undefined; }, 'buffered results', 30_000);
    const seqs = rs.map((r) => r.seq as number).filter((s) => accepted.includes(s));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    await until(() => svc.stats().outbox.depth === 0, 'outbox drained');
    expect(svc.stats().reconnects).toBeGreaterThanOrEqual(1);
    const st = await until(() => json('edgefit/cam-1/status').at(-1), 'status again');
    expect(st.state).toBe('online');
    expect(st.session).toBeGreaterThan(1);
    await until(() => json('edgefit/cam-1/model').at(-1), 'model retained again');
  });

  it('publishes stopped on clean shutdown, and no will', async () => {
    got.clear();
    await svc.stop();
    const st = await until(() => json('edgefit/cam-1/status').at(-1), 'stopped');
    expect(st.state).toBe('stopped');
    await new Promise((r) => setTimeout(r, 300));
    expect(json('edgefit/cam-1/status').some((s) => s.state === 'offline')).toBe(false);
  });
});
