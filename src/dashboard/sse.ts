import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FleetStore } from './store.js';

interface Client {
  res: ServerResponse;
  /** the device whose view is open on this page, if any */
  focus: string | undefined;
  focusModelSeq: number;
  /** the socket's buffer is full: updates are not written but remembered (ids only) until it drains */
  blocked: boolean;
  missed: Set<string>;
  missedBoards: boolean;
}

export interface SseOptions {
  /** at most one update message per page per this many ms; changes in between are coalesced */
  flushMs?: number;
  heartbeatMs?: number;
  maxClients?: number;
}

/**
 * Server-Sent Events to the pages. Changes are coalesced: the store marks devices dirty, and every flushMs one
 * `rows` message carries the rows that changed (serialised once for all pages); a page with a device open also
 * gets a `device` message for it. A page that cannot keep up is not queued for: while its socket is full only
 * the ids of changed devices are remembered, and when it drains it gets those rows as they are then, so memory
 * stays bounded (by the fleet size) whatever the page does.
 */
export class SseHub {
  private readonly clients = new Set<Client>();
  private flushTimer: NodeJS.Timeout | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly flushMs: number;
  private readonly maxClients: number;
  private boardsPending = false;
  private boardsAt = 0;
  sent = 0;

  constructor(private readonly store: FleetStore, o: SseOptions = {}) {
    this.flushMs = o.flushMs ?? 250;
    this.maxClients = o.maxClients ?? 64;
    this.flushTimer = setInterval(() => this.flush(), this.flushMs);
    this.beatTimer = setInterval(() => this.broadcast(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
    this.flushTimer.unref();
    this.beatTimer.unref();
  }

  get clientCount(): number { return this.clients.size; }

  open(req: IncomingMessage, res: ServerResponse, focus: string | undefined): void {
    if (this.clients.size >= this.maxClients) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' }).end('too many open dashboard pages\n');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const c: Client = { res, focus, focusModelSeq: -1, blocked: false, missed: new Set(), missedBoards: false };
    this.clients.add(c);
    res.socket?.setNoDelay(true);
    res.on('drain', () => {
      if (!c.blocked) return;
      c.blocked = false;
      this.catchUp(c);
    });
    req.on('close', () => this.clients.delete(c));
    res.write('retry: 2000\n\n');
    this.sendFull(c);
  }

  /** Writes unless the page's socket is full; callers that must not lose a frame remember it instead (missed*). */
  private write(c: Client, chunk: string): void {
    if (c.blocked) return;
    this.sent++;
    if (!c.res.write(chunk)) c.blocked = true;
  }

  private broadcast(chunk: string): void {
    for (const c of this.clients) this.write(c, chunk);
  }

  /** After a drain: the rows that changed while the page was not reading, as they are now. */
  private catchUp(c: Client): void {
    const ids = c.missed;
    c.missed = new Set();
    if (ids.size > 0) {
      this.write(c, rowsFrame(this.store, ids, Date.now()));
      if (c.focus && ids.has(c.focus)) this.sendDevice(c, false);
    }
    if (c.missedBoards) {
      c.missedBoards = false;
      this.sendBoards(c);
    }
  }

  /**
   * The boards frame, or, when the socket is full (a rows frame written just before can fill it), a note to
   * send it at the drain: dropped, the page kept counting a fleet online after the header counted it stale.
   */
  private sendBoards(c: Client, chunk?: string): void {
    if (c.blocked) { c.missedBoards = true; return; }
    this.write(c, chunk ?? frame('boards', { now: Date.now(), boards: this.store.boards() }));
  }

  private sendFull(c: Client): void {
    this.write(c, frame('hello', { now: Date.now(), rows: this.store.rows(), boards: this.store.boards() }));
    if (c.focus) this.sendDevice(c, true);
  }

  private sendDevice(c: Client, full: boolean): void {
    const id = c.focus!;
    // a full socket: the drain sends this device's row and update (catchUp), the model included if it changed
    if (c.blocked) { c.missed.add(id); return; }
    const row = this.store.row(id);
    if (!row) return;
    const m = this.store.model(id)!;
    const modelChanged = m.modelSeq !== c.focusModelSeq;
    c.focusModelSeq = m.modelSeq;
    const point = this.store.lastPoint(id);
    this.write(c, frame('device', {
      id, row, modelSeq: m.modelSeq, ...(modelChanged || full ? { model: m.model ?? null } : {}),
      ...(point ? { point } : {}), events: this.store.events(id),
    }));
  }

  /** Sends what changed since the last flush. */
  flush(): void {
    const now = Date.now();
    this.store.markStale(now);
    const dirty = this.store.takeDirty();
    // the per-board summary sorts the whole fleet: once a second is plenty, and at most every 1 ms per device
    // (10 s at 10,000 devices, where it took an eighth of the dashboard's CPU at once a second)
    this.boardsPending ||= this.store.takeBoardsDirty();
    const boardsChanged = this.boardsPending && now - this.boardsAt >= Math.max(1000, this.store.size);
    if (this.clients.size === 0 || (dirty.size === 0 && !boardsChanged)) return;
    const rows = dirty.size > 0 ? rowsFrame(this.store, dirty, now) : undefined;
    let boardsFrame: string | undefined;
    if (boardsChanged) {
      boardsFrame = frame('boards', { now, boards: this.store.boards() });
      this.boardsPending = false;
      this.boardsAt = now;
    }
    for (const c of this.clients) {
      if (c.blocked) {
        // bounded by the fleet size: ids, not messages
        for (const id of dirty) c.missed.add(id);
        c.missedBoards ||= boardsFrame !== undefined;
        continue;
      }
      if (rows) this.write(c, rows);
      if (boardsFrame) this.sendBoards(c, boardsFrame);
      if (c.focus && dirty.has(c.focus)) this.sendDevice(c, false);
    }
  }

  close(): void {
    clearInterval(this.flushTimer);
    clearInterval(this.beatTimer);
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }
}

/** The rows of changed devices; a changed id without a row is a device the store forgot (`removed`). */
function rowsFrame(store: FleetStore, ids: Set<string>, now: number): string {
  const rows = [];
  const removed = [];
  for (const id of ids) { const r = store.row(id); if (r) rows.push(r); else removed.push(id); }
  return frame('rows', { now, rows, ...(removed.length ? { removed } : {}) });
}

function frame(event: string, data: unknown): string {
  // JSON never contains a raw newline, so one data: line is a whole message
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
