/**
 * Samples of the last `seconds`, in a preallocated ring (no allocation per sample). Percentiles sort a copy
 * once per telemetry period, not per frame.
 */
export class SampleWindow {
  private readonly values: Float64Array;
  private readonly times: Float64Array;
  private head = 0;
  private count = 0;
  private scratch: Float64Array;

  constructor(private readonly seconds: number, capacity = 4096, private readonly now: () => number = Date.now) {
    this.values = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  push(v: number, at = this.now()): void {
    this.values[this.head] = v;
    this.times[this.head] = at;
    this.head = (this.head + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
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
