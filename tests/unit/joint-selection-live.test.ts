import { describe, it, expect } from 'vitest';
import { JointSelection, type CameraPlan } from '../../src/daemon/joint-selection.js';
import type { JointOption } from '../../src/select/joint.js';

const opt = (id: string, timeMs: number, accuracy: number): JointOption => ({ id, model: id, threads: 1, timeMs, p90Ms: timeMs * 1.2, memoryMb: 10, accuracy, macs: timeMs * 1e6 });
const ladder = () => [opt('big', 60, 0.7), opt('small', 20, 0.5)];

/** Two cameras at 10 fps on one core: both on `big` need 1.2 cores; one big and one small fit (0.8). */
function selection(): JointSelection {
  const j = new JointSelection({ config: undefined as never, cameras: [], log: undefined as never, signal: new AbortController().signal, stopped: () => false });
  const cams = [{ id: 'a', priority: 1 }, { id: 'b', priority: 0 }];
  j.plans = cams.map((c) => ({ cam: { id: c.id, priority: c.priority, fps: 10, config: undefined as never }, options: ladder(), budgetMs: 500 }) as unknown as CameraPlan);
  j.input = {
    cameras: cams.map((c) => ({ id: c.id, fps: 10, budgetMs: 500, priority: c.priority })),
    options: { a: ladder(), b: ladder() },
    board: { cores: 1, slowdown: 1 },
  };
  j.assignment = [0, 1];
  return j;
}

describe('the joint choice while the daemon runs (JointSelection.resolve / stepDown)', () => {
  it('a camera offline frees its share: the other steps up; back online, the set is solved again', () => {
    const j = selection();
    expect(j.resolve([true, true])).toBeUndefined();
    const freed = j.resolve([true, false])!;
    // b is offline: a keeps big; b keeps its option (it takes no share)
    expect(freed).toBeUndefined();
    const j2 = selection();
    j2.assignment = [1, 1];
    const up = j2.resolve([true, false])!;
    expect(up.assignment).toEqual([0, 1]);
    expect(up.changed).toEqual([0]);
    expect(up.reason).toContain('b offline');
  });

  it('the higher-priority camera steps up when the lower one goes offline, and the set is restored when it returns', () => {
    const j = selection();
    j.assignment = [1, 0];
    const off = j.resolve([true, false])!;
    expect(off.assignment).toEqual([0, 0]);
    j.assignment = off.assignment;
    // back online, both on big do not fit: b steps down (a has the higher priority)
    const back = j.resolve([true, true])!;
    expect(back.assignment).toEqual([0, 1]);
    expect(back.changed).toEqual([1]);
  });

  it('a throttling board or a live miss steps down the cheapest loss among the cameras online', () => {
    const j = selection();
    const s = j.stepDown([true, true])!;
    // only a can step down (b is on its lightest option)
    expect(s.assignment).toEqual([1, 1]);
    j.assignment = [0, 0];
    // with a offline, only b is considered
    expect(j.stepDown([false, true])!.assignment).toEqual([0, 1]);
    expect(j.stepDown([false, false])).toBeUndefined();
  });
});
