/**
 * Calls `tick` at a steady rate without drift: each tick is scheduled against the start time, and ticks
 * missed while the event loop was busy are skipped rather than fired in a burst (a camera does the same).
 */
export class Pacer {
  private timer: NodeJS.Timeout | null = null;
  private active = false;
  private t0 = 0;
  private n = 0;
  private periodMs = 0;
  private tick: () => void = () => undefined;

  start(fps: number, tick: () => void): void {
    this.stop();
    this.active = true;
    this.periodMs = 1000 / fps;
    this.tick = tick;
    this.t0 = performance.now();
    this.n = 0;
    this.schedule();
  }

  stop(): void {
    this.active = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get running(): boolean {
    return this.active;
  }

  private schedule(): void {
    const now = performance.now();
    this.n = Math.max(this.n + 1, Math.floor((now - this.t0) / this.periodMs) + 1);
    const due = this.t0 + this.n * this.periodMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.active) return;
      this.tick();
      // tick may have stopped us, or restarted us (which scheduled its own timer)
      if (this.active && this.timer === null) this.schedule();
    }, Math.max(0, due - now));
  }
}
