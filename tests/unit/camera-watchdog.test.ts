import { describe, it, expect } from 'vitest';
import { Backoff, Watchdog, type Timers } from '../../src/camera/watchdog.js';

/** A manual clock: timers fire only when the test advances time. */
class FakeTimers implements Timers {
  t = 1_000_000;
  private q: Array<{ at: number; fn: () => void; id: number }> = [];
  private ids = 0;
  now(): number { return this.t; }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.q.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(h: unknown): void { this.q = this.q.filter((x) => x.id !== h); }
  get pending(): number { return this.q.length; }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.q.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.q[0];
      if (!next || next.at > end) break;
      this.q.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

describe('Backoff (exponential, full jitter)', () => {
  it('draws under a ceiling that doubles from base up to the cap', () => {
    const b = new Backoff({ baseMs: 500, capMs: 30_000, random: () => 1 });
    const delays = Array.from({ length: 9 }, () => b.next());
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(b.attempt).toBe(9);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it('is uniform between 0 and the ceiling (full jitter), with the injected random', () => {
    const rs = [0, 0.25, 0.5, 0.999];
    let i = 0;
    const b = new Backoff({ baseMs: 1000, capMs: 60_000, random: () => rs[i++]! });
    expect([b.next(), b.next(), b.next(), b.next()]).toEqual([0, 500, 2000, Math.round(0.999 * 8000)]);
  });

  it('stays finite after many attempts and clamps a misbehaving random', () => {
    const b = new Backoff({ baseMs: 500, capMs: 30_000, random: () => 7 });
    for (let i = 0; i < 2000; i++) b.next();
    expect(b.next()).toBe(30_000);
    expect(() => new Backoff({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 100, capMs: 50 })).toThrow(RangeError);
  });
});

describe('Watchdog', () => {
  function setup(stallMs = 1000, startupMs = 1000) {
    const timers = new FakeTimers();
    const log: string[] = [];
    const w = new Watchdog({ stallMs, startupMs, backoff: new Backoff({ baseMs: 100, capMs: 800, random: () => 1 }), timers }, {
      stalled: (s) => log.push(`stall ${s}`),
      restart: () => { log.push('restart'); w.begin(); },
      scheduled: (ms, a) => log.push(`retry ${ms} #${a}`),
    });
    return { timers, log, w };
  }

  it('declares a stall only after stallMs without frames, not while frames flow', () => {
    const { timers, log, w } = setup();
    w.begin();
    for (let i = 0; i < 50; i++) { timers.advance(100); w.frame(); }
    expect(log).toEqual([]);
    timers.advance(999);
    expect(log).toEqual([]);
    timers.advance(1);
    expect(log).toEqual(['stall 1', 'retry 100 #0']);
    timers.advance(100);
    expect(log.at(-1)).toBe('restart');
  });

  it('counts a capture that never delivers as a stall too', () => {
    const { timers, log, w } = setup();
    w.begin();
    timers.advance(1000);
    expect(log[0]).toBe('stall 1');
  });

  it('waits longer for the first frame after a start (startupMs), then applies stallMs', () => {
    const { timers, log, w } = setup(1000, 5000);
    w.begin();
    timers.advance(4999);
    expect(log).toEqual([]);
    w.frame();
    timers.advance(999);
    expect(log).toEqual([]);
    timers.advance(1);
    expect(log[0]).toBe('stall 1');
    // the restart gets the startup grace again
    timers.advance(100);
    expect(log.at(-1)).toBe('restart');
    timers.advance(4999);
    expect(log.filter((l) => l.startsWith('stall'))).toHaveLength(1);
    timers.advance(1);
    expect(log.filter((l) => l.startsWith('stall'))).toHaveLength(2);
  });

  it('backs off further on each fault while no frame flows, and resets once frames flowed for stallMs', () => {
    const { timers, log, w } = setup();
    w.begin();
    for (let i = 0; i < 5; i++) { w.fault(); timers.advance(1000); }
    expect(log.filter((l) => l.startsWith('retry'))).toEqual(['retry 100 #0', 'retry 200 #1', 'retry 400 #2', 'retry 800 #3', 'retry 800 #4']);
    // frames flow, but not yet for stallMs: a flapping camera keeps its backoff
    w.frame(); timers.advance(500); w.frame();
    w.fault(); timers.advance(1000);
    expect(log.filter((l) => l.startsWith('retry')).at(-1)).toBe('retry 800 #5');
    w.frame(); timers.advance(600); w.frame(); timers.advance(600); w.frame();
    w.fault();
    expect(log.at(-1)).toBe('retry 100 #0');
  });

  it('schedules one restart for a stall followed by the exit it caused', () => {
    const { timers, log, w } = setup();
    w.begin();
    timers.advance(1000);
    w.fault();
    expect(log.filter((l) => l.startsWith('retry'))).toHaveLength(1);
    timers.advance(100);
    expect(log.filter((l) => l === 'restart')).toHaveLength(1);
  });

  it('cancel() stops stall detection and pending restarts', () => {
    const { timers, log, w } = setup();
    w.begin();
    w.fault();
    w.cancel();
    timers.advance(10_000);
    expect(log).toEqual(['retry 100 #0']);
    expect(timers.pending).toBe(0);
  });
});
