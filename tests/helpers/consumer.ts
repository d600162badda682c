import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { waitFor, sleep } from './wait.js';
import { mulberry32 } from '../../src/zoo/init.js';

/**
 * A consumer of one device's topics that keeps what "nothing lost" is measured against: every result seq
 * it received (deduplicated, first arrival kept, duplicates counted), every status with its session, the
 * telemetry, the distinct events (events carry no seq but take one from the outbox's counter), and command
 * replies. It talks to the broker directly, never through a test proxy.
 */
export interface SeenResult { seq: number; session: number; frameTs: number; at: number }
export interface SeenStatus { state: string; session: number; retain: boolean; at: number }
export interface OutboxCursor { ackedThrough: number; lastSeq: number; dropped: number }

export interface Accounting {
  /** seqs 1..lastSeq the consumer never received */
  lost: number[];
  /** lost minus counted drops minus events: must be 0 when nothing was lost */
  unexplained: number;
  received: number;
  duplicates: number;
  dropped: number;
  events: number;
  lastSeq: number;
}

export class Consumer {
  readonly results = new Map<number, SeenResult>();
  /** seqs in arrival order, duplicates included */
  readonly arrivals: number[] = [];
  readonly statuses: SeenStatus[] = [];
  readonly telemetry: Record<string, unknown>[] = [];
  readonly events = new Set<string>();
  private readonly replies = new Map<string, Record<string, unknown>>();
  private probes = new Set<string>();
  duplicates = 0;

  private constructor(readonly client: MqttClient, readonly base: string) {
    client.on('message', (topic, payload, packet) => {
      const at = Date.now();
      const sub = topic.slice(base.length + 1);
      const text = payload.toString();
      if (sub.startsWith('_probe/')) { this.probes.add(sub); return; }
      if (sub === 'result') {
        const r = JSON.parse(text) as SeenResult;
        this.arrivals.push(r.seq);
        if (this.results.has(r.seq)) this.duplicates++;
        else this.results.set(r.seq, { seq: r.seq, session: r.session, frameTs: r.frameTs, at });
      } else if (sub === 'status') {
        const s = JSON.parse(text) as { state: string; session: number };
        this.statuses.push({ state: s.state, session: s.session, retain: packet.retain, at });
      } else if (sub === 'telemetry') {
        this.telemetry.push(JSON.parse(text) as Record<string, unknown>);
      } else if (sub === 'event') {
        this.events.add(text);
      } else if (sub.startsWith('reply/')) {
        const r = JSON.parse(text) as Record<string, unknown>;
        if (typeof r.id === 'string') this.replies.set(r.id, r);
      }
    });
  }

  /** Subscribes to <prefix>/<deviceId>/# with QoS 1 and waits until the subscription is live. */
  static async start(url: string, deviceId: string, prefix = 'edgefit'): Promise<Consumer> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 100, clientId: `fault-consumer-${randomUUID().slice(0, 8)}` });
    const c = new Consumer(client, `${prefix}/${deviceId}`);
    await client.subscribeAsync(`${c.base}/#`, { qos: 1 });
    return c;
  }

  /** Resolves once a message published now comes back: the (re)subscription is active at the broker. */
  async ready(ms = 30_000): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      const probe = `_probe/${randomUUID().slice(0, 8)}`;
      if (this.client.connected) this.client.publish(`${this.base}/${probe}`, 'p', { qos: 0 });
      const until = Date.now() + 500;
      while (!this.probes.has(probe) && Date.now() < until) await sleep(20);
      if (this.probes.has(probe)) return;
      if (Date.now() > end) throw new Error('the consumer did not get its subscription back');
    }
  }

  maxSeq(): number {
    let m = 0;
    for (const s of this.results.keys()) if (s > m) m = s;
    return m;
  }

  lastTelemetry(): Record<string, unknown> | undefined {
    return this.telemetry.at(-1);
  }

  /** Sends a command (a fresh request id) and waits for its reply. */
  async command(verb: string, args?: Record<string, unknown>, ms = 30_000): Promise<Record<string, unknown>> {
    const id = randomUUID();
    await this.client.publishAsync(`${this.base}/cmd/${verb}`, JSON.stringify({ id, ...(args ? { args } : {}) }), { qos: 1 });
    return waitFor(() => this.replies.get(id), `reply to ${verb}`, ms);
  }

  /** Seqs 1..lastSeq not received, and whether counted drops and events explain all of them. */
  account(cursor: Pick<OutboxCursor, 'lastSeq' | 'dropped'>): Accounting {
    const lost: number[] = [];
    for (let s = 1; s <= cursor.lastSeq; s++) if (!this.results.has(s)) lost.push(s);
    return {
      lost, unexplained: lost.length - cursor.dropped - this.events.size, received: this.results.size,
      duplicates: this.duplicates, dropped: cursor.dropped, events: this.events.size, lastSeq: cursor.lastSeq,
    };
  }

  /** First-arrival order of the seqs received after `afterIndex` arrivals: increasing when drained in order. */
  firstArrivals(afterIndex = 0): number[] {
    const seen = new Set(this.arrivals.slice(0, afterIndex));
    const out: number[] = [];
    for (const s of this.arrivals.slice(afterIndex)) if (!seen.has(s)) { seen.add(s); out.push(s); }
    return out;
  }

  waitFor<T>(fn: () => T | undefined | false, what: string, ms = 30_000): Promise<T> {
    return waitFor(fn, what, ms);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export function readCursor(stateDir: string): OutboxCursor {
  return JSON.parse(readFileSync(join(stateDir, 'outbox', 'cursor.json'), 'utf8')) as OutboxCursor;
}

export { waitFor, sleep };

/** A seeded PRNG (mulberry32): "random" fault moments that repeat run after run. */
export function seeded(seed: number): () => number {
  return mulberry32(seed);
}
