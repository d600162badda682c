import { describe, it, expect } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { MqttService, MAX_INBOUND_PACKET } from '../../src/mqtt/service.js';
import { Backoff } from '../../src/mqtt/backoff.js';
import { MAX_STATE_PAYLOAD } from '../../src/mqtt/fleet-rollout.js';
import { loadConfig } from '../../src/config/index.js';
import { EdgefitError } from '../../src/util/errors.js';
import type { CommandHandlers } from '../../src/mqtt/commands.js';
import type { MqttConfig } from '../../src/config/types.js';
import type { ResultPayload } from '../../src/mqtt/payloads.js';
import { waitFor, sleep } from '../helpers/wait.js';

const until = <T>(fn: () => T | undefined | false, what: string, ms = 20_000): Promise<T> => waitFor(fn, what, ms);

function mqttConfig(over: Partial<MqttConfig> = {}): MqttConfig {
  const { config } = loadConfig({ env: {}, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
  return { ...config.mqtt, keepaliveSeconds: 5, reconnectMaxSeconds: 2, ...over };
}

const ok = async () => ({ ok: true });
const handlers: CommandHandlers = { reselect: ok, 'set-budget': ok, pause: ok, resume: ok, 'pull-model': ok, snapshot: ok };

function service(url: string, over: { config?: Partial<MqttConfig>; refusalBackoff?: Backoff; task?: 'classification' | 'detection'; haAnnounceIntervalMs?: number } = {}): MqttService {
  const stateDir = mkdtempSync(join(tmpdir(), 'edgefit-mqtt-faults-'));
  return new MqttService({
    config: mqttConfig({ homeAssistant: { enabled: false, prefix: 'homeassistant', watchLabels: [] }, ...over.config }),
    url, deviceId: 'dev1', stateDir, version: 't', board: 'b', handlers,
    ...(over.refusalBackoff ? { refusalBackoff: over.refusalBackoff } : {}),
    ...(over.task ? { task: over.task } : {}),
    ...(over.haAnnounceIntervalMs !== undefined ? { haAnnounceIntervalMs: over.haAnnounceIntervalMs } : {}),
  });
}

const stateDirOf = (svc: MqttService): string => (svc as unknown as { o: { stateDir: string } }).o.stateDir;

function result(seq: number, session: number): ResultPayload {
  return { deviceId: 'dev1', session, seq, frameTs: Date.now(), ts: new Date().toISOString(), variant: 'v', top: [{ index: 1, label: 'a', score: 0.5 }], latencyMs: 1, inferMs: 1 };
}

/** A client that sends commands and collects the replies (3.1.1 reply topics). */
async function commander(url: string): Promise<{ client: MqttClient; replies: Record<string, unknown>[] }> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0 });
  const replies: Record<string, unknown>[] = [];
  client.on('message', (t, p) => { if (t.startsWith('edgefit/dev1/reply/')) replies.push(JSON.parse(p.toString()) as Record<string, unknown>); });
  await client.subscribeAsync('edgefit/dev1/reply/#', { qos: 1 });
  return { client, replies };
}

