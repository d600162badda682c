import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../../src/mqtt/outbox.js';

const dir = () => mkdtempSync(join(tmpdir(), 'edgefit-outbox-'));
const opts = { maxMessages: 100, maxBytes: 1 << 20 };

describe('Outbox', () => {
  it('assigns increasing seqs that survive a restart, and replays what was not acked', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    for (let i = 0; i < 10; i++) await a.append('t', (s) => `{"seq":${s}}`);
    for (let s = 1; s <= 4; s++) a.ack(s);
    await a.close();
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual([5, 6, 7, 8, 9, 10]);
    const e = await b.append('t', (s) => `{"seq":${s}}`);
    expect(e.seq).toBe(11);
    await b.close();
  });

  it('without a clean close (crash), every accepted record is still there', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    for (let i = 0; i < 25; i++) await a.append('t', (s) => `p${s}`);
    // no close(): the process "dies" here; the log was fsync'd per batch
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    await b.close();
  });

  it('acks out of order only move the cursor over a contiguous prefix', async () => {
    const a = await Outbox.open(dir(), opts);
    for (let i = 0; i < 5; i++) await a.append('t', (s) => `p${s}`);
    a.ack(2); a.ack(3);
    expect(a.pending().map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    a.ack(1);
    expect(a.pending().map((e) => e.seq)).toEqual([4, 5]);
    await a.close();
  });

  it('drops the oldest past the bound and counts every drop, also across a restart', async () => {
    const d = dir();
    const a = await Outbox.open(d, { maxMessages: 10, maxBytes: 1 << 20 });
    for (let i = 0; i < 25; i++) await a.append('t', (s) => `p${s}`);
    expect(a.pending().map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 16));
    expect(a.stats().dropped).toBe(15);
    await a.close();
    const b = await Outbox.open(d, { maxMessages: 10, maxBytes: 1 << 20 });
    expect(b.stats().dropped).toBe(15);
    expect(b.pending()[0]!.seq).toBe(16);
    await b.close();
  });

  it('a torn last record (power cut mid-append) is cut off and the rest is kept', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    for (let i = 0; i < 3; i++) await a.append('t', (s) => `p${s}`);
    await a.close();
    const log = join(d, 'outbox.log');
    const full = statSync(log).size;
    appendFileSync(log, Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 123, 34])); // header of a record whose body never made it
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(statSync(log).size).toBe(full);
    await b.close();
    // a corrupted body (bad CRC) ends the log at the last good record as well
    const bytes = readFileSync(log);
    bytes[bytes.length - 2] ^= 0xff;
    writeFileSync(log, bytes);
    const c = await Outbox.open(d, opts);
    expect(c.pending().map((e) => e.seq)).toEqual([1, 2]);
    const next = await c.append('t', (s) => `p${s}`);
    expect(next.seq).toBe(4); // seq never goes back, even when a record was lost to corruption
    await c.close();
    truncateSync(log, 0);
  });

  it('refuses appends it cannot make durable, with a message saying what to do', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    // simulate the disk going away under the outbox
    (a as unknown as { log: { write: () => Promise<never> } }).log.write = () => Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    await expect(a.append('t', (s) => `p${s}`)).rejects.toThrow(/free disk space/);
    expect(a.stats().accepted).toBe(0);
  });

  it('compacts a log dominated by delivered records without losing pending ones', async () => {
    const d = dir();
    const a = await Outbox.open(d, { maxMessages: 100_000, maxBytes: 1 << 28 });
    const big = 'x'.repeat(2000);
    for (let i = 0; i < 1200; i++) {
      const e = await a.append('t', (s) => `${s}:${big}`);
      if (i < 1190) a.ack(e.seq);
    }
    await a.append('t', (s) => `${s}:last`);
    await new Promise((r) => setTimeout(r, 100));
    expect(statSync(join(d, 'outbox.log')).size).toBeLessThan(1 << 20);
    await a.close();
    const b = await Outbox.open(d, { maxMessages: 100_000, maxBytes: 1 << 28 });
    expect(b.pending().map((e) => e.seq)).toEqual([...Array.from({ length: 10 }, (_, i) => 1191 + i), 1201]);
    await b.close();
  });
});
