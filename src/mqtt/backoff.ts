/**
 * Exponential backoff with full jitter (delay uniform in [0, min(cap, base * 2^attempt)]): after a broker
 * restart a fleet spreads its reconnects over the window instead of arriving together.
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 1000,
    private readonly capMs = 60_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(this.random() * ceiling);
  }

  /** A floor for failures that repeat identically (refused credentials): no tight loop. */
  nextAtLeast(minMs: number): number {
    return Math.max(minMs, this.next());
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
