import { describe, it, expect } from 'vitest';
import { Adapter, type AdaptOptions, type SwitchEvent } from '../../src/select/adapt.js';
import { rng } from './select-fixtures.js';

// largest first; profiled p90s
const ladder = [
  { id: 'L', profiledMs: 30 },
  { id: 'M', profiledMs: 20 },
  { id: 'S', profiledMs: 10 },
  { id: 'XS', profiledMs: 5 },
];

/** Drives an adapter at a fixed frame interval; latency(t, profiledMs) gives each frame's latency. */
function drive(opts: Partial<AdaptOptions>, durationMs: number, latency: (t: number, profiled: number) => number, frameMs = 50, throttled?: (t: number) => boolean) {
  let now = 0;
  const a = new Adapter({ ladder, current: 'L', budgetMs: 33, clock: () => now, ...opts });
  const events: SwitchEvent[] = [];
  for (; now < durationMs; now += frameMs) {
    const prof = ladder.find((r) => r.id === a.current)!.profiledMs;
    const ev = a.observe(latency(now, prof), throttled ? { throttled: throttled(now) } : undefined);
    if (ev) events.push(ev);
  }
  return { a, events };
}

describe('Adapter (live re-selection with hysteresis)', () => {
  it('stays put while the live p90 fits', () => {
    const { events, a } = drive({}, 120_000, (_t, p) => p * 1.05);
    expect(events).toEqual([]);
    expect(a.current).toBe('L');
  });

  it('ignores a spike shorter than the sustain window, and not one that lasts', () => {
    // the windowed p90 stays high while >= 3 of 30 frames are slow, so a 1 s spike reads as ~2.4 s over budget
    const { events } = drive({}, 60_000, (t, p) => (t > 10_000 && t < 11_000 ? p * 3 : p));
    expect(events).toEqual([]);
    const r = drive({}, 60_000, (t, p) => (t > 10_000 && t < 14_000 ? p * 3 : p));
    expect(r.events[0]?.reason).toBe('over-budget');
  });

  it('steps down after a sustained overrun to the largest rung predicted to fit at the observed slowdown', () => {
    // from t=10 s everything runs 2.5x slower than profiled: L 75, M 50, S 25 (fits 33), XS 12.5
    const { events, a } = drive({}, 40_000, (t, p) => (t >= 10_000 ? p * 2.5 : p));
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e).toMatchObject({ from: 'L', to: 'S', reason: 'over-budget' });
    expect(e.slowdown).toBeCloseTo(2.5, 5);
    expect(e.at).toBeGreaterThanOrEqual(10_000 + 3000);
    expect(e.at).toBeLessThan(10_000 + 3000 + 1000);
    expect(e.detail).toMatch(/^live p90 75\.0 ms > 33\.0 ms for 3\.\d s; slowdown x2\.50; S predicted 25\.0 ms$/);
    expect(a.current).toBe('S');
  });

  it('steps back up one rung at a time, only after the cool-down, with headroom', () => {
    // slow (x2.5) from 10 s to 60 s, then back to normal
    const { events } = drive({ cooldownMs: 30_000, upSustainMs: 10_000, headroom: 0.95 }, 300_000, (t, p) => (t >= 10_000 && t < 60_000 ? p * 2.5 : p));
    expect(events.map((e) => `${e.from}>${e.to}:${e.reason}`)).toEqual(['L>S:over-budget', 'S>M:headroom', 'M>L:headroom']);
    const [down, up1, up2] = events as [SwitchEvent, SwitchEvent, SwitchEvent];
    expect(up1.at - down.at).toBeGreaterThanOrEqual(30_000);
    expect(up2.at - up1.at).toBeGreaterThanOrEqual(30_000);
  });

  it('does not step up into a rung predicted over headroom x budget (L at 30 ms > 80% of 33 ms)', () => {
    const { events, a } = drive({ current: 'M' }, 300_000, (_t, p) => p);
    expect(events).toEqual([]);
    expect(a.current).toBe('M');
    // with more headroom allowed it does
    const r = drive({ current: 'M', headroom: 0.95 }, 300_000, (_t, p) => p);
    expect(r.events.map((e) => e.to)).toEqual(['L']);
  });

  it('never steps up while throttled', () => {
    const { events } = drive({ current: 'S' }, 300_000, (_t, p) => p, 50, () => true);
    expect(events).toEqual([]);
    const r = drive({ current: 'S' }, 300_000, (_t, p) => p, 50, (t) => t < 200_000);
    expect(r.events.length).toBeGreaterThan(0);
    expect(r.events[0]!.at).toBeGreaterThanOrEqual(200_000);
  });

  it('at the bottom rung an overrun has nowhere to go: no event', () => {
    const { events } = drive({ current: 'XS' }, 60_000, (_t, p) => p * 20);
    expect(events).toEqual([]);
  });

  it('nothing predicted to fit: best effort is the smallest rung', () => {
    const { events } = drive({}, 20_000, (_t, p) => p * 10);
    expect(events.map((e) => e.to)).toEqual(['XS']);
  });

  it('an oscillating load does not make it flap: undone step-ups double the cool-down', () => {
    // the load alternates every 20 s between normal and 2.5x slower, for an hour
    const period = 40_000;
    const { events } = drive({}, 3_600_000, (t, p) => ((t % period) < period / 2 ? p : p * 2.5));
    const ups = events.filter((e) => e.reason === 'headroom');
    // without backoff it would step up and down every period (~90 ups/h); with it, the gaps grow
    expect(ups.length).toBeLessThanOrEqual(8);
    const gaps = ups.slice(1).map((e, i) => e.at - ups[i]!.at);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThanOrEqual(gaps[i - 1]! * 0.9);
    // and no two switches ever come closer than the sustain window
    for (let i = 1; i < events.length; i++) expect(events[i]!.at - events[i - 1]!.at).toBeGreaterThanOrEqual(3000);
  });

  it('frame-level jitter around the budget (p90 over) steps down once and stays', () => {
    const r = rng(7);
    // 85% of frames fast, 15% slow: p90 is the slow mode, so it is over budget on L and fine on S
    const { events, a } = drive({}, 600_000, (_t, p) => (r() < 0.15 ? p * 1.5 : p * 0.9));
    expect(events.map((e) => e.to)).toEqual(['M']);
    expect(a.current).toBe('M');
  });

  it('ignores non-finite latencies and validates its options', () => {
    let now = 0;
    const a = new Adapter({ ladder, current: 'L', budgetMs: 33, clock: () => now, minSamples: 1 });
    expect(a.observe(NaN)).toBeNull();
    expect(Number.isNaN(a.livePercentile())).toBe(true);
    a.observe(12);
    expect(a.livePercentile()).toBe(12);
    now = 1;
    expect(() => new Adapter({ ladder, current: 'nope', budgetMs: 33, clock: () => 0 })).toThrow(/not in the ladder/);
    expect(() => new Adapter({ ladder: [], current: 'L', budgetMs: 33, clock: () => 0 })).toThrow(/non-empty/);
    expect(() => new Adapter({ ladder, current: 'L', budgetMs: 0, clock: () => 0 })).toThrow(/budget/);
    expect(() => new Adapter({ ladder, current: 'L', budgetMs: 33, headroom: 1.2, clock: () => 0 })).toThrow(/headroom/);
    expect(() => new Adapter({ ladder: [ladder[0]!, ladder[0]!], current: 'L', budgetMs: 33, clock: () => 0 })).toThrow(/unique/);
  });
});
