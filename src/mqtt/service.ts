import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { MqttClient, IPublishPacket } from 'mqtt';
import { MqttLink, redact } from './link.js';
import { Backoff } from './backoff.js';
import { Outbox } from './outbox.js';
import { SessionCounter } from './session.js';
import { deviceTopics, validatePrefix, type DeviceTopics } from './topics.js';
import { discoveryMessages } from './discovery.js';
import { DiscoveryRecord } from './discovery-state.js';
import { CommandDispatcher, MAX_COMMAND_BYTES, replyTarget, type CommandHandlers } from './commands.js';
import { MAX_ROLLOUT_PAYLOAD, MAX_STATE_PAYLOAD } from './fleet-rollout.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import type { DeviceState, EventPayload, ModelPayload, ResultPayload, StatusPayload, TelemetryPayload } from './payloads.js';
import type { MqttConfig } from '../config/types.js';

export interface MqttServiceOptions {
  config: MqttConfig;
  /** the broker to use (config.url, or the embedded broker's) */
  url: string;
  deviceId: string;
  stateDir: string;
  version: string;
  board: string;
  handlers: CommandHandlers;
  /** what the running model's results hold (Home Assistant entities differ); default classification */
  task?: 'classification' | 'detection';
  /** several cameras: Home Assistant gets one set of entities per camera */
  cameras?: { id: string; task: 'classification' | 'detection' }[];
  /** publishes in flight at once from the outbox */
  maxInflight?: number;
  /** how long records the broker refused wait before they are sent again (default: 1 s doubling up to mqtt.reconnectMaxSeconds) */
  refusalBackoff?: Backoff;
  /** announcements Home Assistant's `online` asks for start at least this far apart (default HA_ANNOUNCE_INTERVAL_MS) */
  haAnnounceIntervalMs?: number;
}

/**
 * Home Assistant says `online` once per restart; a client that says it without pause would otherwise keep the device
 * publishing its whole discovery set back to back. The first request is answered at once, later ones at this pace.
 */
export const HA_ANNOUNCE_INTERVAL_MS = 10_000;

/**
 * The largest packet the broker may send the daemon (MQTT 5 Maximum Packet Size): the largest payload it reads (a
 * command, the rollout's desired catalog and its state; Home Assistant's status is a word) plus room for the fixed
 * header, the topic (at most 65535 bytes) and the properties. Anything bigger is dropped unread anyway; asked this
 * way, the broker withholds it instead of the daemon reading it whole into memory first.
 */
export const MAX_INBOUND_PACKET = Math.max(MAX_COMMAND_BYTES, MAX_ROLLOUT_PAYLOAD, MAX_STATE_PAYLOAD) + 64 * 1024;

/** refused records are never sent again sooner than this, whatever the backoff's jitter draws */
const REFUSAL_FLOOR_MS = 1000;

export interface MqttStats {
  connected: boolean;
  protocolVersion: 4 | 5;
  session: number;
  reconnects: number;
  lastError?: string;
  outbox: { depth: number; dropped: number; accepted: number; lastSeq: number };
  refusedAppends: number;
  telemetrySkipped: number;
}

/**
 * The daemon's MQTT interface: status (retained, will), model (retained), results and events through the
 * durable outbox (QoS 1, in order, nothing accepted is lost), telemetry (QoS 0, skipped while offline),
 * commands with replies, Home Assistant discovery. Retained topics are republished on every connection.
 */
export class MqttService extends EventEmitter {
  readonly topics: DeviceTopics;
  private link!: MqttLink;
  private outbox!: Outbox;
  private sessions: SessionCounter;
  private state: DeviceState = 'online';
  private warning: string | undefined;
  private model: ModelPayload | undefined;
  private inflight = new Set<number>();
  private pumping = false;
  private dispatcher: CommandDispatcher;
  private refusedAppends = 0;
  private telemetrySkipped = 0;
  private ready = false;
  private haPrefix: string;
  private readonly discovery: DiscoveryRecord;
  /** topics other services follow (the fleet's rollout), subscribed on every connection */
  private readonly watched = new Map<string, (payload: Buffer) => void>();
  private readonly refusals: Backoff;
  /** set while the pump waits after a refusal */
  private held: NodeJS.Timeout | undefined;
  private discoveryRun: Promise<void> = Promise.resolve();
  /** a Home Assistant announcement waits (for its turn in the discovery chain, or for the pace to allow it) */
  private announceQueued = false;
  private announceTimer: NodeJS.Timeout | undefined;
  /** when the last announcement Home Assistant asked for started */
  private announcedAt = -Infinity;

