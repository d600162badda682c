import { describe, expect, it } from 'vitest';
import { FleetStore, countsText } from '../../src/dashboard/store.js';
import { MAX_SHOWN_DETECTIONS, validateMessage } from '../../src/dashboard/validate.js';

const T0 = 1_800_000_000_000;
const base = { deviceId: 'cam', session: 1, seq: 1, frameTs: T0, ts: '2027-01-15T08:00:00.000Z', variant: 'ssd', top: [], latencyMs: 40, inferMs: 30 };
const det = (label: string, score: number) => ({ label, index: label === 'person' ? 0 : 2, score, box: [0.1, 0.2, 0.5, 0.6] });

describe('the dashboard reads a detector\'s results', () => {
  it('validates detections and counts, keeps the boxes and sums up the counts for the results list', () => {
    const body = { ...base, detections: [det('person', 0.91), det('car', 0.7), det('person', 0.6)], counts: { person: 2, car: 1 } };
    const m = validateMessage('edgefit', 'edgefit/cam/result', Buffer.from(JSON.stringify(body)));
    if ('reason' in m) throw new Error(`${m.reason}: ${m.detail}`);
    const s = new FleetStore();
    s.apply(m, T0, true);
    const r = s.rows().find((x) => x.id === 'cam')!.result!;
    expect(r.label).toBe('person ×2, car');
    expect(r.score).toBeCloseTo(0.91, 6);
    expect(r.counts).toEqual({ person: 2, car: 1 });
    expect(r.detections).toEqual([{ label: 'person', score: 0.91, box: [0.1, 0.2, 0.5, 0.6] }, { label: 'car', score: 0.7, box: [0.1, 0.2, 0.5, 0.6] }, { label: 'person', score: 0.6, box: [0.1, 0.2, 0.5, 0.6] }]);
    expect(countsText({})).toBe('nothing detected');
  });

  it('bounds what a result may make it keep, and refuses boxes outside the frame', () => {
    const many = Array.from({ length: 200 }, (_, i) => det(`l${i}`.repeat(60), 0.5));
    const m = validateMessage('edgefit', 'edgefit/cam/result', Buffer.from(JSON.stringify({ ...base, detections: many.slice(0, 60), counts: { person: 60 } })));
    if ('reason' in m) throw new Error(`${m.reason}: ${m.detail}`);
    if (m.kind !== 'result') throw new Error(m.kind);
    expect(m.payload.detections).toHaveLength(MAX_SHOWN_DETECTIONS);
    expect(m.payload.detections![0]!.label.length).toBeLessThanOrEqual(200);
    const bad = validateMessage('edgefit', 'edgefit/cam/result', Buffer.from(JSON.stringify({ ...base, detections: [{ ...det('person', 0.9), box: [0, 0, 2, 1] }], counts: { person: 1 } })));
    expect(bad).toMatchObject({ reason: 'shape' });
  });
});
