import mqtt, { type IClientOptions, type IClientPublishOptions, type ISubscriptionGrant, type ISubscriptionMap, type MqttClient, type IPublishPacket } from 'mqtt';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { Backoff } from './backoff.js';
import { redactUrl } from '../util/redact.js';
import { EdgefitError, errorMessage } from '../util/errors.js';

export interface LinkOptions {
  url: string;
  clientId: string;
  /** 5 first; a broker that refuses it (aedes, old mosquitto) is retried with 4 and remembered */
  protocolVersion: 4 | 5;
  keepaliveSeconds: number;
  username?: string;
  password?: string;
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized?: boolean };
  /** called before every connection attempt: the will for that connection (none when absent: the dashboard) */
  will?: () => { topic: string; payload: string };
  backoff?: Backoff;
  connectTimeoutMs?: number;
  /** what the user sets, named in error messages; defaults name the daemon's configuration */
  hints?: LinkHints;
  /**
   * MQTT 5 only: the largest packet the broker may send us. A bigger message is withheld by the broker instead of
   * being read whole into memory; 3.1.1 has no way to ask (the broker's own limit applies).
   */
  maximumPacketSize?: number;
  /** the clock that says how long a connection lasted; injectable so tests need not wait */
  now?: () => number;
}

export interface LinkHints {
  /** e.g. "mqtt.username / mqtt.password" */
  credentials: string;
  /** e.g. (what) => `mqtt.tls.${what}` */
  tlsFile: (what: 'ca' | 'cert' | 'key') => string;
  /** where a wrong TLS path is fixed, e.g. "in the configuration" */
  tlsWhere: string;
  /** how to give each client its own client id, e.g. "give every device a unique deviceId" */
  uniqueClientId?: string;
}

const daemonHints: LinkHints = {
  credentials: 'mqtt.username / mqtt.password', tlsFile: (what) => `mqtt.tls.${what}`, tlsWhere: 'in the configuration',
  uniqueClientId: 'give every device a unique deviceId (the client id is edgefit-<deviceId>)',
};

/**
 * A connection that lasted this long was a working one: its loss resets the backoff. One the broker closes sooner
 * is most likely taken over by another client with the same client id (mosquitto closes the older one), and each
 * of the two taking the id back at once would keep both reconnecting about once a second forever.
 */
export const STABLE_CONNECTION_MS = 10_000;

/** A subscription the broker refused (SUBACK 0x80 on 3.1.1, a reason code >= 0x80 on 5). */
export function refusedGrants(granted: readonly ISubscriptionGrant[]): string[] {
  return granted.filter((g) => g.qos >= 128).map((g) => g.topic);
}

export type LinkState = 'idle' | 'connecting' | 'connected' | 'waiting' | 'stopped';

/**
 * One MQTT connection at a time, re-made by us (not mqtt.js's fixed-period reconnect) with exponential backoff
 * and jitter. Each connection is a fresh mqtt.js client with its own will (the daemon's; the dashboard has
 * none), so the will always carries the current session number; what was in flight on a dead connection is
 * re-sent from the durable outbox.
 *
 * Each connection starts clean, so subscriptions do not carry over: a user subscribes in its 'connect' handler,
 * which runs on every connection.
 *
 * Events: 'connect' (client, protocolVersion), 'close', 'message' (topic, payload, packet), 'error' (EdgefitError),
 * 'waiting' (delay ms, reason)
 */
export class MqttLink extends EventEmitter {
  state: LinkState = 'idle';
  client: MqttClient | undefined;
  protocolVersion: 4 | 5;
  reconnects = 0;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private connectedOnce = false;
  private triedDowngrade = false;
  private error: string | undefined;
  /** the last connection was closed right after it was accepted, with no error of its own (see onLost) */
  private takeover = false;
  /** when the current connection was accepted */
  private connectedAt = 0;

  constructor(private readonly opts: LinkOptions) {
    super();
    this.protocolVersion = opts.protocolVersion;
    this.backoff = opts.backoff ?? new Backoff(1000, 60_000);
    this.now = opts.now ?? Date.now;
  }

