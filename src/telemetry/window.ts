/** Most samples a window holds (1.5 MB of buffers): 73 minutes of frames at 15 fps. */
export const MAX_SAMPLES = 1 << 16;

/**
 * Samples of the last `seconds`, in a preallocated ring (no allocation per sample). The ring starts small and
 * doubles when it is full of samples still inside the window (long telemetry periods at a high frame rate), up to
 * MAX_SAMPLES; past that the oldest samples of the window give way. Percentiles sort a copy once per telemetry
 * period, not per frame.
 */
export class SampleWindow {
  private values: Float64Array;
  private times: Float64Array;
  private scratch: Float64Array;
  private head = 0;
  private count = 0;

  constructor(private readonly seconds: number, capacity = 1024, private readonly now: () => number = Date.now, private readonly maxSamples = MAX_SAMPLES) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  push(v: number, at = this.now()): void {
    const cap = this.values.length;
    // full, and the oldest sample (the one to be overwritten) is still inside the window
    if (this.count === cap && cap < this.maxSamples && this.times[this.head]! >= at - this.seconds * 1000) this.grow();
    this.values[this.head] = v;
    this.times[this.head] = at;
    this.head = (this.head + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }

  private grow(): void {
    const cap = this.values.length;
    const next = Math.min(cap * 2, this.maxSamples);
    const values = new Float64Array(next);
    const times = new Float64Array(next);
    // oldest first: the full ring's oldest sample is at head
    values.set(this.values.subarray(this.head), 0);
    values.set(this.values.subarray(0, this.head), cap - this.head);
    times.set(this.times.subarray(this.head), 0);
    times.set(this.times.subarray(0, this.head), cap - this.head);
    this.values = values;
    this.times = times;
    this.scratch = new Float64Array(next);
    this.head = cap;
  }

  /** samples inside the window, oldest first, into the scratch buffer; returns how many */
  private collect(): number {
    const from = this.now() - this.seconds * 1000;
    let n = 0;
    const cap = this.values.length;
    for (let i = 0; i < this.count; i++) {
      const idx = (this.head - this.count + i + cap) % cap;
      if (this.times[idx]! >= from) this.scratch[n++] = this.values[idx]!;
    }
    return n;
  }

  size(): number {
    return this.collect();
  }

  percentiles(): { p50: number; p90: number; p99: number; n: number } {
    const n = this.collect();
    if (n === 0) return { p50: 0, p90: 0, p99: 0, n: 0 };
    const s = this.scratch.subarray(0, n).sort();
    const at = (p: number) => s[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]!;
    return { p50: round(at(0.5)), p90: round(at(0.9)), p99: round(at(0.99)), n };
  }

  clear(): void {
    this.count = 0;
  }
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
