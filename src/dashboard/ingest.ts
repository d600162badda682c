import type { IPublishPacket, ISubscriptionMap } from 'mqtt';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { MqttLink, redact, refusedGrants, type LinkHints } from '../mqtt/link.js';
import { Backoff } from '../mqtt/backoff.js';
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
  /** files for an mqtts:// broker: a private CA, a client certificate and its key */
  tls?: { ca?: string; cert?: string; key?: string };
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

interface PendingReply { topic: string; resolve: (r: ReplyPayload) => void; timer: NodeJS.Timeout }

/** <device>/reply/<verb>, below the prefix */
const REPLY = /^[^/]+\/reply\/[^/]+$/;
/** A reply is a few hundred bytes; anything near this is not one. */
const MAX_REPLY_BYTES = 64 * 1024;

/** The dashboard's flags, named in the link's error messages. */
const hints: LinkHints = { credentials: '--username / EDGEFIT_MQTT_PASSWORD', tlsFile: (what) => `--tls-${what}`, tlsWhere: 'given to edgefit dashboard' };

/**
 * The dashboard's MQTT side: subscribes the fleet topics, validates every message (validate.ts) into the store,
 * and sends commands. The connection is the daemon's MqttLink (TLS files, MQTT 5 with a 3.1.1 fallback, backoff,
 * redacted URLs), without a will.
 *
 * It subscribes the kinds it shows rather than `<prefix>/+/#`: retained snapshot JPEGs of the whole fleet and
 * every command/reply would otherwise flow into a process that drops them; snapshots and replies are subscribed
 * per request. A reply is asked for on the device's own `<prefix>/<device>/reply/<verb>` (as the MQTT 5 response
 * topic, with the request id as correlation data): the only reply topic the shipped ACL lets a device write.
 */
export class FleetIngest extends EventEmitter {
  private readonly link: MqttLink;
  private connectedOnce = false;
  private subscribedOnce = false;
  private readonly pending = new Map<string, PendingReply>();
  /** reply topics subscribed for requests in flight, with how many requests wait on each */
  private readonly replySubs = new Map<string, number>();
  private readonly snapshots = new Map<string, Promise<{ jpeg: Buffer; reply: ReplyPayload }>>();
  readonly stats: IngestStats = { connected: false, protocolVersion: 5, messages: 0, applied: 0, rejected: 0, rejectedBy: {} };

