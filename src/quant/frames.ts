import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadImageRgb } from '../image/load.js';
import { EdgefitError } from '../util/errors.js';

const IMAGE = /\.(jpe?g|png|bmp)$/i;

/** Image files of a folder, sorted by name so runs are repeatable. */
export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new EdgefitError('E_CALIB', `cannot read image folder ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const files = names.filter((n) => IMAGE.test(n)).sort().map((n) => join(dir, n));
  if (files.length === 0) throw new EdgefitError('E_CALIB', `no JPEG/PNG/BMP images in ${dir}; give a folder of photos like the camera sees`);
  return files;
}

/** Calibration frames: a folder of photos (centre-cropped, resized) or frames already at the model's size. */
export async function resolveFrames(src: Uint8Array[] | string, resolution: number): Promise<Uint8Array[]> {
  const want = resolution * resolution * 3;
  if (typeof src === 'string') {
    const files = await listImages(src);
    return Promise.all(files.map((f) => loadImageRgb(f, resolution)));
  }
  if (src.length === 0) throw new EdgefitError('E_CALIB', 'no calibration frames given; pass at least one frame');
  src.forEach((f, i) => {
    if (f.length !== want) throw new EdgefitError('E_CALIB', `calibration frame ${i} has ${f.length} bytes; expected ${resolution}x${resolution}x3 = ${want} (uint8 RGB HWC)`);
  });
  return src;
}
