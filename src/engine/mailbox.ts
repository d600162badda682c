/**
 * Shared memory between the engine host (main thread) and its worker: a triple-buffered frame mailbox and two
 * result slots. The main thread writes each new frame into its back slot and swaps it with the middle one; the
 * worker, whenever it is free, swaps its front slot with the middle one when that holds a fresh frame. Nobody
 * waits for the other thread to wake up, no slot is ever written while the other side reads it, and nothing
 * is allocated per frame. (onnxruntime-node refuses tensors on a SharedArrayBuffer, so the worker copies the
 * frame once into a buffer of its own.)
 */

const MAILBOX = 0; // bits 0-1: the middle slot; FRESH: it holds a frame the worker has not taken
const STOP = 1; // set by the host: the worker finishes its run and exits its loop
const RUNNING = 2; // 0 when idle, else 1 + the slot of the frame being run
const STARTED = 3; // (Date.now() & MASK31) when that run started, for the host's timeout check
const FREE = 4; // FREE + i: result slot i may be written by the worker
const WORDS = 8;
const FRESH = 16;
const SLOT = 3;
const MASK31 = 0x7fffffff;

export interface MailboxBuffers {
  ctl: SharedArrayBuffer;
  frames: SharedArrayBuffer;
  /** per frame slot: seq, ts */
  meta: SharedArrayBuffer;
  scores: SharedArrayBuffer;
  frameBytes: number;
  classes: number;
}

export function createMailbox(frameBytes: number, classes: number): MailboxBuffers {
  const ctl = new SharedArrayBuffer(WORDS * 4);
  const c = new Int32Array(ctl);
  // the host writes into slot 0, slot 1 is the middle, the worker holds slot 2
  c[MAILBOX] = 1;
  c[FREE] = 1;
  c[FREE + 1] = 1;
  return { ctl, frames: new SharedArrayBuffer(3 * frameBytes), meta: new SharedArrayBuffer(3 * 2 * 8), scores: new SharedArrayBuffer(2 * classes * 4), frameBytes, classes };
}

abstract class MailboxSide {
  protected readonly ctl: Int32Array;
  protected readonly slots: Uint8Array[];
  protected readonly meta: Float64Array;
  protected readonly results: Float32Array[];

  constructor(readonly b: MailboxBuffers) {
    this.ctl = new Int32Array(b.ctl);
    this.slots = [0, 1, 2].map((i) => new Uint8Array(b.frames, i * b.frameBytes, b.frameBytes));
    this.meta = new Float64Array(b.meta);
    this.results = [0, 1].map((i) => new Float32Array(b.scores, i * b.classes * 4, b.classes));
  }
}

/** The host's side. */
export class MailboxWriter extends MailboxSide {
  private back = 0;

  /** Publishes a frame; true when it replaced one the worker had not taken (that one is dropped). */
  offer(frame: Uint8Array, seq: number, ts: number): boolean {
    const slot = this.back;
    this.slots[slot]!.set(frame);
    this.meta[slot * 2] = seq;
    this.meta[slot * 2 + 1] = ts;
    const prev = Atomics.exchange(this.ctl, MAILBOX, slot | FRESH);
    this.back = prev & SLOT;
    Atomics.notify(this.ctl, MAILBOX);
    return (prev & FRESH) !== 0;
  }

  /** Withdraws a frame the worker has not taken; true when there was one. */
  cancel(): boolean {
    return (Atomics.and(this.ctl, MAILBOX, ~FRESH) & FRESH) !== 0;
  }

  /** The frame being run and how long it has run, or undefined when the worker is idle. */
  running(): { seq: number; ts: number; elapsedMs: number } | undefined {
    const r = Atomics.load(this.ctl, RUNNING);
    if (r === 0) return undefined;
    const started = Atomics.load(this.ctl, STARTED);
    const slot = r - 1;
    return { seq: this.meta[slot * 2]!, ts: this.meta[slot * 2 + 1]!, elapsedMs: ((Date.now() & MASK31) - started) & MASK31 };
  }

  /** Copies result slot `slot` out and hands the slot back to the worker. */
  takeResult(slot: number, into: Float32Array, count: number): void {
    into.set(count === this.b.classes ? this.results[slot]! : this.results[slot]!.subarray(0, count));
    Atomics.store(this.ctl, FREE + slot, 1);
    Atomics.notify(this.ctl, FREE + slot);
  }

  /** Asks the worker to leave its loop after the run in progress. */
  stop(): void {
    Atomics.store(this.ctl, STOP, 1);
    Atomics.notify(this.ctl, MAILBOX);
    Atomics.notify(this.ctl, FREE);
    Atomics.notify(this.ctl, FREE + 1);
  }
}

/** The worker's side. Its waits block the worker thread, which has nothing else to do meanwhile. */
export class MailboxReader extends MailboxSide {
  private front = 2;
  private nextResult = 0;
  /** the frame taken last, in the worker's own memory (onnxruntime cannot read a SharedArrayBuffer) */
  readonly frame: Uint8Array;
  seq = 0;
  ts = 0;

  constructor(b: MailboxBuffers) {
    super(b);
    this.frame = new Uint8Array(b.frameBytes);
  }

  get stopped(): boolean {
    return Atomics.load(this.ctl, STOP) !== 0;
  }

  /** Waits for a fresh frame and copies it into `frame`; false when the host asked to stop. */
  take(): boolean {
    for (;;) {
      if (this.stopped) return false;
      const v = Atomics.load(this.ctl, MAILBOX);
      if (!(v & FRESH)) {
        Atomics.wait(this.ctl, MAILBOX, v);
        continue;
      }
      const prev = Atomics.exchange(this.ctl, MAILBOX, this.front);
      this.front = prev & SLOT;
      // withdrawn between the load and the exchange: the slots are consistent, there is just nothing to run
      if (!(prev & FRESH)) continue;
      this.frame.set(this.slots[this.front]!);
      this.seq = this.meta[this.front * 2]!;
      this.ts = this.meta[this.front * 2 + 1]!;
      Atomics.store(this.ctl, STARTED, Date.now() & MASK31);
      Atomics.store(this.ctl, RUNNING, this.front + 1);
      return true;
    }
  }

  /** The run of the taken frame ended. */
  done(): void {
    Atomics.store(this.ctl, RUNNING, 0);
  }

  /** Writes scores into the next result slot once the host has read what was there; -1 when stopped. */
  putResult(scores: Float32Array): number {
    const slot = this.nextResult;
    while (Atomics.load(this.ctl, FREE + slot) === 0) {
      if (this.stopped) return -1;
      Atomics.wait(this.ctl, FREE + slot, 0, 1000);
    }
    Atomics.store(this.ctl, FREE + slot, 0);
    const out = this.results[slot]!;
    out.set(scores.length <= out.length ? scores : scores.subarray(0, out.length));
    this.nextResult = 1 - slot;
    return slot;
  }
}
