import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FrameSource } from '../camera/source.js';
import { loadSharp } from '../image/sharp.js';
import { writeFileAtomic } from '../util/atomic.js';
import { errorMessage } from '../util/errors.js';

export interface ProbeCollectorOptions {
  /** frames to keep (the agreement check needs a handful, not a dataset) */
  count?: number;
  /** time between two kept frames, so a moving scene gives different ones */
  everyMs?: number;
  log?: (line: string) => void;
}

/**
 * Keeps a few of the camera's own frames as probe frames (JPEG files in `dir`), so that the next selection
 * measures each reduced-resolution rung's agreement with its native model on what this camera sees. Test
 * patterns (synthetic, ffmpeg lavfi graphs) are not probes. Stops once `dir` holds `count` images; a frame is
 * as large as the running model's input, and the agreement measurement skips frames smaller than a rung's
 * native resolution.
 */
export class ProbeFrameCollector {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly count: number;
  private readonly everyMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly dir: string, private readonly source: FrameSource, opts: ProbeCollectorOptions = {}) {
    this.count = opts.count ?? 9;
    this.everyMs = opts.everyMs ?? 10_000;
    this.log = opts.log ?? (() => undefined);
  }

  static isTestPattern(source: FrameSource): boolean {
    return source.name === 'synthetic' || /^lavfi:/.test(source.name);
  }

  private async images(): Promise<string[]> {
    try {
      return (await readdir(this.dir)).filter((n) => /\.(jpe?g|png|bmp)$/i.test(n));
    } catch {
      return [];
    }
  }

  /** Starts keeping frames when the directory is short of `count`; resolves once that is decided. */
  async start(): Promise<void> {
    if (ProbeFrameCollector.isTestPattern(this.source) || (await this.images()).length >= this.count) return;
    this.timer = setInterval(() => { void this.keepOne(); }, this.everyMs);
    this.timer.unref();
  }

  private async keepOne(): Promise<void> {
    if (this.busy || !this.timer) return;
    this.busy = true;
    try {
      const have = await this.images();
      if (have.length >= this.count) { this.stop(); this.log(`probe frames: ${this.count} camera frames kept in ${this.dir}; the next selection measures agreement on them`); return; }
      const f = this.source.latest();
      if (!f) return;
      // copy first: a peeked frame's bytes are only valid until the next frame arrives
      const pixels = Buffer.from(f.data);
      const jpeg = await (await loadSharp())(pixels, { raw: { width: f.width, height: f.height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
      await mkdir(this.dir, { recursive: true });
      let i = 1;
      while (have.includes(`camera-${String(i).padStart(2, '0')}.jpg`)) i++;
      await writeFileAtomic(join(this.dir, `camera-${String(i).padStart(2, '0')}.jpg`), jpeg);
    } catch (err) {
      this.log(`probe frames: could not keep a camera frame in ${this.dir} (${errorMessage(err)}); stopped`);
      this.stop();
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
