import { afterEach, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FleetStore, type BoardSummary } from '../../src/dashboard/store.js';
import { SseHub } from '../../src/dashboard/sse.js';
import { validateMessage } from '../../src/dashboard/validate.js';
import { loadRecording } from '../helpers/recorded-device.js';

/**
 * A page whose socket is full gets the updates it missed when the socket drains. Seen in Chromium at fleet
 * scale (issue 14): the rows frame of a whole fleet turning stale filled the socket, the boards frame written
 * right after it in the same flush was dropped and never re-sent, so "By board model" kept saying every
 * device was online under a header that said none was.
 */
const rec = loadRecording();

/** A ServerResponse stand-in whose socket is "full" (write returns false) while `full` is set. */
class Page extends EventEmitter {
  full = false;
  readonly frames: { event: string; data: unknown }[] = [];
  writeHead(): this { return this; }
  end(): void {}
  write(chunk: string): boolean {
    const m = /^event: (\w+)\ndata: (.*)\n\n$/s.exec(chunk);
    if (m) this.frames.push({ event: m[1]!, data: JSON.parse(m[2]!) });
    return !this.full;
  }
  last(event: string): unknown { return [...this.frames].reverse().find((f) => f.event === event)?.data; }
}

function feed(store: FleetStore, id: string, kind: 'status' | 'telemetry', body: object, now: number): void {
  const m = validateMessage('edgefit', `edgefit/${id}/${kind}`, Buffer.from(JSON.stringify({ ...body, deviceId: id })));
  if ('reason' in m) throw new Error(m.detail);
  store.apply(m, now, true);
}

describe('SSE to a page that cannot keep up', () => {
  let hub: SseHub | undefined;
  afterEach(() => hub?.close());

  function open(store: FleetStore, focus?: string): Page {
    hub = new SseHub(store, { flushMs: 1e9, heartbeatMs: 1e9 });
    const page = new Page();
    hub.open(new EventEmitter() as unknown as IncomingMessage, page as unknown as ServerResponse, focus);
    return page;
  }

  it('sends the boards frame that a full socket did not take once it drains', () => {
    const store = new FleetStore();
    const page = open(store);
    const now = Date.now();
    for (const id of ['a', 'b', 'c']) {
      feed(store, id, 'status', rec.status, now);
      feed(store, id, 'telemetry', rec.telemetry[1]!.payload, now);
    }
    // this flush's rows frame fills the socket: the boards frame after it cannot be written now
    page.full = true;
    hub!.flush();
    expect((page.last('rows') as { rows: unknown[] }).rows).toHaveLength(3);
    page.full = false;
    page.emit('drain');
    const boards = page.last('boards') as { boards: BoardSummary[] } | undefined;
    expect(boards?.boards.map((b) => [b.board, b.devices, b.online])).toEqual([['unknown', 3, 3]]);
  });

  it('sends the open device\'s update that a full socket did not take once it drains', () => {
    const store = new FleetStore();
    const now = Date.now();
    feed(store, 'a', 'status', rec.status, now);
    const page = open(store, 'a');
    hub!.flush();
    const before = page.frames.filter((f) => f.event === 'device').length;
    feed(store, 'a', 'telemetry', rec.telemetry[1]!.payload, now + 10);
    page.full = true;
    hub!.flush();
    page.full = false;
    page.emit('drain');
    const devices = page.frames.filter((f) => f.event === 'device');
    expect(devices.length).toBeGreaterThan(before);
    expect((devices[devices.length - 1]!.data as { row: { fps?: number } }).row.fps).toBe(rec.telemetry[1]!.payload.fps);
  });
});
