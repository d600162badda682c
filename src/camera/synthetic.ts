import { BaseFrameSource } from './base.js';
import { Pacer } from './pacer.js';
import type { FrameSize, FrameSourceOptions } from './source.js';

/**
 * A moving test pattern for demos and tests without a camera. The pattern is rendered once per resolution
 * into a strip twice as tall as the frame and periodic in y; each frame is a window of whole rows into the
 * strip, so one memcpy per frame (no per-pixel or per-row JavaScript), shifted a little further every frame.
 */
export class SyntheticSource extends BaseFrameSource {
  readonly name = 'synthetic';
  private readonly pacer = new Pacer();
  private strip: Uint8Array = new Uint8Array(0);
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
    // about four seconds to scroll one period at the configured rate, at least a pixel per frame
    this.step = Math.max(1, Math.round(h / (this.opts.fps * 4)));
    this.phase = 0;
    this.strip = renderPattern(w, h);
  }

  private emitFrame(): void {
    const { width: w, height: h } = this.ring;
    const out = this.ring.writable();
    const start = this.phase * w * 3;
    out.set(this.strip.subarray(start, start + h * w * 3));
    this.phase = (this.phase + this.step) % h;
    this.publish();
  }
}

/** Colour bands periodic over `h`, a horizontal brightness ramp and a diagonal stripe: distinct at every shift. */
function renderPattern(w: number, h: number): Uint8Array {
  const sh = 2 * h;
  const px = new Uint8Array(w * sh * 3);
  const bars = [
    [235, 235, 235], [235, 235, 16], [16, 235, 235], [16, 235, 16],
    [235, 16, 235], [235, 16, 16], [16, 16, 235], [16, 16, 16],
  ] as const;
  for (let y = 0; y < sh; y++) {
    const yp = y % h;
    const bar = bars[Math.floor((yp * bars.length) / h)]!;
    for (let x = 0; x < w; x++) {
      const ramp = 0.35 + (0.65 * x) / Math.max(1, w - 1);
      const stripe = ((x + yp) % Math.max(8, h >> 2)) < 3 ? 80 : 0;
      const i = (y * w + x) * 3;
      px[i] = Math.min(255, bar[0] * ramp + stripe);
      px[i + 1] = Math.min(255, bar[1] * ramp + stripe);
      px[i + 2] = Math.min(255, bar[2] * ramp + stripe);
    }
  }
  return px;
}
