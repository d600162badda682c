import { describe, it, expect } from 'vitest';
import mqtt from 'mqtt';
import { MqttLink, STABLE_CONNECTION_MS } from '../../src/mqtt/link.js';
import { Backoff } from '../../src/mqtt/backoff.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

const until = <T>(fn: () => T | undefined | false, what: string, ms = 20_000): Promise<T> => waitFor(fn, what, ms);

/** Backoff without jitter (always the ceiling): the delays a link draws are the attempts it counted. */
const exact = () => new Backoff(100, 100_000, () => 1);

describe('MqttLink against a real mosquitto: a client id in use twice, a stop during a refused CONNECT', () => {
  it('two links with the same client id back off instead of knocking each other off once a second, and say why', async () => {
    const broker = await Mosquitto.start();
    // the clock never moves: no connection ever counts as stable
    const mk = () => new MqttLink({ url: broker.url, clientId: 'edgefit-twin', protocolVersion: 5, keepaliveSeconds: 30, backoff: exact(), now: () => 0 });
    const a = mk();
    const b = mk();
    const waits: { link: 'a' | 'b'; ms: number; reason: string }[] = [];
    a.on('waiting', (ms: number, reason: string) => waits.push({ link: 'a', ms, reason }));
    b.on('waiting', (ms: number, reason: string) => waits.push({ link: 'b', ms, reason }));
    try {
      a.start();
      await until(() => a.state === 'connected', 'a connected');
      b.start();
      const ofA = await until(() => { const w = waits.filter((x) => x.link === 'a'); return w.length >= 4 ? w : undefined; }, 'a knocked off four times');
      // reset at every connection, every delay would be the first (100 ms): about one takeover a second, forever
      expect(ofA.slice(0, 4).map((w) => w.ms)).toEqual([100, 200, 400, 800]);
      for (const w of waits) expect(w.reason).toMatch(/closed the connection right after accepting it: another client may be using client id edgefit-twin \(or the broker restarted\); give every device a unique deviceId/);
      expect(a.lastError).toMatch(/another client may be using client id edgefit-twin/);
    } finally {
      await a.stop();
      await b.stop();
      await broker.stop();
    }
  });

  it('resets the backoff (and forgets the hint) only after a connection stayed up STABLE_CONNECTION_MS', async () => {
    const broker = await Mosquitto.start();
    let now = 1_000_000;
    const link = new MqttLink({ url: broker.url, clientId: 'edgefit-solo', protocolVersion: 5, keepaliveSeconds: 30, backoff: exact(), now: () => now });
    const waits: number[] = [];
    link.on('waiting', (ms: number) => waits.push(ms));
    /** another client takes the id; it never reconnects, so the link gets it back after its delay */
    const takeOver = async (): Promise<void> => {
      const before = link.reconnects;
      const other = await mqtt.connectAsync(broker.url, { clientId: 'edgefit-solo', protocolVersion: 5, reconnectPeriod: 0 });
      await until(() => link.reconnects > before && link.state === 'connected', 'the link back after a takeover');
      other.end(true);
    };
    try {
      link.start();
      await until(() => link.state === 'connected', 'connected');
      await takeOver();
      await takeOver();
      expect(waits).toEqual([100, 200]);
      expect(link.lastError).toMatch(/another client may be using client id edgefit-solo/);
      // the connection made after the second takeover has now lasted long enough
      now += STABLE_CONNECTION_MS;
      expect(link.lastError).toBeUndefined();
      await takeOver();
      expect(waits).toEqual([100, 200, 100]);
    } finally {
      await link.stop();
      await broker.stop();
    }
  });

  it('stays stopped when the refusal of its credentials arrives after stop()', async () => {
    const broker = await Mosquitto.withUser();
    const link = new MqttLink({ url: broker.url, clientId: 'race', protocolVersion: 5, keepaliveSeconds: 30, username: 'cam', password: 'wrong' });
    const after: string[] = [];
    try {
      link.start();
      const client = link.client!;
      const refused = new Promise<string>((resolve) => client.once('error', (e: Error) => resolve(e.message)));
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      const stopping = link.stop();
      link.on('error', (e: Error) => after.push(`error: ${e.message}`));
      link.on('waiting', (ms: number) => after.push(`waiting ${ms} ms`));
      await stopping;
      // the CONNACK refusing the credentials is read after stop(); the link's own handler ran before these listeners
      expect(await refused).toMatch(/Not authorized|Bad User Name or Password/i);
      await closed;
      expect(link.state).toBe('stopped');
      expect(after).toEqual([]);
    } finally {
      await link.stop();
      await broker.stop();
    }
  });
});
