import { describe, it, expect } from 'vitest';
import { ResultFilter, type FilterInput } from '../../src/pipeline/result-filter.js';
import type { Detection } from '../../src/types/detection.js';

const det = (label: string, score: number, box: Detection['box'] = [0.1, 0.1, 0.5, 0.5]): Detection => ({ label, index: label === 'person' ? 0 : 2, score, box });
/** a detector's result as the detection task builds it: counts by label of the detections */
function frame(...ds: Detection[]): FilterInput {
  const counts: Record<string, number> = {};
  for (const d of ds) counts[d.label] = (counts[d.label] ?? 0) + 1;
  return { top: [], detections: ds, counts };
}

describe('ResultFilter, detection results', () => {
  it("'change' publishes when the set of labels or a count changes, never for a score or a box alone", () => {
    const f = new ResultFilter('change', 0, 0);
    const seq = [
      frame(det('person', 0.6)), // first result: published
      frame(det('person', 0.9, [0.2, 0.2, 0.6, 0.6])), // same person, other score and box: not
      frame(det('person', 0.7), det('person', 0.55)), // a second person: count 1 -> 2
      frame(det('person', 0.7), det('person', 0.8)), // still two
      frame(det('person', 0.7), det('car', 0.8)), // person 2 -> 1 and a car: set changed
      frame(det('car', 0.8), det('person', 0.6)), // same counts, other order
      frame(), // nobody: a change to nothing
      frame(), // still nothing
      frame(det('car', 0.5)), // a car again
    ];
    expect(seq.map((r, t) => f.accept(r, t))).toEqual([true, false, true, false, true, false, true, false, true]);
  });

  it("'change' compares with what was published: a change held back by the rate limit goes out later", () => {
    const f = new ResultFilter('change', 0, 2); // at most 2 per second
    expect(f.accept(frame(det('person', 0.9)), 0)).toBe(true);
    // the person leaves 100 ms later: a change, but too soon
    expect(f.accept(frame(), 100)).toBe(false);
    // still nobody at 600 ms: still a change from what was published
    expect(f.accept(frame(), 600)).toBe(true);
    expect(f.accept(frame(), 1200)).toBe(false);
  });

  it("'threshold' looks at the best detection; 'every' takes all", () => {
    const thr = new ResultFilter('threshold', 0.7, 0);
    expect([frame(), frame(det('car', 0.69)), frame(det('car', 0.5), det('person', 0.71)), frame(det('person', 0.7))].map((r, t) => thr.accept(r, t)))
      .toEqual([false, false, true, true]);
    const every = new ResultFilter('every', 0, 0);
    expect([frame(), frame()].map((r, t) => every.accept(r, t))).toEqual([true, true]);
  });

  it('a classifier\'s results still change on the top-1 class', () => {
    const f = new ResultFilter('change', 0, 0);
    const top = (index: number, score: number) => ({ top: [{ index, label: String(index), score }] });
    expect([top(1, 0.5), top(1, 0.9), top(2, 0.5)].map((r, t) => f.accept(r, t))).toEqual([true, false, true]);
  });
});
