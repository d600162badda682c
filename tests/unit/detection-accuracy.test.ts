import { describe, it, expect } from 'vitest';
import { DETECTION_SOURCES, PUBLISHED_COCO_MAP, compareDetectors, publishedCocoMap } from '../../src/catalog/detection-accuracy.js';

describe('published COCO mAP of the MobileNet detectors', () => {
  it('holds the TF model zoo figures and the MobileNet-v2 paper\'s SSDLite figures, each with its source', () => {
    expect(publishedCocoMap({ family: 'mobilenet_v2', head: 'ssd', alpha: 1, resolution: 300, precision: 'fp32' })?.map).toBe(0.22);
    expect(publishedCocoMap({ family: 'mobilenet_v2', head: 'ssd', alpha: 1, resolution: 300, precision: 'int8' })).toMatchObject({ map: 0.22, model: 'ssd_mobilenet_v2_quantized_coco' });
    expect(publishedCocoMap({ family: 'mobilenet_v2', head: 'ssdlite', alpha: 1, resolution: 320, precision: 'fp32' })?.map).toBe(0.221);
    expect(publishedCocoMap({ family: 'mobilenet_v1', head: 'ssdlite', alpha: 1, resolution: 320, precision: 'fp32' })?.map).toBe(0.222);
    expect(publishedCocoMap({ family: 'mobilenet_v1', head: 'ssd', alpha: 0.75, resolution: 300, precision: 'int8' })?.map).toBe(0.16);
    // no figure for what was never published (a reduced rung, a zoo detector at another width)
    expect(publishedCocoMap({ family: 'mobilenet_v2', head: 'ssd', alpha: 1, resolution: 256, precision: 'int8' })).toBeUndefined();
    expect(publishedCocoMap({ family: 'mobilenet_v2', head: 'ssdlite', alpha: 0.5, resolution: 300, precision: 'fp32' })).toBeUndefined();
    for (const p of PUBLISHED_COCO_MAP) {
      const s: { commit?: string; url?: string } = DETECTION_SOURCES[p.source];
      expect(s.commit ?? s.url, p.model).toMatch(/^([0-9a-f]{40}|https:\/\/)/);
      expect(p.map).toBeGreaterThan(0.1);
      expect(p.map).toBeLessThan(0.3);
    }
    // one entry per key
    const keys = PUBLISHED_COCO_MAP.map((p) => `${p.family}/${p.head}/${p.alpha}/${p.resolution}/${p.precision}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('ranks by mAP where both are known, else by MACs', () => {
    const ssdV2 = { cocoMap: 0.22, macs: 800e6 };
    const ssdV1q = { cocoMap: 0.18, macs: 1200e6 };
    const rung = { macs: 600e6 };
    const zoo = { macs: 900e6 };
    expect([ssdV1q, ssdV2].sort(compareDetectors)).toEqual([ssdV2, ssdV1q]);
    expect([rung, zoo].sort(compareDetectors)).toEqual([zoo, rung]);
    expect([rung, ssdV2].sort(compareDetectors)).toEqual([ssdV2, rung]);
    expect([ssdV2, zoo].sort(compareDetectors)).toEqual([zoo, ssdV2]);
    expect(compareDetectors({ cocoMap: 0.22, macs: 1 }, { cocoMap: 0.22, macs: 2 })).toBeGreaterThan(0);
  });
});
