import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTflite } from '../../src/importers/tflite/schema.js';
import {
  anchorsFor, decodeAnchors, encodeAnchors, fitSsdAnchorSpec, generateSsdAnchors, ssdAnchorCount, ssdFeatureMaps,
  STANDARD_SSD_ANCHORS, type AnchorQuantization,
} from '../../src/detect/anchors.js';
import type { DetectionSpec, SsdAnchorSpec } from '../../src/types/detection.js';
import { sharedData } from '../../src/util/paths.js';

const SSD = join(sharedData, 'models/detection/mobilenet_ssd_v2_coco_quant_postprocess.tflite');
const std = (): SsdAnchorSpec => ({ ...STANDARD_SSD_ANCHORS, aspectRatios: [...STANDARD_SSD_ANCHORS.aspectRatios] });

/** The constant third input of the model's TFLite_Detection_PostProcess: uint8 [1917, 4], dequantized as the file says. */
function embeddedAnchors(): { q: Uint8Array; anchors: Float32Array; quant: AnchorQuantization } {
  const m = parseTflite(readFileSync(SSD), SSD);
  const op = m.operators.find((o) => o.customCode === 'TFLite_Detection_PostProcess');
  if (!op) throw new Error('no TFLite_Detection_PostProcess op');
  const t = m.tensors[op.inputs[2]!]!;
  expect(t.shape).toEqual([1917, 4]);
  expect(t.typeName).toBe('uint8');
  expect(t.quant?.scale.length).toBe(1);
  const quant = { scale: t.quant!.scale[0]!, zeroPoint: t.quant!.zeroPoint[0]! };
  const q = t.data!;
  const anchors = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) anchors[i] = (q[i]! - quant.zeroPoint) * quant.scale;
  return { q, anchors, quant };
}

