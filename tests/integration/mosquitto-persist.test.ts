import { describe, it, expect } from 'vitest';
import mqtt from 'mqtt';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The outage tests lean on a persistent mosquitto keeping a consumer's session across a restart. Started as root
 * (CI), mosquitto drops to its own user and could not write its database into the test's directory, so every
 * session was lost while the log alone said so: whichever of the daemon and the consumer reconnected first decided
 * whether the buffered results arrived. Here the publisher always goes first.
 */
describe('the test mosquitto with persistence', () => {
  it('keeps a persistent session and what was queued for it across a SIGTERM restart', async () => {
    const broker = await Mosquitto.start(undefined, { persist: true });
    const opts = { protocolVersion: 5 as const, clientId: 'persist-consumer', clean: false, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } };
    try {
      const c1 = await mqtt.connectAsync(broker.url, opts);
      await c1.subscribeAsync('p/#', { qos: 1 });
      await broker.stop('SIGTERM');
      await c1.endAsync(true);
      await broker.start();
      const pub = await mqtt.connectAsync(broker.url, { protocolVersion: 5 });
      for (let i = 0; i < 5; i++) await pub.publishAsync('p/r', String(i), { qos: 1 });
      await pub.endAsync();
      const got: string[] = [];
      const c2 = mqtt.connect(broker.url, opts);
      c2.on('message', (_t, p) => got.push(p.toString()));
      const connack = await new Promise<{ sessionPresent: boolean }>((resolve, reject) => { c2.once('connect', resolve); c2.once('error', reject); });
      expect(connack.sessionPresent).toBe(true);
      await waitFor(() => got.length >= 5, 'the messages queued while the consumer was away', 10_000);
      expect(got).toEqual(['0', '1', '2', '3', '4']);
      await c2.endAsync();
    } finally {
      await broker.stop();
    }
  });
});
