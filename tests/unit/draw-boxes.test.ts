import { describe, it, expect } from 'vitest';
import sharp from 'sharp';
import { boxesSvg, drawDetections } from '../../src/image/draw-boxes.js';
import type { Detection } from '../../src/types/detection.js';

const person: Detection = { label: 'person', index: 0, score: 0.876, box: [0.25, 0.1, 0.75, 0.5] };

describe('drawing detections', () => {
  it('one rectangle per box at its pixel position on the whole picture, and its label with the score', () => {
    const svg = boxesSvg(400, 200, [person, { label: 'a<b & "c"', index: 1, score: 0.5, box: [0, 0, 1, 1] }]);
    expect(svg).toContain('<rect x="40" y="50" width="160" height="100"');
    expect(svg).toContain('>person 0.88</text>');
    // labels are text, never markup
    expect(svg).toContain('a&#60;b &#38; &#34;c&#34; 0.50');
    expect(svg).not.toContain('a<b');
  });

  it('composites the boxes over the photo into a JPEG of the photo\'s size', async () => {
    const w = 320, h = 240;
    const grey = new Uint8Array(w * h * 3).fill(128);
    const jpeg = await drawDetections(grey, w, h, [person]);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.format]).toEqual([w, h, 'raw']);
    const px = (x: number, y: number) => [...data.subarray((y * w + x) * 3, (y * w + x) * 3 + 3)];
    // the left edge of the box (x = 0.1 * 320 = 32), halfway down: the person colour (#e6194b, red), not grey
    // (a 2-pixel line through JPEG's chroma subsampling: the reddest of the three columns it covers)
    const edge = [31, 32, 33].map((x) => px(x, 120)).reduce((a, b) => (b[0]! - b[2]! > a[0]! - a[2]! ? b : a));
    expect(edge[0]! - edge[2]!).toBeGreaterThan(50);
    expect(edge[0]!).toBeGreaterThan(150);
    // the middle of the box and outside it stay grey
    for (const [x, y] of [[110, 120], [300, 230]] as const) for (const c of px(x, y)) expect(Math.abs(c - 128)).toBeLessThan(12);
  });
});