  constructor(private readonly o: IngestOptions, private readonly store: FleetStore) {
    super();
    validatePrefix(o.prefix);
    if (o.shareGroup !== undefined) validateLevel(o.shareGroup, 'share group');
    const t = o.tls;
    this.link = new MqttLink({
      url: o.url,
      clientId: o.clientId ?? `edgefit-dashboard-${randomBytes(4).toString('hex')}`,
      protocolVersion: 5,
      keepaliveSeconds: 30,
      backoff: new Backoff(1000, 30_000),
      hints,
      ...(o.username ? { username: o.username } : {}),
      ...(o.password ? { password: o.password } : {}),
      ...(t?.ca || t?.cert || t?.key || o.url.startsWith('mqtts:') ? { tls: { ...(t?.ca ? { ca: t.ca } : {}), ...(t?.cert ? { cert: t.cert } : {}), ...(t?.key ? { key: t.key } : {}), rejectUnauthorized: true } } : {}),
    });
    this.link.on('connect', (_client: unknown, version: 4 | 5) => this.onConnect(version));
    this.link.on('close', () => { this.stats.connected = false; });
    this.link.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => this.onMessage(topic, payload, packet));
    this.link.on('error', (err: Error) => {
      // refused credentials, unreadable TLS files: the link retries slowly; the first time, start() fails with it
      this.stats.lastError = err.message;
      this.failed(err);
    });
    this.link.on('waiting', (delayMs: number, reason: string) => {
      this.stats.lastError = reason;
      this.failed(new EdgefitError('E_DASHBOARD_BROKER', this.connectedOnce
        ? `lost the broker ${redact(o.url)} (${reason}); reconnecting in ${Math.round(delayMs / 1000)} s`
        : `cannot connect to the broker ${redact(o.url)}: ${reason}; check --broker`));
    });
  }

  /** Resolves once connected and subscribed the first time; rejects when the first connection fails. */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      this.once('subscribed', () => { if (!settled) { settled = true; resolve(); } });
      this.once('first-failure', (err: Error) => { if (!settled) { settled = true; reject(err); } });
      this.link.start();
    });
  }

  private failed(err: Error): void {
    if (!this.subscribedOnce) this.emit('first-failure', err);
    this.emit('problem', err);
  }

  /** Every connection starts clean: the fleet subscriptions are made again each time. */
  private onConnect(version: 4 | 5): void {
    this.connectedOnce = true;
    this.stats.connected = true;
    this.stats.protocolVersion = version;
    this.subscribeAll().then(
      () => { this.subscribedOnce = true; this.emit('subscribed'); },
      (err: unknown) => { this.stats.lastError = errorMessage(err); this.failed(err as Error); },
    );
  }

  private async subscribeAll(): Promise<void> {
    const p = this.o.prefix;
    const map: ISubscriptionMap = {
      [`${p}/+/status`]: { qos: 1 },
      [`${p}/+/model`]: { qos: 1 },
      [`${p}/+/event`]: { qos: 1 },
      // only the newest result per device is shown: QoS 0 spares the broker an ack per result
      [`${p}/+/result`]: { qos: 0 },
      // and per camera of a device with several (<device>/<camera>/result)
      [`${p}/+/+/result`]: { qos: 0 },
      [this.o.shareGroup ? `$share/${this.o.shareGroup}/${p}/+/telemetry` : `${p}/+/telemetry`]: { qos: 0 },
    };
    let refused: string[];
    try {
      refused = refusedGrants(await this.link.subscribe(map));
    } catch (err) {
      throw new EdgefitError('E_DASHBOARD_SUBSCRIBE', `subscribing the fleet topics failed: ${errorMessage(err)}`, { cause: err });
    }
    if (refused.length) throw new EdgefitError('E_DASHBOARD_SUBSCRIBE', `the broker refused ${refused.join(', ')}; check its ACL (and that it supports shared subscriptions with --share-group)`);
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (REPLY.test(topic.slice(this.o.prefix.length + 1))) {
      this.onReply(topic, payload, packet);
      return;
    }
    if (topic.endsWith('/snapshot')) {
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

  /**
   * A reply is ours when it arrives on the topic its request named and carries the request's id: as MQTT 5
   * correlation data, or in the payload (3.1.1). Other dashboards' and operators' replies on the topic are ignored.
   */
  private onReply(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (payload.length > MAX_REPLY_BYTES) return;
    let reply: ReplyPayload | undefined;
    try {
      const r = JSON.parse(payload.toString('utf8')) as ReplyPayload;
      if (typeof r === 'object' && r !== null && typeof r.ok === 'boolean') reply = r;
    } catch { /* judged below, once we know it is ours */ }
    const cd = packet.properties?.correlationData;
    const id = cd ? Buffer.from(cd).toString('utf8') : reply?.id;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || p.topic !== topic) return;
    this.pending.delete(id!);
    clearTimeout(p.timer);
    p.resolve(reply ?? { verb: 'invalid', ok: false, error: { code: 'E_INVALID_REPLY', message: 'the device replied with something that is not a reply' } });
  }

  private live(): void {
    if (this.link.state !== 'connected') throw new EdgefitError('E_DASHBOARD_OFFLINE', 'the dashboard is not connected to the broker right now; try again in a moment');
  }

  private async holdReplyTopic(topic: string): Promise<void> {
    const n = this.replySubs.get(topic) ?? 0;
    this.replySubs.set(topic, n + 1);
    if (n > 0) return;
    try {
      await this.subscribeOne(topic, 1);
    } catch (err) {
      this.releaseReplyTopic(topic);
      throw err;
    }
  }

  private async subscribeOne(topic: string, qos: 0 | 1): Promise<void> {
    let refused: string[];
    try { refused = refusedGrants(await this.link.subscribe([topic], qos)); } catch (err) {
      throw new EdgefitError('E_DASHBOARD_SUBSCRIBE', `subscribing ${topic} failed: ${errorMessage(err)}`, { cause: err });
    }
    if (refused.length) throw new EdgefitError('E_DASHBOARD_SUBSCRIBE', `the broker refused ${topic}; this dashboard's MQTT user needs read access to it in the broker's ACL`);
  }

  private releaseReplyTopic(topic: string): void {
    const n = (this.replySubs.get(topic) ?? 1) - 1;
    if (n > 0) { this.replySubs.set(topic, n); return; }
    this.replySubs.delete(topic);
    void this.link.unsubscribe([topic]);
  }

  /** Sends a command and waits for its reply (timeout: a reply with ok=false, code "timeout"). */
  async command<V extends CommandVerb>(deviceId: string, verb: V, args: CommandArgs[V], timeoutMs = 10_000): Promise<ReplyPayload> {
    this.live();
    const topics = deviceTopics(this.o.prefix, deviceId);
    const id = `dash-${randomBytes(8).toString('hex')}`;
    const replyTopic = topics.reply(verb);
    await this.holdReplyTopic(replyTopic);
    try {
      return await new Promise<ReplyPayload>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          // a 3.1.1 broker drops a publish its ACL refuses without telling the sender
          const acl = this.link.protocolVersion === 4 ? `, and may this dashboard's MQTT user write ${topics.command(verb)}` : '';
          resolve({ id, verb, ok: false, error: { code: 'E_TIMEOUT', message: `${deviceId} did not answer "${verb}" within ${timeoutMs} ms (is it online${acl}?)` } });
        }, timeoutMs);
        this.pending.set(id, { topic: replyTopic, resolve, timer });
        // the response topic is the device's own reply topic (the link leaves properties out on 3.1.1)
        this.link.publish(topics.command(verb), JSON.stringify({ id, args }), { qos: 1, properties: { responseTopic: replyTopic, correlationData: Buffer.from(id) } }).catch((err: unknown) => {
          clearTimeout(timer);
          this.pending.delete(id);
          reject(/not authori[sz]ed|\b135\b/i.test(errorMessage(err))
            ? new EdgefitError('E_DASHBOARD_ACL', `the broker refused "${verb}" to ${deviceId} from this dashboard's MQTT user; its ACL needs "topic write ${this.o.prefix}/+/cmd/${verb}" (deploy/mosquitto/add-device.sh --dashboard writes it)`, { cause: err })
            : new EdgefitError('E_DASHBOARD_PUBLISH', `sending ${verb} to ${deviceId} failed: ${errorMessage(err)}`, { cause: err }));
        });
      });
    } finally {
      this.releaseReplyTopic(replyTopic);
    }
  }

  /**
   * Asks the device for a snapshot and returns the JPEG it publishes (retained) on its snapshot topic. The
   * retained copy delivered on subscription is an old frame: only a message forwarded live (retain flag clear)
   * counts. One request per device (and camera) at a time; concurrent callers share it. `camera`: one camera of a
   * device with several, which publishes its frame on <prefix>/<device>/<camera>/snapshot.
   */
  snapshot(deviceId: string, quality = 80, timeoutMs = 10_000, camera?: string): Promise<{ jpeg: Buffer; reply: ReplyPayload }> {
    validateLevel(deviceId, 'device id');
    if (camera !== undefined) validateLevel(camera, 'camera id');
    const key = camera === undefined ? deviceId : `${deviceId}/${camera}`;
    const inFlight = this.snapshots.get(key);
    if (inFlight) return inFlight;
    const job = this.doSnapshot(deviceId, quality, timeoutMs, camera).finally(() => this.snapshots.delete(key));
    this.snapshots.set(key, job);
    return job;
  }

  private async doSnapshot(deviceId: string, quality: number, timeoutMs: number, camera: string | undefined): Promise<{ jpeg: Buffer; reply: ReplyPayload }> {
    this.live();
    const topics = deviceTopics(this.o.prefix, deviceId);
    const topic = camera === undefined ? topics.snapshot : topics.cameraSnapshot(camera);
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
      await this.subscribeOne(topic, 0);
      const reply = await this.command(deviceId, 'snapshot', camera === undefined ? { quality } : { quality, camera }, timeoutMs);
      if (!reply.ok) throw new EdgefitError(reply.error?.code === 'E_TIMEOUT' ? 'E_SNAPSHOT_TIMEOUT' : 'E_SNAPSHOT', `snapshot of ${deviceId} failed: ${reply.error?.message ?? 'refused'}`);
      // the device publishes the image before it replies; allow for the broker delivering them out of order
      if (!jpeg && !bad) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 3000); });
      if (bad) throw new EdgefitError('E_SNAPSHOT', `snapshot of ${deviceId} refused: ${bad}`);
      if (!jpeg) throw new EdgefitError('E_SNAPSHOT_TIMEOUT', `${deviceId} answered but its snapshot did not arrive on ${topic}`);
      return { jpeg, reply };
    } finally {
      this.off('raw', onRaw);
      void this.link.unsubscribe([topic]);
    }
  }

  async stop(): Promise<void> {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await this.link.stop();
  }
}
