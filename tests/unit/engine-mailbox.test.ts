import { describe, it, expect } from 'vitest';
import { Worker } from 'node:worker_threads';
import { createMailbox, MailboxReader, MailboxWriter } from '../../src/engine/mailbox.js';

const frame = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('engine mailbox (shared memory between host and worker)', () => {
  it('newest frame wins: offers before a take replace each other, and the reader gets the last one whole', () => {
    const b = createMailbox(64, 4);
    const w = new MailboxWriter(b);
    const r = new MailboxReader(b);
    expect(w.offer(frame(64, 1), 1, 1001)).toBe(false);
    expect(w.offer(frame(64, 2), 2, 1002)).toBe(true);
    expect(w.offer(frame(64, 3), 3, 1003)).toBe(true);
    expect(r.take()).toBe(true);
    expect([r.seq, r.ts]).toEqual([3, 1003]);
    expect(r.frame.every((x) => x === 3)).toBe(true);
    // the writer keeps writing while the reader holds its slot: the reader's copy never changes
    expect(w.offer(frame(64, 4), 4, 1004)).toBe(false);
    expect(w.offer(frame(64, 5), 5, 1005)).toBe(true);
    expect(r.frame.every((x) => x === 3)).toBe(true);
    expect(w.running()?.seq).toBe(3);
    r.done();
    expect(w.running()).toBeUndefined();
    expect(r.take()).toBe(true);
    expect(r.seq).toBe(5);
  });

  it('cancel withdraws a frame not yet taken; stop ends the reader', () => {
    const b = createMailbox(8, 2);
    const w = new MailboxWriter(b);
    const r = new MailboxReader(b);
    expect(w.cancel()).toBe(false);
    w.offer(frame(8, 9), 1, 0);
    expect(w.cancel()).toBe(true);
    w.stop();
    expect(r.take()).toBe(false);
  });

  it('result slots alternate and are reused only after the host read them', () => {
    const b = createMailbox(8, 3);
    const w = new MailboxWriter(b);
    const r = new MailboxReader(b);
    const into = new Float32Array(3);
    expect(r.putResult(Float32Array.of(1, 2, 3))).toBe(0);
    expect(r.putResult(Float32Array.of(4, 5, 6))).toBe(1);
    w.takeResult(0, into, 3);
    expect(Array.from(into)).toEqual([1, 2, 3]);
    expect(r.putResult(Float32Array.of(7, 8, 9))).toBe(0);
    w.takeResult(1, into, 3);
    expect(Array.from(into)).toEqual([4, 5, 6]);
    // slot 1 was freed, slot 0 is still unread: with the host stopping, a writer waiting for slot 0... never blocks past stop
    w.stop();
    expect(r.putResult(Float32Array.of(0, 0, 0))).toBe(1);
    expect(r.putResult(Float32Array.of(0, 0, 0))).toBe(-1);
  });

  it('across threads: a reader in a worker sees whole frames only, never a torn one, and the newest at each take', async () => {
    const size = 1 << 16;
    const b = createMailbox(size, 1);
    // the reader runs in a worker written in plain JS over the same layout, through the compiled module
    const { distModule } = await import('../../src/util/paths.js');
    const worker = new Worker(`
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.mod).then(({ MailboxReader }) => {
        const r = new MailboxReader(workerData.b);
        parentPort.postMessage({ ready: true });
        let taken = 0, torn = 0, backwards = 0, last = -1;
        while (r.take()) {
          const v = r.frame[0];
          for (let i = 0; i < r.frame.length; i += 4096) if (r.frame[i] !== v) { torn++; break; }
          if (r.seq % 256 !== v) torn++;
          if (r.seq <= last) backwards++;
          last = r.seq; taken++;
          r.done();
        }
        parentPort.postMessage({ taken, torn, backwards });
      });
    `, { eval: true, workerData: { b, mod: distModule('engine/mailbox.js') } });
    // on a loaded machine the worker's import can take longer than writing all 3000 frames: start once it reads
    await new Promise((resolve) => worker.once('message', resolve));
    const w = new MailboxWriter(b);
    const f = new Uint8Array(size);
    let replaced = 0;
    for (let seq = 1; seq <= 3000; seq++) {
      f.fill(seq % 256);
      if (w.offer(f, seq, Date.now())) replaced++;
      if (seq % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 50));
    const done = new Promise<{ taken: number; torn: number; backwards: number }>((resolve) => worker.once('message', resolve));
    w.stop();
    const got = await done;
    await worker.terminate();
    expect(got.torn).toBe(0);
    expect(got.backwards).toBe(0);
    expect(got.taken).toBeGreaterThan(0);
    // every frame was either taken or replaced by a newer one
    expect(got.taken + replaced).toBe(3000);
  });
});
