import { open, readFile, mkdir, stat, unlink } from 'node:fs/promises';
import { constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../util/crc32.js';
import { writeFileAtomic, atomicTempPath, commitFileAtomic } from '../util/atomic.js';
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
/** after a compaction that could not go ahead (cursor or log not writable), wait this long before trying again */
const COMPACT_RETRY_MS = 5000;

/** The part of a FileHandle the log uses: writes at explicit positions, never O_APPEND. */
interface LogFile {
  write(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  truncate(len: number): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

/**
 * A durable, bounded, ordered outbox. A result is accepted once its record is in the log and fdatasync'd;
 * records are batched so a burst costs one write and one sync. Delivery (ack) advances a cursor that is
 * written atomically; after a crash the log is replayed past the cursor, so a result may be delivered twice
 * (consumers dedupe by seq) but never lost. When the bound is exceeded the oldest records are dropped and
 * counted, never silently.
 *
 * Log record: u32le length | u32le crc32 | JSON {"s":seq,"t":topic,"p":payload}. A torn tail (power cut
 * mid-write) fails its length or CRC and is cut off at the next open.
 *
 * On a filling disk a write may be short without an error and the next one fail with ENOSPC; a sync may fail
 * after the bytes reached the disk. So `logSize` is the end of the last accepted record, each batch is written
 * at that offset until every byte is out, and any failure cuts the file back to `logSize` (checked with fstat).
 * While that cut has not succeeded nothing more is written: refused bytes would otherwise be replayed at the
 * next start as results nobody accepted, or make the records after them unreadable.
 *
 * Seqs are never handed out twice: the log holds every accepted record that the cursor on disk does not cover,
 * and compaction removes records only after a cursor write that covers them (acked or dropped, and lastSeq)
 * succeeded; at open lastSeq is the larger of the cursor's and the log's highest seq.
 */
export class Outbox {
  private entries: OutboxEntry[] = [];
  private head = 0;
  private liveBytes = 0;
  private readonly ackedOutOfOrder = new Set<number>();
  private cursor: Cursor;
  private log!: LogFile;
  /** end of the last accepted record; the file is longer only while `tailDirty` */
  private logSize = 0;
  /** bytes past logSize may be on disk (a failed batch not yet cut off): no append until they are */
  private tailDirty = false;
  private compactRetryAt = 0;
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
    this.log = await openLog(this.logPath);
    if (data.length === 0) await syncDir(this.dir); // a new log: its name must survive a power cut like its records
    this.logSize = off;
    if (off < data.length) {
      // torn tail from a crash mid-append: keep only whole records
      this.tailDirty = true;
      await this.cutTail();
    }
    this.enforceBound();
  }

  /** Appends a record; resolves when it is durable (accepted). `build` receives the record's seq. */
  append(topic: string, build: (seq: number) => string): Promise<OutboxEntry> {
    if (this.closed) return Promise.reject(new EdgefitError('E_OUTBOX_CLOSED', 'the outbox is closed'));
    // a refused record keeps its seq: the next one never takes it (a consumer may dedupe by seq)
    const seq = ++this.cursor.lastSeq;
    const payload = build(seq);
    const buf = encodeRecord(seq, topic, payload);
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
        await this.appendDurably(buf);
      } catch (err) {
        // a failed append (disk full, read-only) is not accepted: the caller counts it
        const e = err instanceof EdgefitError ? err : new EdgefitError('E_OUTBOX_WRITE', `cannot write the outbox in ${this.dir} (${errorMessage(err)}); free disk space or fix permissions`, { cause: err });
        for (const b of batch) b.reject(e);
        continue;
      }
      for (const b of batch) b.resolve();
    }
    this.flushing = undefined;
  }

  /** Writes `buf` right after the last accepted record and syncs it; on any failure cuts the log back to that record. */
  private async appendDurably(buf: Buffer): Promise<void> {
    if (this.tailDirty) await this.cutTail();
    this.tailDirty = true;
    try {
      await writeAll(this.log, buf, this.logSize);
      if (this.opts.fsync !== false) await this.log.datasync();
    } catch (err) {
      // not accepted, yet the bytes may be on disk (all of them when only the sync failed): cut them off now,
      // or before the next append when that fails too
      await this.cutTail().catch(() => undefined);
      throw err;
    }
    this.logSize += buf.length;
    this.tailDirty = false;
  }

  /** Cuts the log back to the end of the last accepted record, durably, and checks the size on disk. */
  private async cutTail(): Promise<void> {
    try {
      await this.log.truncate(this.logSize);
      if (this.opts.fsync !== false) await this.log.datasync();
      const { size } = await this.log.stat();
      if (size !== this.logSize) throw new Error(`the log is ${size} bytes after cutting it to ${this.logSize}`);
    } catch (err) {
      throw new EdgefitError('E_OUTBOX_WRITE', `cannot cut the outbox log in ${this.dir} back to its last accepted record after a failed write (${errorMessage(err)}); results are refused until it can be: free disk space or check the disk`, { cause: err });
    }
    this.tailDirty = false;
  }

  /** Records not yet delivered, oldest first. */
  pending(): readonly OutboxEntry[] {
    return this.head === 0 ? this.entries : this.entries.slice(this.head);
  }

  /**
   * Iterates pending entries without copying. One already delivered behind an undelivered one (the broker refused
   * the earlier) is not pending: sending it again would only duplicate it.
   */
  *iterate(): IterableIterator<OutboxEntry> {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (!this.ackedOutOfOrder.has(e.seq)) yield e;
    }
  }

  ack(seq: number): void {
    if (seq <= this.cursor.ackedThrough || this.ackedOutOfOrder.has(seq)) return;
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

  /**
   * Resolves false when the write failed. `force` writes even when nothing marked the cursor dirty (lastSeq moves
   * without marking it): then true means the cursor on disk is the one in memory as of this call, or later.
   */
  private writeCursor(force = false): Promise<boolean> {
    const run = this.cursorWrite.then(async () => {
      if (!this.cursorDirty && !force) return true;
      this.cursorDirty = false;
      try {
        await writeFileAtomic(join(this.dir, 'cursor.json'), JSON.stringify(this.cursor));
        return true;
      } catch {
        // retried on the next ack or at close; meanwhile the log keeps what the old cursor does not cover:
        // delivery may repeat, nothing is lost (compaction waits for a successful write)
        this.cursorDirty = true;
        return false;
      }
    });
    this.cursorWrite = run.then(() => undefined);
    return run;
  }

  /** Rewrites the log with only the live records once the dead part dominates. */
  private async maybeCompact(): Promise<void> {
    const dead = this.logSize - this.liveBytes;
    if (this.compacting || this.closed || this.tailDirty || dead < 1 << 20 || dead < this.liveBytes || Date.now() < this.compactRetryAt) return;
    this.compacting = true;
    try {
      // what is kept is fixed now: everything before it is acked or dropped in the cursor written next
      const all = Buffer.concat(Array.from(this.iterate(), (e) => encodeRecord(e.seq, e.topic, e.payload)));
      // the removed records leave the disk only once a cursor covering them (ackedThrough, dropped, lastSeq) is
      // there; else a restart would forget drops and hand their seqs out again
      if (!(await this.writeCursor(true))) throw new Error('the cursor could not be written');
      // written through the handle that becomes the log, so no open can fail once the new file is in place
      const tmp = atomicTempPath(this.logPath);
      const fresh = await openLog(tmp);
      try {
        await writeAll(fresh, all, 0);
        await commitFileAtomic(tmp, this.logPath);
      } catch (err) {
        await fresh.close().catch(() => undefined);
        await unlink(tmp).catch(() => undefined);
        throw err;
      }
      const old = this.log;
      this.log = fresh;
      this.logSize = all.length;
      await old.close().catch(() => undefined);
    } catch {
      // compaction is an optimisation; the old log is still valid
      this.compactRetryAt = Date.now() + COMPACT_RETRY_MS;
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
    if (this.tailDirty) await this.cutTail().catch(() => undefined);
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    this.cursorDirty = true;
    await this.writeCursor();
    await this.log.close();
  }
}

function encodeRecord(seq: number, topic: string, payload: string): Buffer {
  const body = Buffer.from(JSON.stringify({ s: seq, t: topic, p: payload }), 'utf8');
  const buf = Buffer.allocUnsafe(HEADER + body.length);
  buf.writeUInt32LE(body.length, 0);
  buf.writeUInt32LE(crc32(body), 4);
  body.copy(buf, HEADER);
  return buf;
}

/** Read-write, created if missing, without O_APPEND: every write goes where the outbox says. */
function openLog(path: string): Promise<LogFile> {
  return open(path, fsc.O_RDWR | fsc.O_CREAT, 0o644);
}

/** A filling disk returns a short count without an error (the next write reports ENOSPC): write until all is out. */
async function writeAll(f: LogFile, buf: Buffer, at: number): Promise<void> {
  for (let off = 0; off < buf.length;) {
    const { bytesWritten } = await f.write(buf, off, buf.length - off, at + off);
    if (bytesWritten <= 0) throw Object.assign(new Error('ENOSPC: the write made no progress'), { code: 'ENOSPC' });
    off += bytesWritten;
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, 'r');
    try { await dh.sync(); } finally { await dh.close(); }
  } catch { /* some filesystems refuse fsync on directories */ }
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
