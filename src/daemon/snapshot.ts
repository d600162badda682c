import { loadSharp } from '../image/sharp.js';
import type { FrameSource } from '../camera/source.js';
import { EdgefitError } from '../util/errors.js';

/** JPEG of the newest camera frame (at the model's resolution, as the model sees it). */
export async function snapshotJpeg(source: FrameSource, quality = 80): Promise<Buffer> {
  const f = source.latest();
  if (!f) throw new EdgefitError('E_NO_FRAME', 'the camera has not delivered a frame yet');
  // copy first: a peeked frame's bytes are only valid until the next frame arrives
  const pixels = Buffer.from(f.data);
  return (await loadSharp())(pixels, { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}