describe('MqttService against a real mosquitto: what it lets in, what the broker refuses, bursts, a failed start', () => {
  it('asks the broker (MQTT 5 Maximum Packet Size) to withhold a message larger than any it reads, and still gets the largest rollout state', async () => {
    const broker = await Mosquitto.start();
    const svc = service(broker.url);
    svc.on('error', () => undefined);
    const { client, replies } = await commander(broker.url);
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      expect(svc.stats().protocolVersion).toBe(5);
      // the largest legitimate message: a rollout state of MAX_STATE_PAYLOAD bytes on a watched topic
      const states: number[] = [];
      await svc.watch('edgefit/fleet/rollout/lab/state', (p) => states.push(p.length));
      await client.publishAsync('edgefit/fleet/rollout/lab/state', Buffer.alloc(MAX_STATE_PAYLOAD, 0x20), { qos: 1 });
      await until(() => states.length === 1, 'the largest rollout state delivered');
      expect(states).toEqual([MAX_STATE_PAYLOAD]);
      // a command far above it: without the limit the daemon reads all of it, then answers E_TOO_LARGE
      await client.publishAsync('edgefit/dev1/cmd/pause', Buffer.alloc(2 * MAX_INBOUND_PACKET, 0x41), { qos: 1 });
      await client.publishAsync('edgefit/dev1/cmd/pause', '{"id":"after-1"}', { qos: 1 });
      await client.publishAsync('edgefit/dev1/cmd/resume', '{"id":"after-2"}', { qos: 1 });
      await until(() => replies.some((r) => r.id === 'after-2'), 'the replies to the commands after it');
      expect(replies.map((r) => r.id ?? (r.error as { code: string }).code)).toEqual(['after-1', 'after-2']);
      // withheld, not cut off: the same connection carries on
      expect(svc.stats()).toMatchObject({ connected: true, reconnects: 0 });
    } finally {
      await client.endAsync();
      await svc.stop(0);
      await broker.stop();
    }
  });

  it('reports a publish the broker refuses (MQTT 5 ACL, reason 135), keeps the records and retries them with a growing wait, not at once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-acl-'));
    const acl = join(dir, 'acl');
    // anonymous clients: the device may write its status and model and read its commands, not publish results
    const aclRefusing = 'topic readwrite edgefit/dev1/status\ntopic readwrite edgefit/dev1/model\ntopic read edgefit/dev1/cmd/#\ntopic read edgefit/dev1/result\n';
    writeFileSync(acl, aclRefusing, { mode: 0o644 });
    const broker = await Mosquitto.start(`allow_anonymous true\nacl_file ${acl}\nlog_type all\n`);
    // ceiling always: the first wait is 1 s; from the second refusal on, the test makes the waits long
    let draw = 1;
    const svc = service(broker.url, { refusalBackoff: new Backoff(1000, 600_000, () => draw) });
    const errors: Error[] = [];
    svc.on('error', (e: Error) => { errors.push(e); if (errors.length === 1) draw = 100; });
    const denied = () => broker.log.split('\n').filter((l) => /Denied PUBLISH .*edgefit\/dev1\/result/.test(l)).length;
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      for (let i = 0; i < 3; i++) await svc.publishResult(result);
      const first = await until(() => errors[0], 'the refusal reported');
      expect(first).toBeInstanceOf(EdgefitError);
      expect(first.message).toMatch(/refused a publish to edgefit\/dev1\/result \(Publish error: Not authorized\); allow client edgefit-dev1 to publish to edgefit\/dev1\/# in the broker's ACL/);
      expect(first.message).toMatch(/sends it again in 1 s$/);
      expect(svc.stats().lastError).toBe(first.message);
      // sent again after the wait, on the same connection, and refused again: the next wait is 200 s
      const second = await until(() => errors[1], 'the retry refused too');
      expect(second.message).toMatch(/sends it again in 200 s$/);
      // the first round sent what was there before the first refusal came back (1 to 3 records), the second all 3
      await until(() => denied() >= 4, 'two rounds of refusals in the broker log');
      await sleep(1500);
      const rounds = denied();
      expect(rounds).toBeLessThanOrEqual(6);
      // nothing is sent meanwhile: no re-send on a refusal, nor on a new record
      await svc.publishResult(result);
      await sleep(500);
      expect(denied()).toBe(rounds);
      expect(errors.length).toBe(2);
      expect(svc.stats()).toMatchObject({ connected: true, reconnects: 0, outbox: { depth: 4, dropped: 0 } });
      // the ACL fixed and the broker restarted: the new connection sends what was held at once, nothing lost
      writeFileSync(acl, 'topic readwrite edgefit/#\n');
      await broker.stop();
      await broker.start();
      await until(() => svc.stats().outbox.depth === 0, 'the held records delivered', 30_000);
      expect(svc.stats().outbox).toMatchObject({ accepted: 4, dropped: 0, lastSeq: 4 });
      expect(svc.stats().lastError ?? '').not.toMatch(/refused a publish/);
    } finally {
      await svc.stop(0);
      await broker.stop();
    }
  });

  it('a network drop with results in flight is a lost connection, not a refusal: nothing blames the ACL, and they are delivered after it', async () => {
    const broker = await Mosquitto.start();
    const proxy = await TcpProxy.start(broker.port);
    // keepalive 1 s: mqtt.js ends the silent connection itself, failing the publishes in flight before its close
    const svc = service(proxy.url, { config: { keepaliveSeconds: 1 } });
    const errors: Error[] = [];
    svc.on('error', (e: Error) => errors.push(e));
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      proxy.blackhole();
      for (let i = 0; i < 3; i++) await svc.publishResult(result);
      await until(() => !svc.stats().connected, 'the keepalive timeout');
      await until(() => svc.stats().connected, 'connected again through the proxy');
      await until(() => svc.stats().outbox.depth === 0, 'the results delivered on the new connection');
      expect(errors.map((e) => e.message).filter((m) => /refused a publish|ACL/.test(m))).toEqual([]);
      expect(svc.stats().lastError ?? '').not.toMatch(/ACL/);
      expect(svc.stats().outbox).toMatchObject({ accepted: 3, dropped: 0 });
    } finally {
      await svc.stop(0);
      await proxy.close();
      await broker.stop();
    }
  });

  it('answers a burst of Home Assistant "online" with a few announcements, and does not rewrite an unchanged discovery record', async () => {
    const broker = await Mosquitto.start();
    const svc = service(broker.url, { config: { homeAssistant: { enabled: true, prefix: 'homeassistant', watchLabels: ['person'] } }, task: 'detection', haAnnounceIntervalMs: 1000 });
    svc.on('error', () => undefined);
    const { client, replies } = await commander(broker.url);
    // on the connection the replies come on: a reply is read after every announcement published before it
    let announced = 0;
    client.on('message', (t) => { if (t.startsWith('homeassistant/') && t.endsWith('/config')) announced++; });
    await client.subscribeAsync('homeassistant/+/+/+/config', { qos: 1 });
    const record = join(stateDirOf(svc), 'ha-discovery.json');
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      await client.publishAsync('edgefit/dev1/cmd/pause', '{"id":"sync-0"}', { qos: 1 });
      await until(() => replies.some((r) => r.id === 'sync-0'), 'settled after connecting');
      // how many discovery messages one announcement publishes (entities and removals): the one made on connecting
      const perRun = announced;
      expect(perRun).toBeGreaterThanOrEqual((JSON.parse(readFileSync(record, 'utf8')) as { topics: string[] }).topics.length);
      const written = () => { const st = statSync(record, { bigint: true }); return `${st.ino}@${st.mtimeNs}`; };
      const before = written();
      announced = 0;
      const N = 500;
      // QoS 1: the broker drops none of them on the way to the device
      for (let i = 0; i < N; i++) client.publish('homeassistant/status', 'online', { qos: 1 });
      // a command after the burst: its reply means every "online" before it was read
      await client.publishAsync('edgefit/dev1/cmd/pause', '{"id":"sync-1"}', { qos: 1 });
      await until(() => replies.some((r) => r.id === 'sync-1'), 'the burst read');
      // let the announcements in progress, and the one paced after them, finish
      let last = -1;
      while (announced !== last) { last = announced; await sleep(2500); }
      const runs = Math.ceil(announced / perRun);
      // the first at once, the rest answered by one more a second later (two more if reading the burst took longer)
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(runs).toBeLessThanOrEqual(4);
      // the same topics as before: the record was not written (and synced) again
      expect(written()).toBe(before);
    } finally {
      await client.endAsync();
      await svc.stop(0);
      await broker.stop();
    }
  });

  it('answers Home Assistant "online" said without pause at its pace, and answers the last request too', async () => {
    const broker = await Mosquitto.start();
    const svc = service(broker.url, { config: { homeAssistant: { enabled: true, prefix: 'homeassistant', watchLabels: ['person'] } }, task: 'detection', haAnnounceIntervalMs: 1000 });
    svc.on('error', () => undefined);
    const { client, replies } = await commander(broker.url);
    const announcedAt: number[] = [];
    client.on('message', (t) => { if (t.startsWith('homeassistant/') && t.endsWith('/config')) announcedAt.push(Date.now()); });
    await client.subscribeAsync('homeassistant/+/+/+/config', { qos: 1 });
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      await client.publishAsync('edgefit/dev1/cmd/pause', '{"id":"sync-0"}', { qos: 1 });
      await until(() => replies.some((r) => r.id === 'sync-0'), 'settled after connecting');
      const perRun = announcedAt.length;
      announcedAt.length = 0;
      // one "online" every 50 ms for 4 s: without a pace, an announcement each time the one before ends
      const t0 = Date.now();
      while (Date.now() - t0 < 4000) { await client.publishAsync('homeassistant/status', 'online', { qos: 1 }); await sleep(50); }
      const lastAsked = Date.now();
      await client.publishAsync('edgefit/dev1/cmd/pause', '{"id":"sync-1"}', { qos: 1 });
      await until(() => replies.some((r) => r.id === 'sync-1'), 'every request read');
      // the request made last is answered by an announcement that starts after it
      await until(() => announcedAt.some((t) => t >= lastAsked), 'an announcement after the last request', 10_000);
      const runs = Math.ceil(announcedAt.length / perRun);
      expect(runs).toBeGreaterThanOrEqual(3);
      // 4 s at one per second, plus the one after the last request
      expect(runs).toBeLessThanOrEqual(6);
    } finally {
      await client.endAsync();
      await svc.stop(0);
      await broker.stop();
    }
  });

  it('a new warning keeps the retained status\'s state (a degraded engine stays degraded), and the same warning is not published again', async () => {
    const broker = await Mosquitto.start();
    const svc = service(broker.url);
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
    const statuses: Array<{ state: string; warning?: string }> = [];
    watcher.on('message', (_t, p) => statuses.push(JSON.parse(p.toString()) as { state: string; warning?: string }));
    try {
      await svc.start();
      await until(() => svc.stats().connected, 'online');
      await watcher.subscribeAsync('edgefit/dev1/status', { qos: 1 });
      await svc.setStatus('degraded');
      await until(() => statuses.at(-1)?.state === 'degraded', 'degraded published');
      await svc.setWarning('NOTHING FITS THE BUDGET: ...');
      await until(() => statuses.at(-1)?.warning !== undefined, 'the warning published');
      expect(statuses.at(-1)).toMatchObject({ state: 'degraded', warning: 'NOTHING FITS THE BUDGET: ...' });
      const n = statuses.length;
      await svc.setWarning('NOTHING FITS THE BUDGET: ...');
      await svc.setWarning('');
      await until(() => statuses.length > n && statuses.at(-1)!.warning === undefined, 'the warning cleared');
      // the repeated warning was not published: the next status is the clearing one
      expect(statuses.length).toBe(n + 1);
      expect(statuses.at(-1)!.state).toBe('degraded');
    } finally {
      await watcher.endAsync();
      await svc.stop(0);
      await broker.stop();
    }
  });

  it('stop() after a failed start() stops what there is instead of throwing', async () => {
    const svc = service('mqtt://127.0.0.1:1');
    // the outbox directory cannot be made: start() fails before any connection exists
    writeFileSync(join(stateDirOf(svc), 'outbox'), 'not a directory');
    await expect(svc.start()).rejects.toThrow(/cannot open the outbox/);
    await expect(svc.stop()).resolves.toBeUndefined();
  });
});
