import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadSharp } from '../image/sharp.js';
import { cropResizeRgb, decodeRgb, stretchResizeRgb } from '../image/load.js';
import { EdgefitError, errorMessage } from '../util/errors.js';
import { BaseFrameSource } from './base.js';
import { Pacer } from './pacer.js';
import type { FrameSize, FrameSourceOptions } from './source.js';

const IMAGE_EXT = /\.(jpe?g|png|bmp)$/i;

export interface FolderSourceOptions extends FrameSourceOptions {
  /** resized frames kept in memory across resolutions; past it, files are decoded on every use */
  cacheBytes?: number;
}

/**
 * A folder of JPEG/PNG/BMP images, in natural name order (img2 before img10), played at `fps`, looped or once.
 * Each file is decoded, centre-cropped and resized (or, with fit 'stretch', squashed whole) once per resolution
 * (the same preprocessing as src/image/load.ts) and the result cached, so every loop after the first costs one memcpy per frame.
 * Decoding is lazy: the first loop runs at decode speed if that is slower than fps.
 */
export class FolderSource extends BaseFrameSource {
  readonly name: string;
  readonly dir: string;
  private readonly pacer = new Pacer();
  private readonly cacheBytes: number;
  private files: string[] = [];
  private index = 0;
  /** resolution and fit "WxH/fit" -> resized frame per file; Map order is age for eviction */
  private readonly cache = new Map<string, Array<Uint8Array | undefined>>();
  private decoding = false;
  private generation = 0;
  /** files decoded so far, across resolutions: a test and diagnostics figure */
  decodes = 0;

  constructor(dir: string, opts: FolderSourceOptions) {
    super(opts);
    if (typeof dir !== 'string' || dir === '') throw new EdgefitError('E_CAMERA_CONFIG', 'folder source needs a directory');
    this.dir = resolve(dir);
    this.name = `folder:${this.dir}`;
    this.cacheBytes = opts.cacheBytes ?? 256 * 1024 * 1024;
  }

  get fileCount(): number {
    return this.files.length;
  }

  protected async startCapture(): Promise<void> {
    this.files = await listImages(this.dir);
    this.index = 0;
    this.generation++;
    this.pacer.start(this.opts.fps, () => this.tick());
  }

  protected async stopCapture(): Promise<void> {
    this.generation++;
    this.pacer.stop();
  }

  protected async resizeCapture(_size: FrameSize): Promise<void> {
    // frames of the new size come from the cache for that size (or get decoded into it) from the next tick
    this.generation++;
  }

  private key(): string {
    return `${this.ring.width}x${this.ring.height}/${this.fit}`;
  }

  private frames(): Array<Uint8Array | undefined> {
    const k = this.key();
    let f = this.cache.get(k);
    if (!f) {
      f = new Array<Uint8Array | undefined>(this.files.length);
      this.cache.set(k, f);
    } else {
      // most recently used resolution last
      this.cache.delete(k);
      this.cache.set(k, f);
    }
    return f;
  }

  private tick(): void {
    if (this.decoding || this.files.length === 0) return;
    const frames = this.frames();
    const i = this.index;
    const cached = frames[i];
    if (cached) {
      this.emitFrame(cached);
      return;
    }
    // a tick that needs a decode skips until it is done: a camera that is busy delivers late, not twice
    this.decoding = true;
    const gen = this.generation;
    const size = { width: this.ring.width, height: this.ring.height, fit: this.fit };
    void this.decode(this.files[i]!, size).then(
      (px) => {
        this.decoding = false;
        if (gen !== this.generation || !this.running) return;
        this.store(frames, i, px);
        this.emitFrame(px);
      },
      (err: unknown) => {
        this.decoding = false;
        if (gen !== this.generation || !this.running) return;
        this.reportError(new EdgefitError('E_CAMERA', `${this.name}: skipping ${this.files[i]}: ${errorMessage(err)}`, { cause: err }));
        this.files.splice(i, 1);
        for (const f of this.cache.values()) f.splice(i, 1);
        if (this.files.length === 0) {
          this.pacer.stop();
          this.setOffline(`${this.name}: no image in the folder could be decoded`);
        } else if (this.index >= this.files.length) {
          this.advanceFrom(this.files.length - 1);
        }
      },
    );
  }

  private emitFrame(px: Uint8Array): void {
    this.ring.writable().set(px);
    this.publish();
    this.advanceFrom(this.index);
  }

  private advanceFrom(i: number): void {
    if (i + 1 < this.files.length) {
      this.index = i + 1;
    } else if (this.opts.loop) {
      this.index = 0;
    } else {
      this.pacer.stop();
      this.markEnded();
    }
  }

  private store(frames: Array<Uint8Array | undefined>, i: number, px: Uint8Array): void {
    frames[i] = px;
    let total = 0;
    for (const f of this.cache.values()) for (const p of f) total += p?.byteLength ?? 0;
    // evict the least recently used resolutions first, then stop caching the current one
    for (const [k, f] of this.cache) {
      if (total <= this.cacheBytes) break;
      if (f === frames) continue;
      for (const p of f) total -= p?.byteLength ?? 0;
      this.cache.delete(k);
    }
    if (total > this.cacheBytes) frames[i] = undefined;
  }

  private async decode(path: string, size: FrameSize): Promise<Uint8Array> {
    this.decodes++;
    const img = await decodeRgb(path);
    if (size.fit === 'stretch' && size.width === size.height) return stretchResizeRgb(img.data, img.width, img.height, size.width);
    if (size.fit === 'stretch') return stretchAspect(img.data, img.width, img.height, size);
    if (size.width === size.height) return cropResizeRgb(img.data, img.width, img.height, size.width);
    return cropResizeAspect(img.data, img.width, img.height, size);
  }
}

export async function listImages(dir: string): Promise<string[]> {
  let st;
  try {
    st = await stat(dir);
  } catch (err) {
    throw new EdgefitError('E_CAMERA_CONFIG', `image folder ${dir} does not exist: check camera.source`, { cause: err });
  }
  if (!st.isDirectory()) throw new EdgefitError('E_CAMERA_CONFIG', `${dir} is not a folder`);
  const names = (await readdir(dir)).filter((n) => IMAGE_EXT.test(n));
  names.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) throw new EdgefitError('E_CAMERA_CONFIG', `image folder ${dir} has no .jpg, .jpeg, .png or .bmp file`);
  return names.map((n) => join(dir, n));
}

/** Non-square outputs: centre-crop to the output's aspect ratio, then the same cubic resize as load.ts. */
async function cropResizeAspect(data: Uint8Array, width: number, height: number, size: FrameSize): Promise<Uint8Array> {
  const scale = Math.min(width / size.width, height / size.height);
  const cw = Math.max(1, Math.min(width, Math.round(size.width * scale)));
  const ch = Math.max(1, Math.min(height, Math.round(size.height * scale)));
  const out = await (await loadSharp())(data, { raw: { width, height, channels: 3 } })
    .extract({ left: Math.floor((width - cw) / 2), top: Math.floor((height - ch) / 2), width: cw, height: ch })
    .resize(size.width, size.height, { kernel: 'cubic' })
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** Non-square outputs with fit 'stretch' (no model asks for one; a frame spec may): the whole image, squashed. */
async function stretchAspect(data: Uint8Array, width: number, height: number, size: FrameSize): Promise<Uint8Array> {
  const out = await (await loadSharp())(data, { raw: { width, height, channels: 3 } })
    .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
