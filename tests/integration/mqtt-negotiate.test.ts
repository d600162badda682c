import { describe, it, expect } from 'vitest';
import mqtt from 'mqtt';
import { startEmbeddedBroker } from '../../src/mqtt/broker.js';
import { MqttLink } from '../../src/mqtt/link.js';
import { Backoff } from '../../src/mqtt/backoff.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

const until = <T>(fn: () => T | undefined | false, what: string, ms = 10_000): Promise<T> => waitFor(fn, what, ms);

const will = () => ({ topic: 'edgefit/t/status', payload: '{"state":"offline"}' });

describe('MQTT protocol negotiation and refusal', () => {
  it('falls back to MQTT 3.1.1 against the embedded aedes broker, which refuses 5', async () => {
    const broker = await startEmbeddedBroker(0);
    const link = new MqttLink({ url: broker.url, clientId: 'neg', protocolVersion: 5, keepaliveSeconds: 5, will });
    link.start();
    await until(() => link.state === 'connected', 'connected');
    expect(link.protocolVersion).toBe(4);
    // and it really works: a message goes through
    const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
    const got = new Promise<string>((r) => sub.on('message', (_t, p) => r(p.toString())));
    await sub.subscribeAsync('x/y');
    await link.publish('x/y', 'hello', { qos: 1 });
    expect(await got).toBe('hello');
    await sub.endAsync();
    await link.stop();
    await broker.close();
  });

  it('refused credentials give a clear error and a slow retry, not a tight loop', async () => {
    const broker = await Mosquitto.withUser();
    const errors: string[] = [];
    let attempts = 0;
    // deterministic jitter (always the ceiling) so the floor for auth failures is what is tested
    const link = new MqttLink({ url: broker.url, clientId: 'auth', protocolVersion: 5, keepaliveSeconds: 5, username: 'cam', password: 'wrong', will: () => { attempts++; return will(); }, backoff: new Backoff(100, 1000, () => 1) });
    link.on('error', (e: Error) => errors.push(e.message));
    link.start();
    await until(() => errors.length >= 1, 'auth error');
    expect(errors[0]).toMatch(/refused the credentials.*mqtt\.username/);
    await new Promise((r) => setTimeout(r, 2000));
    // the first retry waits at least 5 s: one attempt so far, never a loop
    expect(attempts).toBe(1);
    expect(link.state).toBe('waiting');
    await link.stop();
    // the right password connects
    const ok = new MqttLink({ url: broker.url, clientId: 'auth2', protocolVersion: 5, keepaliveSeconds: 5, username: 'cam', password: 'right-password', will });
    ok.start();
    await until(() => ok.state === 'connected', 'connected with the right password');
    await ok.stop();
    await broker.stop();
  });

  it('backoff grows exponentially with full jitter and spreads clients', () => {
    const b = new Backoff(1000, 60_000, () => 1);
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([1000, 2000, 4000, 8000]);
    for (let i = 0; i < 10; i++) b.next();
    expect(b.next()).toBe(60_000);
    // 200 clients after a broker restart: their first delays spread over the window
    let seed = 7;
    const rnd = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const delays = Array.from({ length: 200 }, () => new Backoff(1000, 60_000, rnd).next());
    const buckets = new Array(10).fill(0);
    for (const d of delays) buckets[Math.min(9, Math.floor(d / 100))]++;
    expect(Math.max(...buckets)).toBeLessThan(40); // no bucket holds more than 20% of the fleet
  });
});
