import mqtt, { type IClientOptions, type IPublishPacket, type ISubscriptionMap, type MqttClient } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { deviceTopics, validateLevel, validatePrefix } from '../mqtt/topics.js';
import type { CommandArgs, CommandVerb, ReplyPayload } from '../mqtt/payloads.js';
import { MAX_SNAPSHOT_BYTES, validateMessage } from './validate.js';
import type { FleetStore } from './store.js';

export interface IngestOptions {
  url: string;
  prefix: string;
  /** MQTT 5 shared-subscription group for telemetry: several dashboards/ingesters split the load */
  shareGroup?: string;
  clientId?: string;
  username?: string;
  password?: string;
}

export interface IngestStats {
  connected: boolean;
  protocolVersion: 4 | 5;
  /** messages received on the fleet topics */
  messages: number;
  applied: number;
  rejected: number;
  rejectedBy: Record<string, number>;
  lastRejection?: string;
  lastError?: string;
}

interface PendingReply { resolve: (r: ReplyPayload) => void; timer: NodeJS.Timeout }

/**
 * The dashboard's MQTT side: subscribes the fleet topics, validates every message (validate.ts) into the store,
 * and sends commands (MQTT 5 response topic + correlation data; on 3.1.1 the device's reply/<verb> topic).
 *
 * It subscribes the kinds it shows rather than `<prefix>/+/#`: retained snapshot JPEGs of the whole fleet and
 * every command/reply would otherwise flow into a process that drops them; snapshots are subscribed per request.
 */
export class FleetIngest extends EventEmitter {
  private client: MqttClient | undefined;
  private protocolVersion: 4 | 5 = 5;
  private triedDowngrade = false;
  private stopped = false;
  private readonly clientId: string;
  private readonly replyTopic: string;
  private readonly pending = new Map<string, PendingReply>();
  private readonly snapshots = new Map<string, Promise<{ jpeg: Buffer; reply: ReplyPayload }>>();
  readonly stats: IngestStats = { connected: false, protocolVersion: 5, messages: 0, applied: 0, rejected: 0, rejectedBy: {} };

  constructor(private readonly o: IngestOptions, private readonly store: FleetStore) {
    super();
    validatePrefix(o.prefix);
    if (o.shareGroup !== undefined) validateLevel(o.shareGroup, 'share group');
    this.clientId = o.clientId ?? `edgefit-dashboard-${randomBytes(4).toString('hex')}`;
    this.replyTopic = `edgefit-dashboard/${validateLevel(this.clientId, 'client id')}/reply`;
  }

