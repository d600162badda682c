import { basename } from 'node:path';
import { decodeRgb } from '../image/load.js';
import { loadSharp } from '../image/sharp.js';
import { listImages } from './frames.js';

/**
 * One deterministic view of a photo: a square region (fractions of the short side, from the photo's centre or a
 * corner), an optional mirror and a brightness factor. No randomness: the same photos give the same frames, so a
 * test can pin an agreement figure on them.
 */
export interface View {
  name: string;
  /** side of the square crop as a fraction of the short side */
  crop: number;
  /** where the crop sits: 0 = left/top, 0.5 = centre, 1 = right/bottom */
  ax: number;
  ay: number;
  flip: boolean;
  brightness: number;
}

/** The views every photo is evaluated in: the camera's own framing plus crops, mirrors and exposure changes. */
export const VIEWS: readonly View[] = [
  { name: 'centre', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 1 },
  { name: 'flip', crop: 1, ax: 0.5, ay: 0.5, flip: true, brightness: 1 },
  { name: 'zoom80', crop: 0.8, ax: 0.5, ay: 0.5, flip: false, brightness: 1 },
  { name: 'crop-tl', crop: 0.85, ax: 0, ay: 0, flip: false, brightness: 1 },
  { name: 'crop-br', crop: 0.85, ax: 1, ay: 1, flip: false, brightness: 1 },
  { name: 'dark', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 0.7 },
  { name: 'bright', crop: 1, ax: 0.5, ay: 0.5, flip: false, brightness: 1.3 },
  { name: 'flip-zoom-dark', crop: 0.8, ax: 0.5, ay: 0.5, flip: true, brightness: 0.8 },
];

export interface AugmentedFrame {
  /** `<photo>#<view>` */
  name: string;
  photo: string;
  view: string;
  frame: Uint8Array;
}

/** Renders one view of a decoded photo at size x size (uint8 RGB HWC) through libvips. */
export async function renderView(img: { data: Uint8Array; width: number; height: number }, v: View, size: number): Promise<Uint8Array> {
  const side = Math.max(1, Math.round(Math.min(img.width, img.height) * v.crop));
  // floor, as loadImageRgb centres its crop: the 'centre' view is exactly the frame the camera path feeds
  const left = Math.floor((img.width - side) * v.ax);
  const top = Math.floor((img.height - side) * v.ay);
  let p = (await loadSharp())(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .extract({ left, top, width: side, height: side })
    .resize(size, size, { kernel: 'cubic' });
  if (v.flip) p = p.flop();
  // linear brightness in sRGB values, saturating at 255 like an over-exposed camera frame
  if (v.brightness !== 1) p = p.linear(v.brightness, 0);
  const out = await p.raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Every photo of `dir` (or the given files) in every view, in a fixed order (photos by name, then VIEWS). */
export async function augmentedFrames(src: string | string[], size: number, views: readonly View[] = VIEWS): Promise<AugmentedFrame[]> {
  const files = typeof src === 'string' ? await listImages(src) : src;
  const out: AugmentedFrame[] = [];
  for (const f of files) {
    const img = await decodeRgb(f);
    for (const v of views) out.push({ name: `${basename(f)}#${v.name}`, photo: basename(f), view: v.name, frame: await renderView(img, v, size) });
  }
  return out;
}
