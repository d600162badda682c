import { describe, it, expect } from 'vitest';
import { makeCandidate, select } from '../../src/select/policy.js';
import { variant, meas } from './select-fixtures.js';

/**
 * A detector's native rung carries its published COCO mAP as its accuracy; its reduced-resolution rungs carry
 * none (ImageNet's resolution drops say nothing about mAP, src/catalog/ladder.ts), so they rank by MACs.
 */
const ssd = (res: number, macs: number, map?: number) => variant(`ssd-mobilenet_v2-1.0-${res}-int8${res === 300 ? '' : `@${res}`}`, {
  family: 'mobilenet_v2', resolution: res, nativeResolution: 300, macs, task: 'detection', ...(map !== undefined ? { referenceAccuracy: map } : {}),
});
const rungs = [ssd(300, 800e6, 0.22), ssd(256, 590e6), ssd(224, 450e6)];

describe('selecting a detector', () => {
  it('the native detector (published mAP) when it fits; else the largest rung by MACs', () => {
    const all = (p90: [number, number, number]) => rungs.map((v, i) => makeCandidate(v, 'cpu', [meas(v.id, p90[i]!)]));
    expect(select(all([50, 40, 30]), { latencyMs: 100 }).chosen?.variant.resolution).toBe(300);
    expect(select(all([150, 90, 70]), { latencyMs: 100 }).chosen?.variant.resolution).toBe(256);
    expect(select(all([150, 120, 70]), { latencyMs: 100 }).chosen?.variant.resolution).toBe(224);
  });

  it('a minimum accuracy is a minimum mAP: rungs without a figure are refused, saying why', () => {
    const d = select(rungs.map((v) => makeCandidate(v, 'cpu', [meas(v.id, 10)])), { latencyMs: 100, minAccuracy: 0.2 });
    expect(d.chosen?.variant.resolution).toBe(300);
    expect(d.rejected.filter((r) => r.reason === 'below-min-accuracy').map((r) => r.detail)).toEqual([expect.stringMatching(/accuracy unknown/), expect.stringMatching(/accuracy unknown/)]);
  });
});