  /**
   * What went wrong last. The hint that another client uses our client id outlives the reconnects it causes (a
   * stats reader, the telemetry, only sees connected moments), until a connection proves stable.
   */
  get lastError(): string | undefined {
    if (this.takeover) return this.state === 'connected' && this.stable() ? undefined : this.takeoverHint();
    return this.error;
  }

  set lastError(message: string | undefined) {
    this.error = message;
    this.takeover = false;
  }

  private stable(): boolean {
    return this.now() - this.connectedAt >= STABLE_CONNECTION_MS;
  }

  private takeoverHint(): string {
    const fix = (this.opts.hints ?? daemonHints).uniqueClientId ?? 'give each client its own client id';
    // mosquitto 2.0 sends no MQTT 5 "session taken over" (142) to the client it drops: the timing is all there is,
    // and a broker restarting right after accepting us looks the same
    return `the broker closed the connection right after accepting it: another client may be using client id ${this.opts.clientId} (or the broker restarted); ${fix}`;
  }

  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  private tlsOptions(): Partial<IClientOptions> {
    const t = this.opts.tls;
    if (!t) return {};
    const hints = this.opts.hints ?? daemonHints;
    const read = (p: string | undefined, what: 'ca' | 'cert' | 'key') => {
      if (!p) return undefined;
      try { return readFileSync(p); } catch (err) {
        throw new EdgefitError('E_MQTT_TLS', `cannot read ${hints.tlsFile(what)} ${p} (${errorMessage(err)}); fix the path ${hints.tlsWhere}`, { cause: err });
      }
    };
    const ca = read(t.ca, 'ca'); const cert = read(t.cert, 'cert'); const key = read(t.key, 'key');
    return {
      ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
      rejectUnauthorized: t.rejectUnauthorized ?? true,
    };
  }