describe('SSD anchors', () => {
  let emb: ReturnType<typeof embeddedAnchors>;
  beforeAll(() => {
    emb = embeddedAnchors();
  });

  it('feature maps of the MobileNet SSD extractors: 19,10,5,3,2,1 at 300', () => {
    expect(ssdFeatureMaps(300, 6).map(([h]) => h)).toEqual([19, 10, 5, 3, 2, 1]);
    expect(ssdFeatureMaps(256, 6).map(([h]) => h)).toEqual([16, 8, 4, 2, 1, 1]);
    expect(ssdFeatureMaps(224, 6).map(([h]) => h)).toEqual([14, 7, 4, 2, 1, 1]);
    expect(ssdFeatureMaps(320, 6).map(([h]) => h)).toEqual([20, 10, 5, 3, 2, 1]);
  });

  it('at 300 the generator reproduces the 1917x4 anchors embedded in the COCO SSD-MobileNet-v2 (uint8), every integer', () => {
    const gen = generateSsdAnchors(std(), ssdFeatureMaps(300, 6));
    expect(gen.length).toBe(1917 * 4);
    // the file stores the anchors as uint8 with scale ~0.00645 and zero point 0: the regenerated float anchors
    // quantize to exactly the stored integers
    let mismatches = 0;
    for (let i = 0; i < gen.length; i++) if (Math.round(gen[i]! / emb.quant.scale) + emb.quant.zeroPoint !== emb.q[i]) mismatches++;
    expect(mismatches).toBe(0);
    expect(fitSsdAnchorSpec(emb.anchors, 300, emb.quant)).toEqual(std());
    // first cell of the lowest layer: (0.1, 1), (0.2, 2), (0.2, 0.5) at centre 0.5/19
    const first = [0.5 / 19, 0.5 / 19, 0.1, 0.1, 0.5 / 19, 0.5 / 19, 0.2 / Math.SQRT2, 0.2 * Math.SQRT2, 0.5 / 19, 0.5 / 19, 0.2 * Math.SQRT2, 0.2 / Math.SQRT2];
    // (the corner round trip moves a centre by a float32 ulp, hence close, not equal)
    gen.subarray(0, 12).forEach((v, i) => expect(v).toBeCloseTo(first[i]!, 6));
  });

  it('a different configuration or order does not fit the embedded anchors', () => {
    const maps = ssdFeatureMaps(300, 6);
    const quantEqual = (spec: SsdAnchorSpec) => generateSsdAnchors(spec, maps).every((v, i) => Math.round(v / emb.quant.scale) === emb.q[i]);
    expect(quantEqual(std())).toBe(true);
    expect(quantEqual({ ...std(), minScale: 0.21 })).toBe(false);
    expect(quantEqual({ ...std(), aspectRatios: [1, 2, 3, 0.5, 1 / 3] })).toBe(false);
    expect(quantEqual({ ...std(), offset: 0.4 })).toBe(false);
    // a resolution with other feature maps has another anchor count: no fit
    expect(fitSsdAnchorSpec(emb.anchors, 256, emb.quant)).toBeUndefined();
    // the dequantized anchors are not the float generator's bit for bit: compared as floats they do not fit
    expect(fitSsdAnchorSpec(emb.anchors, 300)).toBeUndefined();
    expect(fitSsdAnchorSpec(generateSsdAnchors(std(), maps), 300)).toEqual(std());
  });

  it('anchor counts at the smaller rungs: 1284 at 256, 1014 at 224', () => {
    expect(ssdAnchorCount(std(), ssdFeatureMaps(256, 6))).toBe(16 * 16 * 3 + (64 + 16 + 4 + 1 + 1) * 6);
    expect(generateSsdAnchors(std(), ssdFeatureMaps(256, 6)).length).toBe(1284 * 4);
    expect(generateSsdAnchors(std(), ssdFeatureMaps(224, 6)).length).toBe(1014 * 4);
  });

  it('anchorsFor: the embedded anchors at the native maps, regenerated at another resolution', () => {
    const spec: DetectionSpec = {
      postprocess: { maxDetections: 20, maxClassesPerDetection: 1, detectionsPerClass: 100, useRegularNms: false, nmsIouThreshold: 0.6, nmsScoreThreshold: 1e-8, numClasses: 90, scales: { y: 10, x: 10, h: 5, w: 5 } },
      background: true,
      anchorsBase64: encodeAnchors(emb.anchors),
      anchorCount: 1917,
      anchorGenerator: std(),
      resize: 'stretch',
    };
    expect(decodeAnchors(spec)).toEqual(emb.anchors);
    expect(anchorsFor(spec, 300, 300)).toEqual(emb.anchors);
    expect(anchorsFor(spec, 300)).toEqual(emb.anchors);
    expect(anchorsFor(spec, 289, 300)).toEqual(emb.anchors); // same maps 19,10,5,3,2,1
    expect(anchorsFor(spec, 256, 300)).toEqual(generateSsdAnchors(std(), ssdFeatureMaps(256, 6)));
    const fixed = { ...spec, anchorGenerator: undefined };
    expect(anchorsFor(fixed, 300, 300)).toEqual(emb.anchors);
    expect(() => anchorsFor(fixed, 256, 300)).toThrow(/fixed at its native resolution 300.*cannot run at 256/);
    expect(() => decodeAnchors({ ...spec, anchorCount: 1916 })).toThrow(/not 1916 anchors/);
  });

  it('a bad spec or bad feature maps give a clear error', () => {
    const maps = ssdFeatureMaps(300, 6);
    expect(() => generateSsdAnchors({ ...std(), numLayers: 0 }, maps)).toThrow(/numLayers 0/);
    expect(() => generateSsdAnchors({ ...std(), minScale: 0.9, maxScale: 0.2 }, maps)).toThrow(/0 < min <= max/);
    expect(() => generateSsdAnchors({ ...std(), aspectRatios: [] }, maps)).toThrow(/aspect ratios/);
    expect(() => generateSsdAnchors({ ...std(), aspectRatios: [1, -2] }, maps)).toThrow(/aspect ratios/);
    expect(() => generateSsdAnchors({ ...std(), offset: Number.NaN }, maps)).toThrow(/offset/);
    expect(() => generateSsdAnchors(std(), maps.slice(0, 5))).toThrow(/5 feature maps for 6 layers/);
    expect(() => generateSsdAnchors(std(), [...maps.slice(0, 5), [0, 1]])).toThrow(/is not \[height, width\]/);
    expect(() => ssdFeatureMaps(0, 6)).toThrow(/resolution 0/);
    try {
      generateSsdAnchors({ ...std(), numLayers: 0 }, maps);
    } catch (e) {
      expect((e as { code?: string }).code).toBe('E_DETECT_ANCHORS');
    }
  });
});