  /** Resolves once connected and subscribed the first time; rejects when the first connection fails. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      this.once('subscribed', () => { if (!settled) { settled = true; resolve(); } });
      this.once('first-failure', (err: Error) => { if (!settled) { settled = true; reject(err); } });
      this.connect();
    });
  }

  private connect(): void {
    if (this.stopped) return;
    const opts: IClientOptions = {
      clientId: this.clientId, protocolVersion: this.protocolVersion, clean: true, reconnectPeriod: 2000,
      connectTimeout: 10_000, resubscribe: false,
      ...(this.o.username ? { username: this.o.username } : {}), ...(this.o.password ? { password: this.o.password } : {}),
    };
    const client = mqtt.connect(this.o.url, opts);
    this.client = client;
    let connectedOnce = false;
    client.on('connect', () => {
      connectedOnce = true;
      this.stats.connected = true;
      this.stats.protocolVersion = this.protocolVersion;
      this.subscribeAll(client).then(
        () => this.emit('subscribed'),
        (err: unknown) => { this.stats.lastError = errorMessage(err); this.emit('first-failure', err); this.emit('problem', err); },
      );
    });
    client.on('close', () => { this.stats.connected = false; });
    client.on('error', (err: Error & { code?: number | string }) => {
      this.stats.lastError = err.message;
      if (!connectedOnce && (err.code === 1 || err.code === 132) && this.protocolVersion === 5 && !this.triedDowngrade) {
        // the broker speaks 3.1.1 only (aedes, old mosquitto): shared subscriptions and response topics go with it
        this.triedDowngrade = true;
        this.protocolVersion = 4;
        client.end(true);
        this.connect();
        return;
      }
      if (!connectedOnce) this.emit('first-failure', new EdgefitError('E_DASHBOARD_BROKER', `cannot connect to the broker ${this.o.url.replace(/\/\/[^@/]*@/, '//***@')}: ${err.message}; check --broker`, { cause: err }));
    });
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet));
  }

  private subscribeAll(client: MqttClient): Promise<void> {
    const p = this.o.prefix;
    const map: ISubscriptionMap = {
      [`${p}/+/status`]: { qos: 1 },
      [`${p}/+/model`]: { qos: 1 },
      [`${p}/+/event`]: { qos: 1 },
      // only the newest result per device is shown: QoS 0 spares the broker an ack per result
      [`${p}/+/result`]: { qos: 0 },
      [this.o.shareGroup ? `$share/${this.o.shareGroup}/${p}/+/telemetry` : `${p}/+/telemetry`]: { qos: 0 },
      ...(this.protocolVersion === 5 ? { [this.replyTopic]: { qos: 1 } } : {}),
    };
    return new Promise((resolve, reject) => {
      client.subscribe(map, (err, granted) => {
        if (err) return reject(new EdgefitError('E_DASHBOARD_SUBSCRIBE', `subscribing the fleet topics failed: ${err.message}`, { cause: err }));
        const refused = (granted ?? []).filter((g) => g.qos === 128 || g.qos > 2);
        if (refused.length) return reject(new EdgefitError('E_DASHBOARD_SUBSCRIBE', `the broker refused ${refused.map((g) => g.topic).join(', ')}; check its ACL (and that it supports shared subscriptions with --share-group)`));
        resolve();
      });
    });
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.replyTopic) {
      const key = packet.properties?.correlationData ? Buffer.from(packet.properties.correlationData).toString('hex') : '';
      this.settleReply(key, payload);
      return;
    }
    if (topic.endsWith('/snapshot') || topic.includes('/reply/')) {
      this.emit('raw', topic, payload, packet);
      return;
    }
    this.stats.messages++;
    const m = validateMessage(this.o.prefix, topic, payload);
    if ('reason' in m) {
      this.stats.rejected++;
      this.stats.rejectedBy[m.reason] = (this.stats.rejectedBy[m.reason] ?? 0) + 1;
      this.stats.lastRejection = `${m.reason}: ${m.detail}`;
      return;
    }
    if (this.store.apply(m, Date.now(), !packet.retain)) this.stats.applied++;
  }

  private settleReply(key: string, payload: Buffer): void {
    const p = this.pending.get(key);
    if (!p) return;
    this.pending.delete(key);
    clearTimeout(p.timer);
    let reply: ReplyPayload;
    try {
      const r = JSON.parse(payload.toString('utf8')) as ReplyPayload;
      reply = typeof r === 'object' && r !== null && typeof r.ok === 'boolean' ? r : { verb: 'invalid', ok: false, error: { code: 'invalid-reply', message: 'the device replied with something that is not a reply' } };
    } catch {
      reply = { verb: 'invalid', ok: false, error: { code: 'invalid-reply', message: 'the device replied with invalid JSON' } };
    }
    p.resolve(reply);
  }

  private live(): MqttClient {
    const c = this.client;
    if (!c || !c.connected) throw new EdgefitError('E_DASHBOARD_OFFLINE', 'the dashboard is not connected to the broker right now; try again in a moment');
    return c;
  }

  /** Sends a command and waits for its reply (timeout: a reply with ok=false, code "timeout"). */
  async command<V extends CommandVerb>(deviceId: string, verb: V, args: CommandArgs[V], timeoutMs = 10_000): Promise<ReplyPayload> {
    const c = this.live();
    const topics = deviceTopics(this.o.prefix, deviceId);
    const id = `dash-${randomBytes(8).toString('hex')}`;
    const body = JSON.stringify({ id, args });
    const v5 = this.protocolVersion === 5;
    const key = v5 ? randomBytes(16).toString('hex') : id;
    const replyTopic = topics.reply(verb);
    const onRaw = (topic: string, payload: Buffer) => {
      if (topic !== replyTopic) return;
      try { if ((JSON.parse(payload.toString('utf8')) as { id?: unknown }).id === id) this.settleReply(key, payload); } catch { /* not ours */ }
    };
    if (!v5) {
      this.on('raw', onRaw);
      await subscribe(c, replyTopic, 1);
    }
    try {
      return await new Promise<ReplyPayload>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(key);
          resolve({ id, verb, ok: false, error: { code: 'timeout', message: `${deviceId} did not answer "${verb}" within ${timeoutMs} ms (is it online?)` } });
        }, timeoutMs);
        this.pending.set(key, { resolve, timer });
        c.publish(topics.command(verb), body, { qos: 1, ...(v5 ? { properties: { responseTopic: this.replyTopic, correlationData: Buffer.from(key, 'hex') } } : {}) }, (err) => {
          if (err) { clearTimeout(timer); this.pending.delete(key); reject(new EdgefitError('E_DASHBOARD_PUBLISH', `sending ${verb} to ${deviceId} failed: ${err.message}`, { cause: err })); }
        });
      });
    } finally {
      if (!v5) { this.off('raw', onRaw); c.unsubscribe(replyTopic); }
    }
  }

  /**
   * Asks the device for a snapshot and returns the JPEG it publishes (retained) on its snapshot topic. The
   * retained copy delivered on subscription is an old frame: only a message forwarded live (retain flag clear)
   * counts. One request per device at a time; concurrent callers share it.
   */
  snapshot(deviceId: string, quality = 80, timeoutMs = 10_000): Promise<{ jpeg: Buffer; reply: ReplyPayload }> {
    validateLevel(deviceId, 'device id');
    const inFlight = this.snapshots.get(deviceId);
    if (inFlight) return inFlight;
    const job = this.doSnapshot(deviceId, quality, timeoutMs).finally(() => this.snapshots.delete(deviceId));
    this.snapshots.set(deviceId, job);
    return job;
  }

  private async doSnapshot(deviceId: string, quality: number, timeoutMs: number): Promise<{ jpeg: Buffer; reply: ReplyPayload }> {
    const c = this.live();
    const topic = deviceTopics(this.o.prefix, deviceId).snapshot;
    let jpeg: Buffer | undefined;
    let bad: string | undefined;
    let wake: (() => void) | undefined;
    const onRaw = (t: string, payload: Buffer, packet: IPublishPacket) => {
      if (t !== topic || packet.retain) return;
      if (payload.length > MAX_SNAPSHOT_BYTES) bad = `the snapshot is ${payload.length} bytes (limit ${MAX_SNAPSHOT_BYTES})`;
      else if (payload.length < 4 || payload[0] !== 0xff || payload[1] !== 0xd8) bad = 'the snapshot is not a JPEG';
      else jpeg = Buffer.from(payload);
      wake?.();
    };
    this.on('raw', onRaw);
    try {
      await subscribe(c, topic, 0);
      const reply = await this.command(deviceId, 'snapshot', { quality }, timeoutMs);
      if (!reply.ok) throw new EdgefitError(reply.error?.code === 'timeout' ? 'E_SNAPSHOT_TIMEOUT' : 'E_SNAPSHOT', `snapshot of ${deviceId} failed: ${reply.error?.message ?? 'refused'}`);
      // the device publishes the image before it replies; allow for the broker delivering them out of order
      if (!jpeg && !bad) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 3000); });
      if (bad) throw new EdgefitError('E_SNAPSHOT', `snapshot of ${deviceId} refused: ${bad}`);
      if (!jpeg) throw new EdgefitError('E_SNAPSHOT_TIMEOUT', `${deviceId} answered but its snapshot did not arrive on ${topic}`);
      return { jpeg, reply };
    } finally {
      this.off('raw', onRaw);
      if (c.connected) c.unsubscribe(topic);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { c.end(true, () => resolve()); }, 2000);
      c.end(false, () => { clearTimeout(t); resolve(); });
    });
  }
}

function subscribe(c: MqttClient, topic: string, qos: 0 | 1): Promise<void> {
  return new Promise((resolve, reject) => {
    c.subscribe(topic, { qos }, (err, granted) => {
      if (err) return reject(new EdgefitError('E_DASHBOARD_SUBSCRIBE', `subscribing ${topic} failed: ${err.message}`, { cause: err }));
      if (granted?.[0] && granted[0].qos === 128) return reject(new EdgefitError('E_DASHBOARD_SUBSCRIBE', `the broker refused ${topic}; check its ACL`));
      resolve();
    });
  });
}
