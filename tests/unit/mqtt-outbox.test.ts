import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync, appendFileSync, statSync, truncateSync, mkdirSync, rmdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox, type OutboxEntry } from '../../src/mqtt/outbox.js';
import { canMountTmpfs, mountTmpfs, umount, fillDisk } from '../helpers/tmpfs.js';

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

  it('sends again only what is undelivered: a record acked behind a refused one is not iterated, and a second ack counts once', async () => {
    const a = await Outbox.open(dir(), opts);
    for (let i = 0; i < 4; i++) await a.append('t', (s) => `p${s}`);
    // the broker refused 1 and took 2 and 3: a retry sends 1 and 4, not 2 and 3 a second time
    a.ack(2); a.ack(3);
    expect([...a.iterate()].map((e) => e.seq)).toEqual([1, 4]);
    a.ack(3);
    expect(a.stats().acked).toBe(2);
    a.ack(1);
    expect([...a.iterate()].map((e) => e.seq)).toEqual([4]);
    expect(a.stats()).toMatchObject({ acked: 3, depth: 1 });
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

  it('a short write then ENOSPC (a filling disk): the batch is refused, the log keeps its real size, every accepted record survives', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    for (let i = 0; i < 3; i++) await a.append('t', (s) => `p${s}`);
    faulty(a, { write: ['short', 'enospc'] });
    const results = await appendEach(a, 3);
    expect(results[0]).toBe('refused'); // half of it reached the disk, the rest did not: not accepted
    expect(results.slice(1)).toEqual([5, 6]);
    // crash (no close): what comes back is exactly what was accepted
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual([1, 2, 3, 5, 6]);
    expect(statSync(join(d, 'outbox.log')).size).toBe(b.pending().reduce((n, e) => n + e.bytes, 0));
    expect((await b.append('t', (s) => `p${s}`)).seq).toBe(7);
    await b.close();
  });

  it('fdatasync failing and then the truncate failing: nothing is accepted and no refused record is ever replayed', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    for (let i = 0; i < 2; i++) await a.append('t', (s) => `p${s}`);
    // the bytes of record 3 are written whole, but not known durable: refused, and must be cut off before record 4
    faulty(a, { datasync: ['eio'], truncate: ['eio'] });
    expect(await appendEach(a, 2)).toEqual(['refused', 4]);
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual([1, 2, 4]);
    await b.close();
  });

  it('while the log cannot be cut back to its last accepted record, appends are refused, saying what to do', async () => {
    const d = dir();
    const a = await Outbox.open(d, opts);
    await a.append('t', (s) => `p${s}`);
    faulty(a, { write: ['short', 'enospc'], truncate: ['eio', 'eio', 'eio'] });
    // 2: the failed write; 3 and 4: the log still holds 2's half record and cannot be cut: refused without writing
    expect(await appendEach(a, 3)).toEqual(['refused', 'refused', 'refused']);
    await expect(a.append('t', (s) => `p${s}`)).resolves.toMatchObject({ seq: 5 });
    expect(a.stats().accepted).toBe(2);
    const b = await Outbox.open(d, opts);
    expect(b.pending().map((e) => e.seq)).toEqual([1, 5]);
    await b.close();
    // and the refusal names the directory and the fix
    const c = await Outbox.open(dir(), opts);
    faulty(c, { write: ['enospc'], truncate: ['eio', 'eio'] });
    await c.append('t', () => 'x').catch(() => undefined);
    await expect(c.append('t', () => 'y')).rejects.toThrow(/outbox.*free disk space/);
  });

  it('compaction waits for a cursor on disk that covers what it removes: after a crash no seq is handed out again', async () => {
    const d = dir();
    mkdirSync(join(d, 'cursor.json')); // every cursor write fails (rename over a directory), like a full disk
    const big = { maxMessages: 100_000, maxBytes: 1 << 28 };
    const a = await Outbox.open(d, big);
    const log = join(d, 'outbox.log');
    const pad = 'x'.repeat(2000);
    let last = 0;
    let delivered = 0;
    for (;;) {
      const e = await a.append('t', (s) => `${s}:${pad}`);
      a.ack(e.seq); // delivered at once, while the flush that wrote it goes on to compact
      last = e.seq;
      // over 1 MiB delivered before this record: its flush compacts (the old code did, its cursor write failed)
      if (delivered >= 1 << 20) break;
      delivered += e.bytes;
    }
    await a.close();
    const b = await Outbox.open(d, big);
    // the cursor never reached the disk: the log must still hold the highest seq handed out
    expect(b.stats().lastSeq).toBe(last);
    expect((await b.append('t', (s) => `${s}:after`)).seq).toBe(last + 1);
    // once the cursor can be written, compaction goes ahead
    rmdirSync(join(d, 'cursor.json'));
    for (const e of b.pending()) b.ack(e.seq);
    const fresh = await b.append('t', (s) => `${s}:fresh`);
    await b.close();
    expect(statSync(log).size).toBeLessThan(1 << 16);
    const c = await Outbox.open(d, big);
    expect(c.pending().map((e) => e.seq)).toEqual([fresh.seq]);
    expect((await c.append('t', (s) => `${s}`)).seq).toBe(fresh.seq + 1);
    await c.close();
  });

  it('drops removed by compaction are counted on disk first: a crash loses none silently', async () => {
    const d = dir();
    mkdirSync(join(d, 'cursor.json'));
    const small = { maxMessages: 10, maxBytes: 1 << 28 };
    const a = await Outbox.open(d, small);
    const pad = 'x'.repeat(2000);
    const n = 700;
    for (let i = 0; i < n; i++) await a.append('t', (s) => `${s}:${pad}`);
    expect(a.stats().dropped).toBe(n - 10);
    await a.close();
    const b = await Outbox.open(d, small);
    // every seq is either pending or counted as dropped
    expect(b.pending().map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => n - 9 + i));
    expect(b.stats().dropped + b.pending().length).toBe(n);
    await b.close();
  });

  describe.skipIf(!canMount)(canMount ? 'on a real full tmpfs' : 'on a real full tmpfs (skipped: cannot mount a tmpfs here; mounting needs root)', () => {
    afterAll(() => { for (const m of mounts) umount(m); });

    it('filled and freed while appending: every accepted record is replayed after a crash with its own payload, no seq handed out twice', async () => {
      const d = dir();
      expect(mountTmpfs(d, 'size=32k')).toBe(true);
      mounts.push(d);
      const a = await Outbox.open(d, opts);
      const accepted = new Map<number, string>();
      let refused = 0;
      const payload = (s: number) => `${s}:${'r'.repeat(300 + (s * 37) % 200)}`;
      const appendSome = async (k: number) => {
        for (let i = 0; i < k; i++) {
          const r = await a.append('t', payload).then((e) => e, () => undefined);
          if (r) accepted.set(r.seq, r.payload); else refused++;
        }
      };
      for (let cycle = 0; cycle < 3; cycle++) {
        await appendSome(5);
        fillDisk(join(d, 'filler'));
        await appendSome(15);
        rmSync(join(d, 'filler'));
      }
      await appendSome(5);
      expect(refused).toBeGreaterThan(0);
      const handedOut = a.stats().lastSeq;
      // crash: no close
      const b = await Outbox.open(d, opts);
      const back = new Map(b.pending().map((e) => [e.seq, e.payload]));
      expect([...back.keys()]).toEqual([...accepted.keys()]);
      for (const [seq, p] of accepted) expect(back.get(seq), `seq ${seq}`).toBe(p);
      const next = await b.append('t', payload);
      expect(next.seq).toBeGreaterThan(Math.max(...accepted.keys()));
      expect(handedOut).toBeGreaterThanOrEqual(Math.max(...accepted.keys()));
      await b.close();
    });
  });
});

