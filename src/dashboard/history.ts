/**
 * Latency and fps over the last hour for one device, in fixed time buckets: memory per device is constant
 * (720 buckets of 5 s in one 7.9 KB buffer) whatever the telemetry period, so 10,000 devices cost ~79 MB.
 * A bucket keeps the mean p50, the worst p90 and the mean fps of the telemetry that fell into it, each as an
 * IEEE half float (11 significant bits: 0.05% of the value, enough for a chart; latencies above 65.5 s are
 * kept as 65,504 ms). Float32 sums took twice the memory: 157 MB at 10,000 devices, half the dashboard's RSS.
 */
export const BUCKET_MS = 5000;
export const SLOTS = 720;
/** the largest finite half float */
const HALF_MAX = 65504;

/** [bucket start ms, p50 ms, p90 ms, fps] */
export type HistoryPoint = [number, number, number, number];

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The nearest half float's bits (v finite and >= 0, clamped to HALF_MAX). */
export function toHalf(v: number): number {
  f32[0] = Math.min(HALF_MAX, Math.max(0, v));
  const x = u32[0]!;
  const exp = ((x >>> 23) & 0xff) - 112;
  const mant = x & 0x7fffff;
  if (exp <= 0) {
    // subnormal (below 6.1e-5) or zero
    if (exp < -10) return 0;
    return (((mant | 0x800000) >> (13 - exp)) + 1) >> 1;
  }
  // round to nearest; a carry into the exponent is still the right value (HALF_MAX rounds to itself)
  return ((exp << 10) | (mant >> 13)) + ((mant >> 12) & 1);
}

export function fromHalf(h: number): number {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  return exp === 0 ? mant * 2 ** -24 : (1 + mant / 1024) * 2 ** (exp - 15);
}

export class SeriesRing {
  // one buffer per ring: bucket numbers, then p50 mean, p90 max and fps mean as half floats, then counts
  private readonly buf = new ArrayBuffer(SLOTS * 11);
  private readonly bucket = new Int32Array(this.buf, 0, SLOTS).fill(-1);
  private readonly p50 = new Uint16Array(this.buf, SLOTS * 4, SLOTS);
  private readonly p90 = new Uint16Array(this.buf, SLOTS * 6, SLOTS);
  private readonly fps = new Uint16Array(this.buf, SLOTS * 8, SLOTS);
  private readonly count = new Uint8Array(this.buf, SLOTS * 10, SLOTS);
  private newest = -1;

  add(tMs: number, p50: number, p90: number, fps: number): HistoryPoint {
    const b = Math.floor(tMs / BUCKET_MS);
    // a sample older than the window, or out of order by more than the window, is not kept
    if (this.newest >= 0 && b <= this.newest - SLOTS) return this.point(this.newest % SLOTS);
    const i = b % SLOTS;
    if (this.bucket[i] !== b) {
      this.bucket[i] = b;
      this.p50[i] = 0; this.p90[i] = 0; this.fps[i] = 0; this.count[i] = 0;
    }
    // running means: a bucket's count is small (5 at a 1 s period), and saturates at 255
    const n = Math.min(255, this.count[i]! + 1);
    this.count[i] = n;
    this.p50[i] = toHalf(fromHalf(this.p50[i]!) + (p50 - fromHalf(this.p50[i]!)) / n);
    this.fps[i] = toHalf(fromHalf(this.fps[i]!) + (fps - fromHalf(this.fps[i]!)) / n);
    this.p90[i] = toHalf(Math.max(fromHalf(this.p90[i]!), p90));
    if (b > this.newest) this.newest = b;
    return this.point(i);
  }

  private point(i: number): HistoryPoint {
    return [this.bucket[i]! * BUCKET_MS, round(fromHalf(this.p50[i]!)), round(fromHalf(this.p90[i]!)), round(fromHalf(this.fps[i]!))];
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
