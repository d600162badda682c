import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { cpSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, pulledState } from '../helpers/daemon.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { Consumer, seeded, sleep } from '../helpers/consumer.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { faultArgs, acceptedSeqs, settle, jsonFilesParse } from '../helpers/fault-daemon.js';
import { Outbox } from '../../src/mqtt/outbox.js';

/**
 * SIGKILL of the daemon at seeded random moments, with the broker unreachable and reachable in turn, all runs on
 * one state directory. "Accepted" is what the daemon printed with --json (only after the outbox's fdatasync).
 * After every kill each JSON state file parses and the outbox opens with a lastSeq at least the highest accepted
 * (a reused seq would make consumers drop a new result as a duplicate); at the end every accepted result is
 * delivered. A SIGKILL leaves written pages in the page cache: this shows crash consistency of the process,
 * not of the disk (which fdatasync + atomic renames are for).
 */
const DEV = 'fault-kill';
const KILLS = 8;

describe('SIGKILL at random moments', () => {
  let broker: Mosquitto;
  let proxy: TcpProxy;
  let consumer: Consumer;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await pulledState(['mobilenet_v1-0.25-128-int8']);
    broker = await Mosquitto.start();
    proxy = await TcpProxy.start(broker.port);
    consumer = await Consumer.start(broker.url, DEV);
  }, 120_000);
  afterAll(async () => {
    await consumer?.close();
    await proxy?.close();
    await broker?.stop();
  });

  it(`${KILLS} kills (seed 42; broker down on even runs): every result accepted before a kill is delivered after the restart`, async () => {
    const rnd = seeded(42);
    const accepted = new Set<number>();
    const log: string[] = [];
    for (let i = 0; i < KILLS; i++) {
      const brokerUp = i % 2 === 1;
      proxy.refusing = !brokerUp;
      if (!brokerUp) proxy.cutAll();
      const d = new DaemonProcess(faultArgs({ broker: proxy.url, deviceId: DEV, stateDir, set: ['camera.fps=15', 'mqtt.results.maxRatePerSecond=100'] }));
      const r = rnd();
      let when: string;
      if (r < 0.25) {
        // during start-up: probing, profiling (profile-cache.json writes), outbox replay
        const ms = Math.round(500 + rnd() * 3500);
        await sleep(ms);
        when = `${ms} ms after spawn`;
      } else {
        await d.waitFor(() => acceptedSeqs(d.stdout).length > 0, 'a first accepted result', 120_000);
        const ms = Math.round(rnd() * 1500);
        await sleep(ms);
        when = `${ms} ms after the first accepted result`;
      }
      await d.stop('SIGKILL');
      const seqs = acceptedSeqs(d.stdout);
      for (const s of seqs) accepted.add(s);
      log.push(`kill ${i} (broker ${brokerUp ? 'up' : 'down'}) ${when}: ${seqs.length} accepted, up to ${seqs.at(-1) ?? '-'}`);

      // every state file parses, and the outbox replays with no seq below what was accepted
      jsonFilesParse(stateDir);
      if (existsSync(join(stateDir, 'outbox'))) {
        const copy = mkdtempSync(join(tmpdir(), 'edgefit-outbox-'));
        cpSync(join(stateDir, 'outbox'), copy, { recursive: true });
        const box = await Outbox.open(copy, { maxMessages: 1000, maxBytes: 1 << 20 });
        expect(box.stats().lastSeq, log.join('\n')).toBeGreaterThanOrEqual(Math.max(0, ...accepted));
        await box.close();
      }
    }
    expect(accepted.size, log.join('\n')).toBeGreaterThan(20);

    proxy.refusing = false;
    await consumer.ready();
    const d = new DaemonProcess(faultArgs({ broker: proxy.url, deviceId: DEV, stateDir, set: ['camera.fps=15', 'mqtt.results.maxRatePerSecond=100'] }));
    try {
      await consumer.waitFor(() => [...accepted].every((s) => consumer.results.has(s)), 'every accepted result delivered', 90_000)
        .catch((err: Error) => { throw new Error(`${err.message}; missing ${[...accepted].filter((s) => !consumer.results.has(s)).slice(0, 30).join(',')}\n${log.join('\n')}`); });
      const { cursor, acc } = await settle(d, consumer, stateDir);
      expect(cursor.dropped).toBe(0);
      expect(acc.unexplained, JSON.stringify({ ...acc, lost: acc.lost.slice(0, 30) })).toBe(0);
    } finally {
      await d.stop('SIGKILL');
    }
  }, 240_000);
});
