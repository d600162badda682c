import { describe, it, expect } from 'vitest';
import { FrameRing } from '../../src/camera/ring.js';
import { BaseFrameSource } from '../../src/camera/base.js';
import type { FrameSourceOptions } from '../../src/camera/source.js';

/** A source driven by hand: each push() delivers one frame filled with `value`. */
class ManualSource extends BaseFrameSource {
  readonly name = 'manual';
  t = 1000;
  constructor(o: Partial<FrameSourceOptions> = {}) {
    const base: FrameSourceOptions = { width: 4, height: 2, fps: 10, watchdogSeconds: 1, loop: true };
    super({ ...base, ...o, now: () => this.t });
  }
  push(value: number): void {
    this.ring.writable().fill(value);
    this.publish();
  }
  protected async startCapture(): Promise<void> {}
  protected async stopCapture(): Promise<void> {}
  protected async resizeCapture(): Promise<void> {}
  burst(values: number[]): void {
    for (const v of values) {
      this.ring.writable().fill(v);
      this.publish(false);
    }
    this.wake();
  }
  end(): void { this.markEnded(); }
  fail(msg: string): void { this.reportError(new Error(msg)); }
}

describe('FrameRing', () => {
  it('never hands the writer the held or the published slot', () => {
    const r = new FrameRing(2, 2);
    const held = new Set<Uint8Array>();
    for (let i = 1; i <= 50; i++) {
      const w = r.writable();
      expect(held.has(w)).toBe(false);
      expect(w).not.toBe(r.latest()?.data);
      r.commit(i, i);
      if (i % 3 === 0) {
        held.clear();
        held.add(r.take()!.data);
      }
    }
    expect(r.bufferBytes).toBe(3 * 12);
  });

  it('reports a superseded untaken frame, not a taken one', () => {
    const r = new FrameRing(1, 1);
    expect(r.commit(1, 1)).toBe(false);
    expect(r.commit(2, 2)).toBe(true);
    expect(r.take()!.seq).toBe(2);
    expect(r.take()).toBeNull();
    expect(r.commit(3, 3)).toBe(false);
  });
});

describe('BaseFrameSource latest-frame semantics', () => {
  it('take() gives the newest frame, counts drops, and keeps the held bytes intact', async () => {
    const s = new ManualSource();
    await s.start();
    expect(s.take()).toBeNull();
    s.push(1);
    const a = s.take()!;
    expect([a.seq, a.data[0]]).toEqual([1, 1]);
    for (let v = 2; v <= 10; v++) s.push(v);
    expect(a.data.every((x) => x === 1)).toBe(true);
    const b = s.take()!;
    expect([b.seq, b.data[0]]).toEqual([10, 10]);
    expect(s.stats()).toMatchObject({ framesIn: 10, dropped: 8, online: true });
    expect(s.take()).toBeNull();
  });

  it('next() waits for a newer frame than the last taken and shares it between waiters', async () => {
    const s = new ManualSource();
    await s.start();
    s.push(1);
    s.take();
    const p1 = s.next();
    const p2 = s.next();
    s.push(2);
    const [f1, f2] = await Promise.all([p1, p2]);
    expect(f1.seq).toBe(2);
    expect(f2).toBe(f1);
    expect(s.stats().dropped).toBe(0);
  });

  it('a burst of frames wakes a waiting consumer with the newest one', async () => {
    const s = new ManualSource();
    await s.start();
    const p = s.next();
    s.burst([1, 2, 3]);
    const f = await p;
    expect([f.seq, f.data[0]]).toEqual([3, 3]);
    expect(s.stats().dropped).toBe(2);
  });

  it('ts never decreases even if the clock steps back', async () => {
    const s = new ManualSource();
    await s.start();
    s.t = 5000; s.push(1);
    s.t = 4000; s.push(2);
    expect(s.take()!.ts).toBe(5000);
    expect(s.stats().lastFrameAt).toBe(5000);
  });

  it('next() rejects on abort, on stop and at the end of input', async () => {
    const s = new ManualSource();
    await s.start();
    const ac = new AbortController();
    const p = s.next(ac.signal);
    ac.abort();
    await expect(p).rejects.toThrow(/abort/i);
    const q = s.next();
    await s.stop();
    await expect(q).rejects.toThrow(/stopped/);
    await s.start();
    const r = s.next();
    s.end();
    await expect(r).rejects.toThrow(/no more frames/);
    await expect(s.next()).rejects.toThrow(/no more frames/);
    expect(s.stats().ended).toBe(true);
  });

  it("does not throw on a fault when nobody listens to 'error', and emits it when somebody does", async () => {
    const s = new ManualSource();
    expect(() => s.fail('camera gone')).not.toThrow();
    expect(s.stats().lastError).toBe('camera gone');
    const seen: string[] = [];
    s.on('error', (e: Error) => seen.push(e.message));
    s.fail('again');
    expect(seen).toEqual(['again']);
  });

  it('validates its options and sizes at the boundary', async () => {
    expect(() => new ManualSource({ width: 0 })).toThrow(/width/);
    expect(() => new ManualSource({ height: 1.5 })).toThrow(/height/);
    expect(() => new ManualSource({ fps: 0 })).toThrow(/fps/);
    expect(() => new ManualSource({ watchdogSeconds: -1 })).toThrow(/watchdog/);
    const s = new ManualSource();
    await expect(s.reconfigure({ width: 100000, height: 4 })).rejects.toThrow(/width/);
  });

  it('reconfigure() swaps the ring but leaves the held frame with its old size and bytes', async () => {
    const s = new ManualSource();
    await s.start();
    s.push(7);
    const a = s.take()!;
    await s.reconfigure({ width: 3, height: 3 });
    s.push(8);
    const b = s.take()!;
    expect([a.width, a.height, a.data.length, a.data[0]]).toEqual([4, 2, 24, 7]);
    expect([b.width, b.height, b.data.length, b.data[0]]).toEqual([3, 3, 27, 8]);
    expect(s.stats().bufferBytes).toBe(81);
  });
});