  private connect(): void {
    if (this.state === 'stopped') return;
    this.state = 'connecting';
    const will = this.opts.will?.();
    let options: IClientOptions;
    try {
      options = {
        clientId: this.opts.clientId,
        protocolVersion: this.protocolVersion,
        clean: true,
        keepalive: this.opts.keepaliveSeconds,
        reconnectPeriod: 0,
        connectTimeout: this.opts.connectTimeoutMs ?? 10_000,
        ...(will ? { will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1 as const, retain: true } } : {}),
        ...(this.opts.username ? { username: this.opts.username } : {}),
        ...(this.opts.password ? { password: this.opts.password } : {}),
        ...this.tlsOptions(),
        ...(this.protocolVersion === 5 && this.opts.maximumPacketSize ? { properties: { maximumPacketSize: this.opts.maximumPacketSize } } : {}),
      };
    } catch (err) {
      this.fail(err as Error, true);
      return;
    }
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    let connected = false;
    /** an error reported on this connection once it was up: the likelier reason it ends */
    let failure = false;
    client.on('connect', () => {
      // a CONNACK that arrives after stop(): the client is being ended, nothing more to do
      if (this.state === 'stopped') return;
      connected = true;
      this.state = 'connected';
      this.connectedAt = this.now();
      if (this.connectedOnce) this.reconnects++;
      this.connectedOnce = true;
      this.error = undefined;
      this.emit('connect', client, this.protocolVersion);
    });
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => this.emit('message', topic, payload, packet));
    client.on('error', (err: Error & { code?: number | string }) => {
      // a refusal that arrives after stop() must not start a new wait and reconnect
      if (this.state === 'stopped') return;
      const code = typeof err.code === 'number' ? err.code : undefined;
      if (!connected && code !== undefined) {
        if ((code === 1 || code === 132) && this.protocolVersion === 5 && !this.triedDowngrade) {
          // unsupported protocol version: this broker speaks 3.1.1 only
          this.triedDowngrade = true;
          this.protocolVersion = 4;
          this.lastError = 'broker refused MQTT 5; using MQTT 3.1.1';
          return;
        }
        if (code === 4 || code === 5 || code === 134 || code === 135) {
          this.fail(new EdgefitError('E_MQTT_AUTH', `the broker at ${redact(this.opts.url)} refused the credentials (${err.message}); check ${(this.opts.hints ?? daemonHints).credentials} or the client certificate`), true);
          return;
        }
      }
      failure ||= connected;
      this.lastError = err.message;
    });
    client.on('close', () => {
      if (this.client !== client) return;
      const wasConnected = connected;
      this.client = undefined;
      client.removeAllListeners('connect');
      client.end(true);
      if (this.state === 'stopped') return;
      if (wasConnected) this.onLost(failure);
      if (wasConnected) this.emit('close');
      if (!wasConnected && this.protocolVersion === 4 && this.triedDowngrade && this.lastError?.includes('MQTT 5')) {
        // retry at once with 3.1.1
        this.lastError = undefined;
        this.connect();
        return;
      }
      // a 5.0 CONNECT that the broker just drops (no CONNACK) also means it does not speak 5
      if (!wasConnected && this.protocolVersion === 5 && !this.triedDowngrade && !this.connectedOnce && /closed|ECONNRESET/i.test(this.lastError ?? 'closed')) {
        this.triedDowngrade = true;
        this.protocolVersion = 4;
        this.connect();
        return;
      }
      this.scheduleReconnect(this.lastError ?? 'connection closed');
    });
  }

  /** The backoff restarts only after a connection that worked for a while (see STABLE_CONNECTION_MS). */
  private onLost(failed: boolean): void {
    if (this.stable()) {
      this.backoff.reset();
      this.takeover = false;
    } else if (!failed) {
      this.takeover = true;
    }
  }

  private authFailures = 0;

  private fail(err: Error, longWait: boolean): void {
    if (this.state === 'stopped') return;
    this.lastError = err.message;
    this.emit('error', err);
    if (longWait) {
      this.authFailures++;
      const c = this.client;
      this.client = undefined;
      c?.removeAllListeners('close');
      c?.end(true);
      this.state = 'waiting';
      // refused credentials will be refused again: wait long, never a tight loop
      const delay = this.backoff.nextAtLeast(Math.min(60_000, 5_000 * this.authFailures));
      this.timer = setTimeout(() => this.connect(), delay);
    }
  }

  private scheduleReconnect(reason: string): void {
    this.state = 'waiting';
    const delay = this.backoff.next();
    this.emit('waiting', delay, reason);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /** MQTT 5 properties (response topic, correlation data) are dropped on a 3.1.1 connection, which has none. */
  publish(topic: string, payload: string | Buffer, opts: IClientPublishOptions): Promise<void> {
    const c = this.client;
    if (!c || this.state !== 'connected') return Promise.reject(new EdgefitError('E_MQTT_OFFLINE', 'not connected to the broker'));
    const { properties, ...rest } = opts;
    const o = properties && this.protocolVersion === 5 ? opts : rest;
    return new Promise((resolve, reject) => {
      c.publish(topic, payload, o, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Subscribes on the current connection; resolves with what the broker granted (see refusedGrants: a refusal
   * is not an error here, the caller decides what it means). A map gives each filter its own QoS.
   */
  subscribe(filters: string[] | ISubscriptionMap, qos: 0 | 1 = 1): Promise<ISubscriptionGrant[]> {
    const c = this.client;
    if (!c) return Promise.reject(new EdgefitError('E_MQTT_OFFLINE', 'not connected to the broker'));
    return new Promise((resolve, reject) => {
      const done = (err: Error | null, granted?: ISubscriptionGrant[]) => (err ? reject(err) : resolve(granted ?? []));
      if (Array.isArray(filters)) c.subscribe(filters, { qos }, done);
      else c.subscribe(filters, done);
    });
  }

  /** Drops subscriptions on the current connection; nothing to do when there is none. */
  unsubscribe(filters: string[]): Promise<void> {
    const c = this.client;
    if (!c || this.state !== 'connected') return Promise.resolve();
    return new Promise((resolve) => { c.unsubscribe(filters, () => resolve()); });
  }

  /** Disconnects cleanly (no will). Pending publishes get `flushMs` to finish. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => { c.end(true, () => resolve()); }, 3000);
      c.end(false, () => { clearTimeout(t); resolve(); });
    });
  }
}

/** The broker URL as it may be shown: its password hidden (src/util/redact.ts). */
export const redact = redactUrl;
