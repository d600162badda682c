import { describe, it, expect } from 'vitest';
import { FairQueue } from '../../src/engine/fair-queue.js';

interface SimCamera { id: string; fps: number; runMs: number; resource?: string; phaseMs?: number }
interface SimResult { waits: Map<string, number[]>; workMs: Map<string, number>; runs: Map<string, number>; maxConcurrent: number; overlapOnResource: boolean }

/**
 * Discrete-event simulation on a fake clock: each camera offers a frame every 1000/fps ms, a run of its frame
 * takes runMs, and whenever a run ends or a frame arrives the queue is asked for what runs next.
 */
function simulate(q: FairQueue<number>, cams: SimCamera[], durationMs: number, clock: { t: number }): SimResult {
  const nextArrival = new Map(cams.map((c) => [c.id, c.phaseMs ?? 0]));
  const running: { id: string; end: number; resource: string }[] = [];
  const res: SimResult = { waits: new Map(cams.map((c) => [c.id, []])), workMs: new Map(cams.map((c) => [c.id, 0])), runs: new Map(cams.map((c) => [c.id, 0])), maxConcurrent: 0, overlapOnResource: false };
  const byId = new Map(cams.map((c) => [c.id, c]));
  let frame = 0;
  for (;;) {
    const t = Math.min(...nextArrival.values(), ...running.map((r) => r.end));
    if (t > durationMs) break;
    clock.t = t;
    for (let i = running.length - 1; i >= 0; i--) {
      if (running[i]!.end === t) { q.done(running[i]!.id); running.splice(i, 1); }
    }
    for (const c of cams) {
      if (nextArrival.get(c.id) === t) { q.offer(c.id, frame++); nextArrival.set(c.id, t + 1000 / c.fps); }
    }
    for (let d = q.next(); d; d = q.next()) {
      const c = byId.get(d.camera)!;
      const resource = c.resource ?? c.id;
      if (running.some((r) => r.resource === resource)) res.overlapOnResource = true;
      running.push({ id: c.id, end: t + c.runMs, resource });
      res.waits.get(c.id)!.push(d.waitMs);
      res.workMs.set(c.id, res.workMs.get(c.id)! + Math.min(c.runMs, durationMs - t));
      res.runs.set(c.id, res.runs.get(c.id)! + 1);
      res.maxConcurrent = Math.max(res.maxConcurrent, running.length);
    }
  }
  return res;
}

function setup(slots: number, cams: SimCamera[]) {
  const clock = { t: 0 };
  const q = new FairQueue<number>(slots, () => clock.t);
  for (const c of cams) q.add({ id: c.id, fps: c.fps, resource: c.resource ?? c.id, costMs: c.runMs });
  return { q, clock };
}

describe('FairQueue (fake clock)', () => {
  it('a 1 fps camera never waits behind the backlog of a 30 fps one that overloads the worker', () => {
    const cams = [{ id: 'busy', fps: 30, runMs: 50 }, { id: 'slow', fps: 1, runMs: 50, phaseMs: 7 }];
    const { q, clock } = setup(1, cams);
    const r = simulate(q, cams, 20_000, clock);
    // the busy camera asks for 150% of the worker; the 1 fps one waits at most for the run already going
    expect(r.waits.get('slow')!.length).toBe(20);
    expect(Math.max(...r.waits.get('slow')!)).toBeLessThanOrEqual(50);
    expect(q.stats('slow').dropped).toBe(0);
    // latest frame wins for the busy camera: what it could not run is counted, per camera
    const s = q.stats('busy');
    expect(s.dropped).toBeGreaterThan(150);
    expect(s.offered).toBe(s.dispatched + s.dropped + (s.offered - s.dispatched - s.dropped));
    expect(s.offered - s.dispatched - s.dropped).toBeLessThanOrEqual(1); // at most the one still waiting
  });

  it('under overload, cameras that each ask for more than the whole worker split it evenly in time', () => {
    // both always have a frame waiting (light asks for 200% of the worker, heavy for 180%)
    const cams = [{ id: 'light', fps: 100, runMs: 20 }, { id: 'heavy', fps: 30, runMs: 60 }];
    const { q, clock } = setup(1, cams);
    const r = simulate(q, cams, 30_000, clock);
    const light = r.workMs.get('light')!, heavy = r.workMs.get('heavy')!;
    expect(light / (light + heavy)).toBeGreaterThan(0.45);
    expect(light / (light + heavy)).toBeLessThan(0.55);
    // the same worker time buys the light camera three times the frames
    expect(r.runs.get('light')! / r.runs.get('heavy')!).toBeGreaterThan(2.6);
  });

  it('a camera that asks for less than its share gets every frame at its fps', () => {
    const cams = [{ id: 'small', fps: 5, runMs: 20 }, { id: 'hog', fps: 30, runMs: 60, phaseMs: 3 }];
    const { q, clock } = setup(1, cams);
    const r = simulate(q, cams, 10_000, clock);
    expect(q.stats('small').dropped).toBe(0);
    expect(r.runs.get('small')).toBe(q.stats('small').offered);
    expect(q.stats('small').offered).toBe(51); // frames at 0, 200, ..., 10000 ms
    expect(Math.max(...r.waits.get('small')!)).toBeLessThanOrEqual(60);
  });

  it('never runs more than one frame per slot, nor two frames on one shared resource', () => {
    const cams = [
      { id: 'a', fps: 20, runMs: 30, resource: 'modelX' },
      { id: 'b', fps: 20, runMs: 30, resource: 'modelX', phaseMs: 1 },
      { id: 'c', fps: 20, runMs: 30, resource: 'modelY', phaseMs: 2 },
      { id: 'd', fps: 20, runMs: 30, resource: 'modelZ', phaseMs: 3 },
    ];
    const { q, clock } = setup(2, cams);
    const r = simulate(q, cams, 5_000, clock);
    expect(r.maxConcurrent).toBe(2);
    expect(r.overlapOnResource).toBe(false);
    for (const c of cams) expect(r.runs.get(c.id)).toBeGreaterThan(30);
  });

  it('latest frame wins per camera; cancel and remove count the frame they drop', () => {
    const clock = { t: 0 };
    const q = new FairQueue<string>(1, () => clock.t);
    q.add({ id: 'a', fps: 10, resource: 'r', costMs: 10 });
    expect(q.offer('a', 'f1')).toBe(false);
    clock.t = 5;
    expect(q.offer('a', 'f2')).toBe(true);
    clock.t = 8;
    const d = q.next()!;
    expect(d).toEqual({ camera: 'a', frame: 'f2', ts: 5, waitMs: 3 });
    expect(q.next()).toBeUndefined();
    q.offer('a', 'f3');
    expect(q.next()).toBeUndefined(); // its resource is busy
    clock.t = 30;
    q.done('a');
    expect(q.stats('a').costMs).toBeCloseTo(10 + 0.2 * (22 - 10), 9);
    expect(q.cancel('a')).toBe(true);
    expect(q.next()).toBeUndefined();
    q.offer('a', 'f4');
    q.remove('a');
    expect(() => q.stats('a')).toThrow(/not in the queue/);
    expect(() => q.done('a')).toThrow(/not in the queue/);
    expect(() => new FairQueue(0)).toThrow(/at least one slot/);
  });
});
