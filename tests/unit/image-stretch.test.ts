import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { decodeRgb, loadImageRgb, stretchResizeRgb } from '../../src/image/load.js';

const photos = readdirSync(join(sharedData, 'images/test')).filter((f) => /\.(bmp|jpg)$/.test(f)).sort();

describe("'stretch' fit (SSD detectors: the whole frame squashed to the input)", () => {
  it('reproduces the reference input bytes (TF bilinear, half-pixel centres, no antialiasing) within one rounding step', async () => {
    for (const photo of photos) {
      const ours = await loadImageRgb(join(sharedData, 'images/test', photo), 300, 'stretch');
      const ref = readFileSync(join(sharedData, 'reference/ssd_inputs_300x300', `${photo}.300x300.rgb`));
      expect(ours.length).toBe(ref.length);
      let worst = 0;
      for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(ours[i]! - ref[i]!));
      expect(worst, photo).toBeLessThanOrEqual(1);
    }
  });

  it('gives exactly size x size at the smaller rungs and for odd sizes, up and down', async () => {
    const { data, width, height } = await decodeRgb(join(sharedData, 'images/test', 'kite_and_cold.jpg'));
    for (const size of [224, 256, 299, 301, 2000]) expect((await stretchResizeRgb(data, width, height, size)).length).toBe(size * size * 3);
  });
});
