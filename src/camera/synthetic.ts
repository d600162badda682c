import { BaseFrameSource } from './base.js';
import { Pacer } from './pacer.js';
import type { FrameSize, FrameSourceOptions } from './source.js';

/**
 * A moving test pattern for demos and tests without a camera. The pattern is rendered once per resolution
 * into a strip twice as wide as the frame and periodic in x; each frame is a window into the strip, copied
 * row by row (height memcpy calls, no per-pixel JavaScript per frame), shifted a little further every frame.
 */
export class SyntheticSource extends BaseFrameSource {
  readonly name = 'synthetic';
  private readonly pacer = new Pacer();
  private strip: Uint8Array = new Uint8Array(0);
  private stripWidth = 0;
  private phase = 0;
  private step = 1;

  constructor(opts: FrameSourceOptions) {
    super(opts);
  }

  protected async startCapture(): Promise<void> {
    this.render();
    this.pacer.start(this.opts.fps, () => this.emitFrame());
  }

  protected async stopCapture(): Promise<void> {
    this.pacer.stop();
  }

  protected async resizeCapture(_size: FrameSize): Promise<void> {
    this.render();
  }

  private render(): void {
    const { width: w, height: h } = this.ring;
    this.stripWidth = 2 * w;
    // about four seconds to scroll one period at the configured rate, at least a pixel per frame
    this.step = Math.max(1, Math.round(w / (this.opts.fps * 4)));
    this.phase = 0;
    this.strip = renderPattern(w, h);
  }

  private emitFrame(): void {
    const { width: w, height: h } = this.ring;
    const out = this.ring.writable();
    const rowBytes = w * 3;
    const stripRow = this.stripWidth * 3;
    const x0 = this.phase * 3;
    for (let y = 0; y < h; y++) {
      const s = y * stripRow + x0;
      out.set(this.strip.subarray(s, s + rowBytes), y * rowBytes);
    }
    this.phase = (this.phase + this.step) % w;
    this.publish();
  }
}

/** Colour bars periodic over `w`, a vertical brightness ramp and a diagonal stripe: distinct at every shift. */
function renderPattern(w: number, h: number): Uint8Array {
  const sw = 2 * w;
  const px = new Uint8Array(sw * h * 3);
  const bars = [
    [235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16],
    [235, 16, 235], [235, 16, 16], [16, 16, 235], [16, 16, 16],
  ] as const;
  for (let y = 0; y < h; y++) {
    const ramp = 0.35 + (0.65 * y) / Math.max(1, h - 1);
    for (let x = 0; x < sw; x++) {
      const xp = x % w;
      const bar = bars[Math.floor((xp * bars.length) / w)]!;
      const stripe = ((xp + y) % Math.max(8, w >> 2)) < 3 ? 80 : 0;
      const i = (y * sw + x) * 3;
      px[i] = Math.min(255, bar[0] * ramp + stripe);
      px[i + 1] = Math.min(255, bar[1] * ramp + stripe);
      px[i + 2] = Math.min(255, bar[2] * ramp + stripe);
    }
  }
  return px;
}
