import type { Detection } from '../types/detection.js';
import { loadSharp } from './sharp.js';

/** one colour per class index, so the same label keeps its colour across pictures (distinct hues, white text reads on each) */
const PALETTE = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080', '#9a6324', '#f032e6', '#800000', '#000075'];

const escapeXml = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * An SVG the size of the picture with one rectangle and a "label score" tag per detection; boxes are
 * [ymin, xmin, ymax, xmax] fractions of the whole picture (a detector sees the whole frame, stretched).
 */
export function boxesSvg(width: number, height: number, detections: readonly Detection[]): string {
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const font = Math.max(12, Math.round(Math.min(width, height) / 30));
  const parts = detections.map((d) => {
    const [y0, x0, y1, x1] = d.box;
    const x = Math.round(x0 * width), y = Math.round(y0 * height);
    const w = Math.max(1, Math.round((x1 - x0) * width)), h = Math.max(1, Math.round((y1 - y0) * height));
    const colour = PALETTE[d.index % PALETTE.length]!;
    const text = `${escapeXml(d.label)} ${d.score.toFixed(2)}`;
    // the tag sits above the box, or inside it at the top edge of the picture
    const tagY = y - font - 4 >= 0 ? y - font - 4 : y;
    const tagW = Math.round(text.length * font * 0.62) + 8;
    return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>`
      + `<rect x="${x}" y="${tagY}" width="${tagW}" height="${font + 4}" fill="${colour}"/>`
      + `<text x="${x + 4}" y="${tagY + font}" font-family="DejaVu Sans, sans-serif" font-size="${font}" fill="#fff">${text}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

/** The picture (uint8 RGB HWC) with the boxes drawn over it (libvips composite of the SVG), as a JPEG. */
export async function drawDetections(rgb: Uint8Array, width: number, height: number, detections: readonly Detection[], quality = 85): Promise<Buffer> {
  const sharp = await loadSharp();
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .composite([{ input: Buffer.from(boxesSvg(width, height, detections)), top: 0, left: 0 }])
    .jpeg({ quality })
    .toBuffer();
}
