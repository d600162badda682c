import { loadSharp } from './sharp.js';
import { EdgefitError } from '../util/errors.js';

/**
 * How a photo is fitted to a square model input: 'crop' (centre-crop to a square, then resize: the preprocessing
 * the published MobileNet numbers use) or 'stretch' (the whole image squashed to the input, as SSD detectors
 * are trained and evaluated).
 */
export type ImageFit = 'crop' | 'stretch';

/**
 * Decodes an image file (JPEG and PNG through sharp, BMP through our own reader) and fits it to size x size.
 * Returns uint8 RGB HWC, exactly what a camera frame looks like to the engine.
 */
export async function loadImageRgb(path: string, size: number, fit: ImageFit = 'crop'): Promise<Uint8Array> {
  const { data, width, height } = await decodeRgb(path);
  return fit === 'stretch' ? stretchResizeRgb(data, width, height, size) : cropResizeRgb(data, width, height, size);
}

/**
 * The whole image resized to size x size, aspect ratio not kept, with plain bilinear interpolation at half-pixel
 * centres and no antialiasing: TF's `tf.image.resize` (bilinear), which the TF Object Detection API trains and
 * exports SSD models with. libvips' affine with a bilinear interpolator is exactly that sampling (an input
 * point (X + 0.5) / scale - 0.5 per output pixel X); its `resize` would low-pass a big downscale first.
 */
export async function stretchResizeRgb(data: Uint8Array, width: number, height: number, size: number): Promise<Uint8Array> {
  const sx = size / width;
  const sy = size / height;
  const out = await (await loadSharp())(data, { raw: { width, height, channels: 3 } })
    .affine([[sx, 0], [0, sy]], { interpolator: 'bilinear', idx: 0, idy: 0, odx: 0.5 * sx - 0.5, ody: 0.5 * sy - 0.5 })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (out.info.width !== size || out.info.height !== size) {
    throw new EdgefitError('E_IMAGE', `resizing a ${width}x${height} image to ${size}x${size} gave ${out.info.width}x${out.info.height}`);
  }
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

export async function decodeRgb(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path);
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return decodeBmp(bytes, path);
  try {
    const { data, info } = await (await loadSharp())(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw new EdgefitError('E_IMAGE', `cannot decode image ${path}: ${(err as Error).message}; use JPEG, PNG or BMP`, { cause: err });
  }
}

export async function cropResizeRgb(data: Uint8Array, width: number, height: number, size: number): Promise<Uint8Array> {
  const side = Math.min(width, height);
  const left = Math.floor((width - side) / 2);
  const top = Math.floor((height - side) / 2);
  const out = await (await loadSharp())(data, { raw: { width, height, channels: 3 } })
    .extract({ left, top, width: side, height: side })
    .resize(size, size, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** libvips (sharp) has no BMP loader, and the test photos include BMPs: 24/32-bit uncompressed BMP. */
export function decodeBmp(bytes: Uint8Array, path = 'image'): { data: Uint8Array; width: number; height: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string) => new EdgefitError('E_IMAGE', `cannot decode BMP ${path}: ${why}`);
  if (bytes.length < 54) throw fail('file shorter than its header');
  const offset = dv.getUint32(10, true);
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  if (bpp !== 24 && bpp !== 32) throw fail(`${bpp} bits per pixel is not supported (24 or 32)`);
  if (compression !== 0 && !(compression === 3 && bpp === 32)) throw fail(`compression ${compression} is not supported`);
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0 || width > 16384 || height > 16384) throw fail(`bad size ${width}x${height}`);
  const bytesPP = bpp / 8;
  const stride = Math.ceil((width * bytesPP) / 4) * 4;
  if (offset + stride * height > bytes.length) throw fail(`pixel data at offset ${offset} runs past the end`);
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const srcRow = rawHeight > 0 ? height - 1 - y : y;
    let s = offset + srcRow * stride;
    let d = y * width * 3;
    for (let x = 0; x < width; x++, s += bytesPP, d += 3) {
      out[d] = bytes[s + 2]!;
      out[d + 1] = bytes[s + 1]!;
      out[d + 2] = bytes[s]!;
    }
  }
  return { data: out, width, height };
}
