import { describe, it, expect } from 'vitest';
import { MqttLink } from '../../src/mqtt/link.js';
import { Backoff } from '../../src/mqtt/backoff.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { sleep, waitFor, seeded } from '../helpers/consumer.js';

/**
 * A fleet of devices behind one broker that restarts: every MqttLink (the daemon's reconnect code) must spread
 * its reconnects (exponential backoff, full jitter), not arrive together. Measured as the distribution of the
 * connection attempts the proxy sees after the broker comes back, never as absolute durations.
 */
const N = 50;

function histogram(times: number[], bucketMs: number): number[] {
  const t0 = Math.min(...times);
  const h: number[] = [];
  for (const t of times) { const b = Math.floor((t - t0) / bucketMs); h[b] = (h[b] ?? 0) + 1; }
  return Array.from(h, (v) => v ?? 0);
}

describe('reconnect storm', () => {
  it(`${N} links against a broker restart spread their reconnects (no 100 ms bucket holds more than 30%)`, async () => {
    const broker = await Mosquitto.start();
    const proxy = await TcpProxy.start(broker.port);
    const links: MqttLink[] = [];
    const rnd = seeded(7);
    try {
      for (let i = 0; i < N; i++) {
        // a short base keeps the test quick; the shape (full jitter) is what is measured, and it scales
        const link = new MqttLink({
          url: proxy.url, clientId: `storm-${i}`, protocolVersion: 4, keepaliveSeconds: 30, connectTimeoutMs: 5000,
          will: () => ({ topic: `storm/${i}/status`, payload: 'offline' }), backoff: new Backoff(400, 4000, rnd),
        });
        link.on('error', () => undefined);
        links.push(link);
        link.start();
      }
      await waitFor(() => links.every((l) => l.state === 'connected'), 'all links connected', 30_000);
      // the broker goes away: every client loses its connection at the same instant
      proxy.refusing = true;
      proxy.cutAll();
      await waitFor(() => links.every((l) => l.state !== 'connected'), 'all links disconnected', 10_000);
      await sleep(1500);
      const from = proxy.connectTimes.length;
      proxy.refusing = false;
      const reopened = Date.now();
      await waitFor(() => links.every((l) => l.state === 'connected'), 'all links reconnected', 30_000);
      const after = proxy.connectTimes.slice(from).filter((t) => t >= reopened);
      const firstPerClient = after.slice(0, N);
      const h = histogram(firstPerClient, 100);
      const share = Math.max(...h) / firstPerClient.length;
      // without jitter 86 % land in one bucket (measured with the jitter removed); with full jitter the fullest bucket
      // holds 8-22 % (50 clients in 100 ms buckets: a binomial maximum), so 30 % separates the two with margin
      expect(share, `reconnect histogram (100 ms buckets): ${h.join(' ')}`).toBeLessThanOrEqual(0.3);
      expect(h.length).toBeGreaterThanOrEqual(5);
      expect(links.reduce((a, l) => a + l.reconnects, 0)).toBe(N);
    } finally {
      await Promise.all(links.map((l) => l.stop()));
      await proxy.close();
      await broker.stop();
    }
  }, 60_000);
});
