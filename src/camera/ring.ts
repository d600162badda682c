import type { Frame } from './source.js';

/**
 * Preallocated frame buffers with latest-frame semantics. Three slots suffice: one held by the consumer,
 * one published (the newest frame), one being written by the producer. Publishing over an untaken frame
 * counts a drop and frees its slot; nothing ever queues.
 */
export class FrameRing {
  static readonly SLOTS = 3;
  readonly width: number;
  readonly height: number;
  readonly frameBytes: number;
  private readonly frames: Frame[];
  private writing = 0;
  private published = -1;
  private publishedTaken = false;
  private held = -1;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.frameBytes = width * height * 3;
    this.frames = [];
    for (let i = 0; i < FrameRing.SLOTS; i++) {
      this.frames.push({ data: new Uint8Array(this.frameBytes), width, height, ts: 0, seq: 0 });
    }
  }

  get bufferBytes(): number {
    return this.frameBytes * FrameRing.SLOTS;
  }

  /** The buffer the producer fills next; stays the same until commit(). */
  writable(): Uint8Array {
    return this.frames[this.writing]!.data;
  }

  /** Publishes the written buffer as the newest frame; returns true when an untaken frame was superseded. */
  commit(ts: number, seq: number): boolean {
    const f = this.frames[this.writing]!;
    f.ts = ts;
    f.seq = seq;
    const superseded = this.published >= 0 && !this.publishedTaken;
    this.published = this.writing;
    this.publishedTaken = false;
    this.writing = this.freeSlot();
    return superseded;
  }

  latest(): Frame | null {
    return this.published >= 0 ? this.frames[this.published]! : null;
  }

  /** The newest untaken frame, now held (the previously held slot goes back to the pool). */
  take(): Frame | null {
    if (this.published < 0 || this.publishedTaken) return null;
    this.held = this.published;
    this.publishedTaken = true;
    return this.frames[this.held]!;
  }

  hasUntaken(): boolean {
    return this.published >= 0 && !this.publishedTaken;
  }

  release(): void {
    this.held = -1;
  }

  private freeSlot(): number {
    for (let i = 0; i < FrameRing.SLOTS; i++) if (i !== this.published && i !== this.held) return i;
    // unreachable with three slots: at most two are busy (published, held)
    throw new Error('FrameRing: no free slot');
  }
}