const canMount = canMountTmpfs();
const mounts: string[] = [];

/** Appends one record at a time; each result is its seq once accepted, or 'refused'. */
async function appendEach(box: Outbox, n: number): Promise<(number | 'refused')[]> {
  const out: (number | 'refused')[] = [];
  for (let i = 0; i < n; i++) out.push(await box.append('t', (s) => `p${s}`).then((e: OutboxEntry) => e.seq, () => 'refused' as const));
  return out;
}

interface LogHandle {
  write(buf: Uint8Array, off: number, len: number, pos: number | null): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(len?: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

const fail = (code: string) => Object.assign(new Error(`${code}: simulated`), { code });

/**
 * Puts a log handle in front of the outbox's real one that fails the way a filling disk does, one scripted
 * outcome per call: 'short' writes half of what was asked (really) and returns that count without an error,
 * 'enospc' / 'eio' throw without doing anything. Once a script runs out the real handle answers.
 */
function faulty(box: Outbox, script: { write?: ('short' | 'enospc')[]; datasync?: 'eio'[]; truncate?: 'eio'[] }): void {
  const holder = box as unknown as { log: LogHandle };
  const real = holder.log;
  holder.log = {
    write: (buf, off, len, pos) => {
      const step = script.write?.shift();
      if (step === 'enospc') return Promise.reject(fail('ENOSPC'));
      return real.write(buf, off, step === 'short' ? Math.max(1, len >> 1) : len, pos);
    },
    datasync: () => (script.datasync?.shift() ? Promise.reject(fail('EIO')) : real.datasync()),
    truncate: (len) => (script.truncate?.shift() ? Promise.reject(fail('EIO')) : real.truncate(len)),
    stat: () => real.stat(),
    close: () => real.close(),
  };
}
