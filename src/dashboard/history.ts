/**
 * Latency and fps over the last hour for one device, in fixed time buckets: memory per device is constant
 * (720 buckets of 5 s = 14 KB) whatever the telemetry period, so a thousand devices cost ~14 MB.
 * A bucket keeps the mean p50, the worst p90 and the mean fps of the telemetry that fell into it.
 */
export const BUCKET_MS = 5000;
export const SLOTS = 720;

/** [bucket start ms, p50 ms, p90 ms, fps] */
export type HistoryPoint = [number, number, number, number];

export class SeriesRing {
  private readonly bucket = new Float64Array(SLOTS).fill(-1);
  private readonly p50Sum = new Float32Array(SLOTS);
  private readonly p90Max = new Float32Array(SLOTS);
  private readonly fpsSum = new Float32Array(SLOTS);
  private readonly count = new Uint16Array(SLOTS);
  private newest = -1;

  add(tMs: number, p50: number, p90: number, fps: number): HistoryPoint {
    const b = Math.floor(tMs / BUCKET_MS);
    // a sample older than the window, or out of order by more than the window, is not kept
    if (this.newest >= 0 && b <= this.newest - SLOTS) return this.point(this.newest % SLOTS);
    const i = b % SLOTS;
    if (this.bucket[i] !== b) {
      this.bucket[i] = b;
      this.p50Sum[i] = 0; this.p90Max[i] = 0; this.fpsSum[i] = 0; this.count[i] = 0;
    }
    this.p50Sum[i]! += p50;
    this.p90Max[i] = Math.max(this.p90Max[i]!, p90);
    this.fpsSum[i]! += fps;
    if (this.count[i]! < 65535) this.count[i]!++;
    if (b > this.newest) this.newest = b;
    return this.point(i);
  }

  private point(i: number): HistoryPoint {
    const n = this.count[i]! || 1;
    return [this.bucket[i]! * BUCKET_MS, round(this.p50Sum[i]! / n), round(this.p90Max[i]!), round(this.fpsSum[i]! / n)];
  }

  /** The points of the last hour (relative to the newest sample), oldest first. */
  points(): HistoryPoint[] {
    if (this.newest < 0) return [];
    const out: HistoryPoint[] = [];
    for (let b = this.newest - SLOTS + 1; b <= this.newest; b++) {
      const i = ((b % SLOTS) + SLOTS) % SLOTS;
      if (this.bucket[i] === b) out.push(this.point(i));
    }
    return out;
  }
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
