import { describe, it, expect } from 'vitest';
import { existsSync } from 'node:fs';
import type { Frame, FrameSource, FrameSourceOptions } from '../../src/camera/source.js';

export interface ContractSettings {
  width?: number;
  height?: number;
  fps?: number;
}

/** Liveness bound only: a frame that takes longer than this means the source is broken, not slow. */
const LIVE_MS = 20_000;

export function within<T>(p: Promise<T>, what: string, ms = LIVE_MS): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms); }),
  ]);
}

export async function until(cond: () => boolean, what: string, ms = LIVE_MS): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not reached within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie still answers kill(0): it is only gone when /proc no longer lists it
  return existsSync(`/proc/${pid}`);
}

function digest(f: Frame): string {
  let h = 0;
  for (let i = 0; i < f.data.length; i += 7) h = (h * 31 + f.data[i]!) | 0;
  return `${f.data.length}:${h}`;
}

/**
 * The FrameSource contract: every implementation (ffmpeg on every input kind, rpicam, folder, synthetic)
 * passes it. `make` builds an unstarted source from the options; every test starts and stops its own.
 */
export function frameSourceContract(name: string, make: (opts: FrameSourceOptions) => FrameSource, settings: ContractSettings = {}): void {
  const opts = (): FrameSourceOptions => ({
    width: settings.width ?? 96,
    height: settings.height ?? 96,
    fps: settings.fps ?? 30,
    watchdogSeconds: 10,
    loop: true,
  });

  async function withSource(fn: (s: FrameSource, o: FrameSourceOptions) => Promise<void>): Promise<void> {
    const o = opts();
    const s = make(o);
    try {
      await fn(s, o);
    } finally {
      await s.stop();
    }
  }

  describe(`FrameSource contract: ${name}`, () => {
    it('start and stop are idempotent, and a stopped source starts again', async () => {
      await withSource(async (s, o) => {
        await s.start();
        await s.start();
        const f = await within(s.next(), 'first frame');
        expect(f.data.length).toBe(o.width * o.height * 3);
        expect(s.stats().online).toBe(true);
        await s.stop();
        await s.stop();
        expect(s.stats().online).toBe(false);
        expect(s.pids()).toEqual([]);
        await expect(s.next()).rejects.toThrow(/not started|stopped/);
        await s.start();
        const g = await within(s.next(), 'frame after restart');
        expect(g.seq).toBeGreaterThan(f.seq);
      });
    });

    it('delivers frames of the configured size with increasing seq and monotonic ts', async () => {
      await withSource(async (s, o) => {
        const t0 = Date.now();
        await s.start();
        const seen: Array<{ seq: number; ts: number; width: number; height: number; bytes: number; digest: string }> = [];
        for (let i = 0; i < 8; i++) {
          const f = await within(s.next(), `frame ${i}`);
          seen.push({ seq: f.seq, ts: f.ts, width: f.width, height: f.height, bytes: f.data.length, digest: digest(f) });
        }
        for (const f of seen) {
          expect([f.width, f.height, f.bytes]).toEqual([o.width, o.height, o.width * o.height * 3]);
          expect(f.ts).toBeGreaterThanOrEqual(t0);
          expect(f.ts).toBeLessThanOrEqual(Date.now());
        }
        for (let i = 1; i < seen.length; i++) {
          expect(seen[i]!.seq).toBeGreaterThan(seen[i - 1]!.seq);
          expect(seen[i]!.ts).toBeGreaterThanOrEqual(seen[i - 1]!.ts);
        }
        // a source that hands out one stale buffer over and over would pass everything else
        expect(new Set(seen.map((f) => f.digest)).size).toBeGreaterThan(1);
        const st = s.stats();
        expect(st.framesIn).toBeGreaterThanOrEqual(seen.at(-1)!.seq);
        expect(st.lastFrameAt).toBeGreaterThanOrEqual(seen.at(-1)!.ts);
      });
    });

    it('gives a slow consumer the newest frame, counts the superseded ones, and never queues', async () => {
      await withSource(async (s, o) => {
        await s.start();
        const a = await within(s.next(), 'first frame');
        const seqA = a.seq;
        const copyA = Uint8Array.from(a.data);
        const dropped0 = s.stats().dropped;
        const bytes0 = s.stats().bufferBytes;
        expect(bytes0).toBeLessThanOrEqual(4 * o.width * o.height * 3);
        // the consumer is "busy": several frames arrive while it holds `a`
        await until(() => (s.latest()?.seq ?? 0) >= seqA + 5, 'five newer frames');
        expect(a.seq).toBe(seqA);
        expect(Buffer.from(a.data).equals(Buffer.from(copyA))).toBe(true);
        const b = s.take()!;
        expect(b).not.toBeNull();
        expect(b.seq).toBeGreaterThanOrEqual(seqA + 5);
        expect(b.seq).toBe(s.latest()!.seq);
        // every frame between the two takes was superseded before anybody took it
        expect(s.stats().dropped - dropped0).toBe(b.seq - seqA - 1);
        expect(s.stats().bufferBytes).toBe(bytes0);
        const c = s.take();
        if (c !== null) expect(c.seq).toBeGreaterThan(b.seq);
      });
    });

    it('next() rejects when aborted, and on a source that is not started', async () => {
      await withSource(async (s) => {
        await expect(s.next()).rejects.toThrow(/not started/);
        await s.start();
        const ac = new AbortController();
        ac.abort();
        await expect(s.next(ac.signal)).rejects.toThrow();
        await within(s.next(), 'frame after an aborted wait');
      });
    });

    it('reconfigure changes the size in place, without a restart, and leaves the held frame intact', async () => {
      await withSource(async (s, o) => {
        await s.start();
        const a = await within(s.next(), 'first frame');
        const copyA = Uint8Array.from(a.data);
        const restarts = s.stats().restarts;
        await s.reconfigure({ width: 48, height: 48 });
        const b = await within(s.next(), 'frame at the new size');
        expect([b.width, b.height, b.data.length]).toEqual([48, 48, 48 * 48 * 3]);
        expect(b.seq).toBeGreaterThan(a.seq);
        expect([a.width, a.height]).toEqual([o.width, o.height]);
        expect(Buffer.from(a.data).equals(Buffer.from(copyA))).toBe(true);
        expect(s.stats()).toMatchObject({ width: 48, height: 48, restarts, bufferBytes: 3 * 48 * 48 * 3 });
        await s.reconfigure({ width: o.width, height: o.height });
        const c = await within(s.next(), 'frame back at the first size');
        expect(c.data.length).toBe(o.width * o.height * 3);
        expect(s.stats().restarts).toBe(restarts);
        await expect(s.reconfigure({ width: 0, height: 10 })).rejects.toThrow(/width/);
      });
    });

    it('stop releases its child processes (no zombie)', async () => {
      const s = make(opts());
      await s.start();
      await within(s.next(), 'first frame');
      const pids = s.pids();
      for (const p of pids) expect(pidAlive(p)).toBe(true);
      await s.stop();
      expect(s.pids()).toEqual([]);
      for (const p of pids) expect(pidAlive(p)).toBe(false);
    });
  });
}
