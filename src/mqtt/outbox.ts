import { open, readFile, mkdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { writeFileAtomic } from '../util/atomic.js';
import { EdgefitError, errorMessage } from '../util/errors.js';

export interface OutboxEntry {
  seq: number;
  topic: string;
  payload: string;
  bytes: number;
}

export interface OutboxOptions {
  maxMessages: number;
  maxBytes: number;
  /** fdatasync each batch before it counts as accepted (default true; off only for benchmarks) */
  fsync?: boolean;
}

export interface OutboxStats {
  depth: number;
  bytes: number;
  dropped: number;
  accepted: number;
  acked: number;
  lastSeq: number;
}

interface Cursor {
  /** every seq <= ackedThrough was delivered or counted as dropped */
  ackedThrough: number;
  lastSeq: number;
  dropped: number;
}

const HEADER = 8;

/**
 * A durable, bounded, ordered outbox. A result is accepted once its record is in the log and fdatasync'd;
 * records are batched so a burst costs one write and one sync. Delivery (ack) advances a cursor that is
 * written atomically; after a crash the log is replayed past the cursor, so a result may be delivered twice
 * (consumers dedupe by seq) but never lost. When the bound is exceeded the oldest records are dropped and
 * counted, never silently.
 *
 * Log record: u32le length | u32le crc32 | JSON {"s":seq,"t":topic,"p":payload}. A torn tail (power cut
 * mid-write) fails its length or CRC and is cut off at the next open.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private head = 0;
  private liveBytes = 0;
  private readonly ackedOutOfOrder = new Set<number>();
  private cursor: Cursor;
  private log!: FileHandle;
  private logSize = 0;
  private batch: { buf: Buffer; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private cursorDirty = false;
  private cursorWrite: Promise<void> = Promise.resolve();
  private cursorTimer: NodeJS.Timeout | undefined;
  private compacting = false;
  private accepted = 0;
  private acked = 0;
  private closed = false;

  private constructor(private readonly dir: string, private readonly opts: OutboxOptions, cursor: Cursor) {
    this.cursor = cursor;
  }

  static async open(dir: string, opts: OutboxOptions): Promise<Outbox> {
    try {
      await mkdir(dir, { recursive: true });
      const cursor = await readCursor(join(dir, 'cursor.json'));
      const box = new Outbox(dir, opts, cursor);
      await box.load();
      return box;
    } catch (err) {
      if (err instanceof EdgefitError) throw err;
      throw new EdgefitError('E_OUTBOX', `cannot open the outbox in ${dir} (${errorMessage(err)}); check that the state directory exists, is writable and has free space`, { cause: err });
    }
  }

  private get logPath(): string { return join(this.dir, 'outbox.log'); }

  private async load(): Promise<void> {
    let data: Buffer = Buffer.alloc(0);
    try { data = await readFile(this.logPath); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; }
    let off = 0;
    let maxSeq = this.cursor.lastSeq;
    while (off + HEADER <= data.length) {
      const len = data.readUInt32LE(off);
      const crc = data.readUInt32LE(off + 4);
      if (len === 0 || off + HEADER + len > data.length) break;
      const body = data.subarray(off + HEADER, off + HEADER + len);
      if (crc32(body) !== crc) break;
      let rec: { s: number; t: string; p: string };
      try { rec = JSON.parse(body.toString('utf8')) as typeof rec; } catch { break; }
      off += HEADER + len;
      maxSeq = Math.max(maxSeq, rec.s);
      if (rec.s <= this.cursor.ackedThrough) continue;
      this.entries.push({ seq: rec.s, topic: rec.t, payload: rec.p, bytes: HEADER + len });
      this.liveBytes += HEADER + len;
    }
    this.cursor.lastSeq = maxSeq;
    this.log = await open(this.logPath, 'a+');
    if (off < data.length) {
      // torn tail from a crash mid-append: keep only whole records
      await this.log.truncate(off);
      await this.log.datasync();
    }
    this.logSize = off;
    this.enforceBound();
  }

  /** Appends a record; resolves when it is durable (accepted). `build` receives the record's seq. */
  append(topic: string, build: (seq: number) => string): Promise<OutboxEntry> {
    if (this.closed) return Promise.reject(new EdgefitError('E_OUTBOX_CLOSED', 'the outbox is closed'));
    const seq = ++this.cursor.lastSeq;
    const payload = build(seq);
    const body = Buffer.from(JSON.stringify({ s: seq, t: topic, p: payload }), 'utf8');
    const buf = Buffer.allocUnsafe(HEADER + body.length);
    buf.writeUInt32LE(body.length, 0);
    buf.writeUInt32LE(crc32(body), 4);
    body.copy(buf, HEADER);
    const entry: OutboxEntry = { seq, topic, payload, bytes: buf.length };
    return new Promise<OutboxEntry>((resolve, reject) => {
      this.batch.push({
        buf,
        resolve: () => {
          this.entries.push(entry);
          this.liveBytes += entry.bytes;
          this.accepted++;
          this.enforceBound();
          resolve(entry);
        },
        reject,
      });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    // let every append of this tick join the batch
    await new Promise<void>((r) => setImmediate(r));
    for (;;) {
      if (this.batch.length === 0) {
        // compaction runs inside the flush chain, so no append can write to a log handle being replaced
        await this.maybeCompact();
        if (this.batch.length === 0) break;
      }
      const batch = this.batch;
      this.batch = [];
      const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((b) => b.buf));
      try {
        await this.log.write(buf, 0, buf.length, null);
        if (this.opts.fsync !== false) await this.log.datasync();
        this.logSize += buf.length;
        for (const b of batch) b.resolve();
      } catch (err) {
        // a failed append (disk full, read-only) is not accepted: the caller counts it; cut any partial write
        await this.log.truncate(this.logSize).catch(() => undefined);
        const e = new EdgefitError('E_OUTBOX_WRITE', `cannot write the outbox in ${this.dir} (${errorMessage(err)}); free disk space or fix permissions`, { cause: err });
        for (const b of batch) b.reject(e);
      }
    }
    this.flushing = undefined;
  }

  /** Records not yet delivered, oldest first. */
  pending(): readonly OutboxEntry[] {
    return this.head === 0 ? this.entries : this.entries.slice(this.head);
  }

  /** Iterates pending entries without copying. */
  *iterate(): IterableIterator<OutboxEntry> {
    for (let i = this.head; i < this.entries.length; i++) yield this.entries[i]!;
  }

  ack(seq: number): void {
    if (seq <= this.cursor.ackedThrough) return;
    this.ackedOutOfOrder.add(seq);
    this.acked++;
    let moved = false;
    while (this.head < this.entries.length && this.ackedOutOfOrder.has(this.entries[this.head]!.seq)) {
      const e = this.entries[this.head++]!;
      this.ackedOutOfOrder.delete(e.seq);
      this.liveBytes -= e.bytes;
      this.cursor.ackedThrough = e.seq;
      moved = true;
    }
    if (moved) { this.trimHead(); this.markCursorDirty(); }
  }

  private enforceBound(): void {
    let dropped = 0;
    while (this.entries.length - this.head > this.opts.maxMessages || (this.liveBytes > this.opts.maxBytes && this.entries.length - this.head > 1)) {
      const e = this.entries[this.head++]!;
      this.ackedOutOfOrder.delete(e.seq);
      this.liveBytes -= e.bytes;
      this.cursor.ackedThrough = e.seq;
      dropped++;
    }
    if (dropped > 0) {
      this.cursor.dropped += dropped;
      this.trimHead();
      // a drop must be on disk before the records could come back at the next start
      this.markCursorDirty(true);
    }
  }

  private trimHead(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  private markCursorDirty(now = false): void {
    this.cursorDirty = true;
    if (now) { void this.writeCursor(); return; }
    if (!this.cursorTimer) this.cursorTimer = setTimeout(() => { this.cursorTimer = undefined; void this.writeCursor(); }, 200);
  }

  private writeCursor(): Promise<void> {
    this.cursorWrite = this.cursorWrite.then(async () => {
      if (!this.cursorDirty) return;
      this.cursorDirty = false;
      try {
        await writeFileAtomic(join(this.dir, 'cursor.json'), JSON.stringify(this.cursor));
      } catch {
        this.cursorDirty = true; // retried on the next ack or at close; delivery may repeat, nothing is lost
      }
    });
    return this.cursorWrite;
  }

  /** Rewrites the log with only the live records once the dead part dominates. */
  private async maybeCompact(): Promise<void> {
    const dead = this.logSize - this.liveBytes;
    if (this.compacting || this.closed || dead < 1 << 20 || dead < this.liveBytes) return;
    this.compacting = true;
    try {
      await this.writeCursor();
      const live = Array.from(this.iterate());
      const bufs = live.map((e) => {
        const body = Buffer.from(JSON.stringify({ s: e.seq, t: e.topic, p: e.payload }), 'utf8');
        const h = Buffer.allocUnsafe(HEADER);
        h.writeUInt32LE(body.length, 0);
        h.writeUInt32LE(crc32(body), 4);
        return Buffer.concat([h, body]);
      });
      const all = Buffer.concat(bufs);
      await writeFileAtomic(this.logPath, all);
      await this.log.close();
      this.log = await open(this.logPath, 'a+');
      this.logSize = all.length;
    } catch {
      // compaction is an optimisation; the old log is still valid
    } finally {
      this.compacting = false;
    }
  }

  stats(): OutboxStats {
    return {
      depth: this.entries.length - this.head,
      bytes: this.liveBytes,
      dropped: this.cursor.dropped,
      accepted: this.accepted,
      acked: this.acked,
      lastSeq: this.cursor.lastSeq,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    while (this.flushing) await this.flushing;
    this.closed = true;
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    this.cursorDirty = true;
    await this.writeCursor();
    await this.log.close();
  }
}

async function readCursor(path: string): Promise<Cursor> {
  try {
    const c = JSON.parse(await readFile(path, 'utf8')) as Partial<Cursor>;
    const ok = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
    if (ok(c.ackedThrough) && ok(c.lastSeq) && ok(c.dropped)) return c as Cursor;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ackedThrough: 0, lastSeq: 0, dropped: 0 };
  }
  // unreadable cursor (only possible if written by something else): replay the whole log, duplicates not losses
  return { ackedThrough: 0, lastSeq: 0, dropped: 0 };
}

export async function outboxExists(dir: string): Promise<boolean> {
  try { await stat(join(dir, 'outbox.log')); return true; } catch { return false; }
}
