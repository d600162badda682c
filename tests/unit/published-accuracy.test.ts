import { describe, it, expect } from 'vitest';
import { PUBLISHED_TOP1, publishedTop1, estimateAtResolution, RESOLUTION_MISMATCH_FACTOR } from '../../src/catalog/published-accuracy.js';
import { loadCatalog } from '../../src/catalog/catalog.js';

describe('published top-1 tables', () => {
  it('holds the 16 MobileNet-v1 alpha x resolution combinations, float and quantized, and the v2 grid', () => {
    for (const precision of ['fp32', 'int8'] as const) {
      for (const alpha of [0.25, 0.5, 0.75, 1.0]) {
        for (const r of [128, 160, 192, 224]) expect(publishedTop1('mobilenet_v1', alpha, r, precision), `v1 ${alpha}/${r} ${precision}`).toBeDefined();
      }
    }
    expect(PUBLISHED_TOP1.filter((e) => e.family === 'mobilenet_v1')).toHaveLength(32);
    for (const alpha of [0.35, 0.5, 0.75, 1.0]) {
      for (const r of [96, 128, 160, 192, 224]) expect(publishedTop1('mobilenet_v2', alpha, r, 'fp32'), `v2 ${alpha}/${r}`).toBeDefined();
    }
    // spot checks against the cited pages
    expect(publishedTop1('mobilenet_v1', 0.75, 192, 'int8')?.top1).toBe(0.661);
    expect(publishedTop1('mobilenet_v1', 1.0, 224, 'fp32')?.top1).toBe(0.709);
    expect(publishedTop1('mobilenet_v2', 1.0, 192, 'fp32')?.top1).toBe(0.707);
    expect(publishedTop1('mobilenet_v2', 1.0, 224, 'int8')?.top1).toBe(0.708);
    // a curve falls with the resolution
    for (const e of PUBLISHED_TOP1) {
      const smaller = PUBLISHED_TOP1.filter((x) => x.family === e.family && x.alpha === e.alpha && x.precision === e.precision && x.resolution < e.resolution);
      for (const s of smaller) expect(s.top1, `${e.family} ${e.alpha} ${s.resolution} < ${e.resolution}`).toBeLessThan(e.top1);
    }
  });

  it('the shipped catalog\'s reference accuracies are the cited tables\' figures', () => {
    const catalog = loadCatalog();
    let checked = 0;
    for (const m of catalog.models.filter((x) => x.task === 'imagenet' && x.referenceAccuracy !== undefined)) {
      const p = publishedTop1(m.family, m.alpha, m.resolution, m.precision);
      if (!p) continue;
      expect(m.referenceAccuracy, m.id).toBe(p.top1);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });
});

describe('estimateAtResolution', () => {
  it('subtracts the published drop times the mismatch factor, on the quantized curve for int8', () => {
    // v2 1.0 has no quantized curve: the float one, 71.8 -> 70.7 (1.1 points), x1.5 = 1.65 -> 69.15 -> 69.2
    const v2 = estimateAtResolution('mobilenet_v2', 1.0, 'int8', 224, 0.708, 192)!;
    expect(v2.value).toBe(0.692);
    expect(v2.basis).toContain('70.8% at 224 minus 1.5 x the published 224->192 drop of mobilenet_v2 1 float (71.8% -> 70.7%');
    // v1 0.75 quantized: 66.1 -> 62.3 at 160 (3.8 points) x1.5 = 5.7
    expect(estimateAtResolution('mobilenet_v1', 0.75, 'int8', 192, 0.661, 160)!.value).toBe(0.604);
    // a model's own figure need not equal the table's: the drop is applied to its own
    expect(estimateAtResolution('mobilenet_v1', 0.75, 'int8', 192, 0.7, 160)!.value).toBe(0.643);
    expect(RESOLUTION_MISMATCH_FACTOR).toBeGreaterThan(1);
  });

  it('is conservative: never above the table\'s figure for a model trained at the smaller resolution', () => {
    for (const e of PUBLISHED_TOP1) {
      for (const s of PUBLISHED_TOP1.filter((x) => x.family === e.family && x.alpha === e.alpha && x.precision === e.precision && x.resolution < e.resolution)) {
        const est = estimateAtResolution(e.family, e.alpha, e.precision, e.resolution, e.top1, s.resolution)!;
        expect(est.value, `${e.family} ${e.alpha} ${e.resolution}->${s.resolution}`).toBeLessThan(s.top1);
      }
    }
  });

  it('extends the curve below its smallest resolution, steeper; refuses what the tables do not cover', () => {
    // v1 0.25 quantized: 43.4 at 160, 39.5 at 128; 96 extends the last step (3.9) x1.5 -> 33.65; drop 5.85 x1.5
    const e = estimateAtResolution('mobilenet_v1', 0.25, 'int8', 128, 0.395, 96)!;
    expect(e.value).toBe(0.307);
    expect(e.basis).toContain('96 extended below the table');
    expect(estimateAtResolution('mobilenet_v1', 0.35, 'int8', 224, 0.6, 192)).toBeUndefined(); // no such alpha
    expect(estimateAtResolution('squeezenet', 1, 'fp32', 224, 0.57, 192)).toBeUndefined();
    expect(estimateAtResolution('mobilenet_v2', 1.0, 'fp32', 256, 0.72, 224)).toBeUndefined(); // native above the table
    expect(estimateAtResolution('mobilenet_v2', 1.0, 'fp32', 224, 0.718, 224)).toBeUndefined(); // not smaller
  });
});
