import type { MeasureProgress } from './measure.js';

/**
 * A one-line progress bar on a terminal: the candidate being measured, its phase and an ETA from the average
 * time per measurement so far. Silent when the stream is not a TTY (logs and pipes get no control characters).
 */
export class ProgressBar {
  private done = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(private readonly stream: NodeJS.WriteStream, private total: number, private readonly width = 24) {
    this.tty = !!stream.isTTY;
  }

  /** The search measures fewer than the ladder: the total is an upper bound, so the ETA is one too. */
  update(p: MeasureProgress): void {
    if (p.measurement) this.done++;
    if (!this.tty) return;
    const now = Date.now();
    if (!p.measurement && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const frac = Math.min(1, this.done / Math.max(1, this.total));
    const filled = Math.round(frac * this.width);
    const per = this.done > 0 ? (now - this.started) / this.done : NaN;
    const eta = Number.isFinite(per) ? fmt(per * Math.max(0, this.total - this.done)) : '--:--';
    const phase = `${p.agreement ? 'agreement ' : ''}${p.cached ? 'cached' : p.child?.phase ?? 'done'}`;
    const line = `[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${this.done}/${this.total} ${p.candidate} t=${p.threads} ${phase}  ETA <= ${eta}`;
    this.stream.write(`\r\x1b[2K${line.slice(0, (this.stream.columns || 120) - 1)}`);
  }

  finish(): void {
    if (this.tty) this.stream.write('\r\x1b[2K');
  }
}

function fmt(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