  constructor(private readonly o: MqttServiceOptions) {
    super();
    this.topics = deviceTopics(o.config.prefix, o.deviceId);
    this.haPrefix = validatePrefix(o.config.homeAssistant.prefix);
    this.sessions = new SessionCounter(o.stateDir);
    this.dispatcher = new CommandDispatcher(o.handlers);
    this.discovery = new DiscoveryRecord(o.stateDir);
    this.refusals = o.refusalBackoff ?? new Backoff(1000, o.config.reconnectMaxSeconds * 1000);
  }

  get session(): number { return this.sessions.current; }

  async start(): Promise<void> {
    this.outbox = await Outbox.open(join(this.o.stateDir, 'outbox'), { maxMessages: this.o.config.outbox.maxMessages, maxBytes: this.o.config.outbox.maxBytes });
    const tls = this.o.config.tls;
    this.link = new MqttLink({
      url: this.o.url,
      clientId: `edgefit-${this.o.deviceId}`,
      protocolVersion: this.o.config.protocolVersion,
      keepaliveSeconds: this.o.config.keepaliveSeconds,
      backoff: new Backoff(1000, this.o.config.reconnectMaxSeconds * 1000),
      maximumPacketSize: MAX_INBOUND_PACKET,
      ...(this.o.config.username ? { username: this.o.config.username } : {}),
      ...(this.o.config.password ? { password: this.o.config.password } : {}),
      ...(tls.ca || tls.cert || tls.key || this.o.url.startsWith('mqtts:') ? { tls: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), rejectUnauthorized: tls.rejectUnauthorized } } : {}),
      will: () => {
        const session = this.sessions.next();
        return { topic: this.topics.status, payload: JSON.stringify(this.statusPayload('offline', session)) };
      },
    });
    this.link.on('connect', (client: MqttClient) => { void this.onConnect(client); });
    this.link.on('close', () => { this.ready = false; this.inflight.clear(); this.release(); this.emit('offline'); });
    this.link.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => { void this.onMessage(topic, payload, packet); });
    this.link.on('error', (err: Error) => this.emit('error', err));
    this.link.on('waiting', (delay: number, reason: string) => this.emit('waiting', delay, reason));
    this.link.start();
  }

  private statusPayload(state: DeviceState, session = this.sessions.current): StatusPayload {
    return {
      state, session, deviceId: this.o.deviceId, ts: new Date().toISOString(), version: this.o.version,
      ...(this.warning && state !== 'offline' ? { warning: this.warning } : {}),
    };
  }

  private async onConnect(client: MqttClient): Promise<void> {
    this.inflight.clear();
    // a new connection may come with a corrected ACL: what was refused is tried again at once
    this.release();
    this.ready = false;
    try {
      await this.link.subscribe([this.topics.commands, `${this.haPrefix}/status`, ...this.watched.keys()]);
      // setModel/setStatus while these are in flight only store (not ready yet): publish again until what
      // was published is what is stored, or a model set during the connection's set-up is never published
      let published: unknown[];
      do {
        published = [this.model, this.state, this.warning];
        await this.publishRetained();
      } while (published[0] !== this.model || published[1] !== this.state || published[2] !== this.warning);
      this.ready = true;
      this.emit('online', this.link.protocolVersion);
      this.pump();
    } catch (err) {
      // the connection died while setting up; the next connection does it again
      if (this.link.client === client) this.emit('error', err);
    }
  }

  private async publishRetained(): Promise<void> {
    const jobs: Promise<void>[] = [this.link.publish(this.topics.status, JSON.stringify(this.statusPayload(this.state)), { qos: 1, retain: true })];
    if (this.model) jobs.push(this.link.publish(this.topics.model, JSON.stringify({ ...this.model, session: this.session }), { qos: 1, retain: true }));
    if (this.o.config.homeAssistant.enabled) jobs.push(this.publishDiscovery());
    await Promise.all(jobs);
  }

  /**
   * One announcement at a time (the connection's and Home Assistant's asking), each saving the record after it.
   * `starting` runs when its turn comes, and may call it off (returns false).
   */
  private publishDiscovery(starting: () => boolean = () => true): Promise<void> {
    const run = this.discoveryRun.then(() => (starting() ? this.publishDiscoveryNow() : undefined));
    this.discoveryRun = run.catch(() => undefined);
    return run;
  }

  private async publishDiscoveryNow(): Promise<void> {
    const msgs = discoveryMessages(this.haPrefix, this.o.deviceId, this.topics, {
      version: this.o.version, board: this.o.board, task: this.o.task ?? 'classification', watchLabels: this.o.config.homeAssistant.watchLabels,
      ...(this.o.cameras ? { cameras: this.o.cameras } : {}),
    });
    await Promise.all((await this.discovery.withStale(msgs)).map((m) => this.link.publish(m.topic, m.payload, { qos: 1, retain: true })));
    // a full disk loses only the later clean-up of entities no longer announced, never the announcement
    await this.discovery.save(msgs).catch((err: unknown) => this.emit('error', err));
  }

  private async onMessage(topic: string, payload: Buffer, packet: IPublishPacket): Promise<void> {
    try {
      if (topic === `${this.haPrefix}/status`) {
        if (payload.toString() === 'online' && this.o.config.homeAssistant.enabled) this.announce();
        return;
      }
      const watcher = this.watched.get(topic);
      if (watcher) { watcher(payload); return; }
      const verb = this.topics.verbOf(topic);
      if (verb === undefined) return;
      const reply = await this.dispatcher.handle(verb, payload);
      const target = replyTarget(packet, this.topics.reply(verb));
      await this.link.publish(target.topic, JSON.stringify(reply), {
        qos: 1,
        ...(target.correlationData && this.link.protocolVersion === 5 ? { properties: { correlationData: target.correlationData } } : {}),
      });
      this.emit('command', verb, reply);
    } catch (err) {
      this.emit('error', err);
    }
  }

  /**
   * Home Assistant says `online` on every restart, and anyone allowed to write its status topic can say it in a
   * burst or without pause: one announcement at a time, at most one per HA_ANNOUNCE_INTERVAL_MS, and all the
   * requests that arrive before one starts are answered by it.
   */
  private announce(): void {
    if (this.announceQueued) return;
    this.announceQueued = true;
    const go = () => {
      this.announceTimer = undefined;
      // the one waiting answers every request made before it starts; offline, the connection announces anyway
      this.publishDiscovery(() => { this.announceQueued = false; this.announcedAt = Date.now(); return this.ready; })
        .catch((err: unknown) => this.emit('error', err));
    };
    const wait = this.announcedAt + (this.o.haAnnounceIntervalMs ?? HA_ANNOUNCE_INTERVAL_MS) - Date.now();
    if (wait > 0) this.announceTimer = setTimeout(go, wait);
    else go();
  }

  /** Sends outbox records in order, a window at a time; each PUBACK moves the durable cursor. */
  private pump(): void {
    if (this.pumping || !this.ready || this.held) return;
    this.pumping = true;
    try {
      const max = this.o.maxInflight ?? 32;
      for (const e of this.outbox.iterate()) {
        if (this.inflight.size >= max) break;
        if (this.inflight.has(e.seq)) continue;
        this.inflight.add(e.seq);
        const client = this.link.client;
        this.link.publish(e.topic, e.payload, { qos: 1 }).then(
          () => {
            this.inflight.delete(e.seq);
            if (!this.held) this.refusals.reset();
            this.outbox.ack(e.seq);
            this.pump();
          },
          (err: unknown) => {
            this.inflight.delete(e.seq);
            // only a PUBACK with a failure reason code (MQTT 5, >= 0x80) is a refusal; mqtt.js fails the publishes
            // in flight with a plain error when it ends a connection itself (keepalive timeout, a network drop),
            // before the socket's close is seen: those are re-sent on the next connection
            if (this.link.client !== client || !refusalCode(err)) return;
            this.hold(e.topic, err);
          },
        );
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The broker refused a record on a live connection (MQTT 5: a PUBACK reason code such as 135, its ACL). It stays in
   * the outbox; sent again at once it would be refused again, so the pump waits, longer each time, and says why.
   */
  private hold(topic: string, cause: unknown): void {
    if (this.held) return;
    const delay = this.refusals.nextAtLeast(REFUSAL_FLOOR_MS);
    this.held = setTimeout(() => { this.held = undefined; this.pump(); }, delay);
    const err = new EdgefitError('E_MQTT_REFUSED', `the broker at ${redact(this.o.url)} refused a publish to ${topic} (${errorMessage(cause)}); allow client edgefit-${this.o.deviceId} to publish to ${this.topics.base}/# in the broker's ACL. The outbox keeps the record and sends it again in ${Math.ceil(delay / 1000)} s`, { cause });
    this.link.lastError = err.message;
    this.emit('error', err);
  }

  private release(): void {
    if (this.held) clearTimeout(this.held);
    this.held = undefined;
  }

  /** Accepts a result: durable in the outbox when this resolves; returns its seq. Rejects when the disk refuses. */
  async publishResult(build: (seq: number, session: number) => ResultPayload, topic: string = this.topics.result): Promise<number> {
    try {
      const e = await this.outbox.append(topic, (seq) => JSON.stringify(build(seq, this.session)));
      this.pump();
      return e.seq;
    } catch (err) {
      this.refusedAppends++;
      throw err;
    }
  }

  async publishEvent(ev: Omit<EventPayload, 'deviceId' | 'session' | 'ts'>): Promise<void> {
    const payload: EventPayload = { deviceId: this.o.deviceId, session: this.session, ts: new Date().toISOString(), ...ev };
    try {
      await this.outbox.append(this.topics.event, (seq) => JSON.stringify({ ...payload, seq }));
      this.pump();
    } catch {
      this.refusedAppends++;
    }
  }

  /** Telemetry is a snapshot: while offline it is skipped (and counted), the next one supersedes it. */
  publishTelemetry(t: TelemetryPayload): void {
    if (!this.ready) { this.telemetrySkipped++; return; }
    this.link.publish(this.topics.telemetry, JSON.stringify(t), { qos: 0 }).catch(() => { this.telemetrySkipped++; });
  }

  /** A new warning in the retained status, its state unchanged (a degraded engine stays degraded); '' clears it. */
  async setWarning(warning: string): Promise<void> {
    if ((warning || undefined) === this.warning) return;
    await this.setStatus(this.state, warning);
  }

  async setStatus(state: DeviceState, warning?: string): Promise<void> {
    this.state = state;
    if (warning !== undefined) this.warning = warning || undefined;
    if (this.ready) await this.link.publish(this.topics.status, JSON.stringify(this.statusPayload(state)), { qos: 1, retain: true }).catch(() => undefined);
  }

  async setModel(model: Omit<ModelPayload, 'session'>): Promise<void> {
    this.model = { ...model, session: this.session };
    if (this.ready) await this.link.publish(this.topics.model, JSON.stringify(this.model), { qos: 1, retain: true }).catch(() => undefined);
  }

  /** Follows an exact topic (QoS 1) on this and every later connection; retained messages arrive on each. */
  async watch(topic: string, handler: (payload: Buffer) => void): Promise<void> {
    this.watched.set(topic, handler);
    // connected but still setting up: its subscription list may have been taken before this topic was added
    if (this.link.state === 'connected') await this.link.subscribe([topic]).catch(() => undefined);
  }

  /** Publishes a retained message at QoS 1 (the fleet's shared state); rejects when not connected. */
  async publishFleet(topic: string, payload: string): Promise<void> {
    if (!this.ready) throw new Error('not connected');
    await this.link.publish(topic, payload, { qos: 1, retain: true });
  }

  /** Publishes a one-off message (snapshot bytes) when connected. */
  async publishRaw(topic: string, payload: Buffer, retain = false): Promise<void> {
    await this.link.publish(topic, payload, { qos: 0, retain });
  }

  stats(): MqttStats {
    const o = this.outbox.stats();
    return {
      connected: this.ready,
      protocolVersion: this.link.protocolVersion,
      session: this.session,
      reconnects: this.link.reconnects,
      ...(this.link.lastError ? { lastError: this.link.lastError } : {}),
      outbox: { depth: o.depth, dropped: o.dropped, accepted: o.accepted, lastSeq: o.lastSeq },
      refusedAppends: this.refusedAppends,
      telemetrySkipped: this.telemetrySkipped,
    };
  }

  describeBroker(): string {
    return redact(this.o.url);
  }

  /**
   * Clean shutdown: give in-flight deliveries a moment, publish `stopped` (retained) before disconnecting
   * so no will fires, then close the outbox (what is undelivered stays on disk for the next start).
   */
  async stop(drainMs = 2000): Promise<void> {
    if (this.ready) {
      const until = Date.now() + drainMs;
      while (this.outbox.stats().depth > 0 && this.ready && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await this.setStatus('stopped');
    }
    this.release();
    if (this.announceTimer) clearTimeout(this.announceTimer);
    // start() may have failed before the link or the outbox existed: stopping what there is must not throw
    await this.link?.stop();
    await this.outbox?.close();
  }
}

/** The reason code of a publish the broker refused (an MQTT 5 PUBACK >= 0x80), or undefined for any other failure. */
function refusalCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 0x80 ? code : undefined;
}
