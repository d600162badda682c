import type { Engine, FrameStream, StreamSink } from './engine.js';

/** The engine's own FrameStream when it has one, else a latest-frame-wins loop over run(). */
export function frameStream(engine: Engine, sink: StreamSink): FrameStream {
  return engine.stream ? engine.stream(sink) : new RunLoopStream(engine, sink);
}

/**
 * FrameStream over Engine.run for engines that live on the calling thread (tests, wrappers): one pending
 * frame, replaced by newer offers, run as soon as the previous run ends. The pending buffer is reused.
 */
export class RunLoopStream implements FrameStream {
  private pending = new Uint8Array(0);
  // the frame is run from a buffer of its own, so a newer offer during the run cannot change it
  private work = new Uint8Array(0);
  private pendingSeq = 0;
  private pendingTs = 0;
  private hasPending = false;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly engine: Engine, private readonly sink: StreamSink) {}

  private get outstanding(): number {
    return (this.hasPending ? 1 : 0) + (this.running ? 1 : 0);
  }

  offer(frame: Uint8Array, seq: number, ts: number): boolean {
    if (this.closed) return true;
    const replaced = this.hasPending;
    if (this.pending.length !== frame.length) this.pending = new Uint8Array(frame.length);
    this.pending.set(frame);
    this.pendingSeq = seq;
    this.pendingTs = ts;
    this.hasPending = true;
    if (!this.running) void this.drain();
    return replaced;
  }

  cancel(): boolean {
    const had = this.hasPending;
    this.hasPending = false;
    if (had) this.settle();
    return had;
  }

  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  close(): void {
    this.closed = true;
    this.cancel();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.hasPending) {
      if (this.work.length !== this.pending.length) this.work = new Uint8Array(this.pending.length);
      const work = this.work;
      work.set(this.pending);
      const seq = this.pendingSeq;
      const ts = this.pendingTs;
      this.hasPending = false;
      const startedAt = performance.timeOrigin + performance.now();
      try {
        const r = await this.engine.run(work);
        if (!this.closed) this.sink.result({ seq, ts, scores: r.scores, inferMs: r.inferMs, startedAt });
      } catch (err) {
        if (!this.closed) this.sink.error(err as Error, seq, ts);
      }
    }
    this.running = false;
    this.settle();
  }

  private settle(): void {
    if (this.outstanding > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
