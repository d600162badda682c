import { describe, expect, it } from 'vitest';
import { FleetStore } from '../../src/dashboard/store.js';
import { validateMessage, type Inbound } from '../../src/dashboard/validate.js';
import { loadRecording } from '../helpers/recorded-device.js';

/**
 * Issue 14, section 4: the header said "300 devices, 0 online" while "By board model" said 60 of 60 online, and
 * clearing a retained topic (an empty retained message) was refused as "model is not JSON" instead of clearing
 * the device's model. One definition of online/stale serves the rows (the page's header and table), the
 * per-board counts and the API; a cleared retained topic clears what it held.
 */
const rec = loadRecording();
const T0 = 1_800_000_000_000;

function inbound(id: string, kind: 'status' | 'model' | 'telemetry', body: unknown): Inbound {
  const m = validateMessage('edgefit', `edgefit/${id}/${kind}`, Buffer.from(body === '' ? '' : JSON.stringify(body)));
  if ('reason' in m) throw new Error(`${kind}: ${m.reason} ${m.detail}`);
  return m;
}
const status = (id: string, state: string, session = 1) => inbound(id, 'status', { ...rec.status, deviceId: id, state, session });
const model = (id: string, board = 'raspberry-pi-4') => inbound(id, 'model', { ...rec.model, session: 1, deviceId: id, board });
const telemetry = (id: string, windowSeconds = 1) => inbound(id, 'telemetry', { ...rec.telemetry[1]!.payload, deviceId: id, windowSeconds });

/** The header's count, as the page computes it from the rows it was sent. */
const headerOnline = (s: FleetStore) => s.rows().filter((r) => r.online).length;
const boardsOnline = (s: FleetStore) => s.boards().reduce((n, b) => n + b.online, 0);

describe('online and stale: one definition', () => {
  it('a fleet whose telemetry stopped is online nowhere: not in the rows, not in the per-board counts', () => {
    const s = new FleetStore();
    for (let i = 0; i < 10; i++) {
      const id = `sim-${i}`;
      s.apply(status(id, 'online'), T0, true);
      s.apply(model(id, i % 2 ? 'raspberry-pi-5' : 'raspberry-pi-4'), T0, true);
      s.apply(telemetry(id), T0, true);
    }
    s.markStale(T0 + 1000);
    expect(boardsOnline(s)).toBe(10);
    expect(headerOnline(s)).toBe(10);
    // the simulator stops publishing: three periods later every device is stale, and counted offline everywhere
    s.markStale(T0 + 60_000);
    expect(s.rows().every((r) => r.stale)).toBe(true);
    expect(s.boards().map((b) => [b.board, b.devices, b.online])).toEqual([['raspberry-pi-4', 5, 0], ['raspberry-pi-5', 5, 0]]);
    expect(headerOnline(s)).toBe(0);
    // telemetry again: online again, in both
    s.apply(telemetry('sim-3'), T0 + 61_000, true);
    expect(headerOnline(s)).toBe(1);
    expect(boardsOnline(s)).toBe(1);
  });

  it('a device that said "online" but never sent telemetry turns stale after the grace period', () => {
    const s = new FleetStore();
    s.apply(status('ghost', 'online'), T0, false);
    s.markStale(T0 + 10_000);
    expect(s.row('ghost')).toMatchObject({ online: true, stale: false });
    s.markStale(T0 + 10 * 60_000);
    expect(s.row('ghost')).toMatchObject({ online: false, stale: true });
    expect(boardsOnline(s)).toBe(0);
  });

  it('stopped and offline devices are not online and not "stale": their silence is expected', () => {
    const s = new FleetStore();
    for (const [id, state] of [['a', 'stopped'], ['b', 'offline'], ['c', 'degraded']] as const) {
      s.apply(status(id, 'online'), T0, true);
      s.apply(telemetry(id), T0, true);
      s.apply(status(id, state), T0 + 500, true);
    }
    s.markStale(T0 + 60_000);
    expect(s.rows().map((r) => [r.id, r.state, r.stale, r.online])).toEqual([
      ['a', 'stopped', false, false], ['b', 'offline', false, false], ['c', 'degraded', true, false],
    ]);
    expect(boardsOnline(s)).toBe(0);
  });

  it('marks a device dirty when it turns stale, so the page hears of it', () => {
    const s = new FleetStore();
    s.apply(status('a', 'online'), T0, true);
    s.apply(telemetry('a'), T0, true);
    s.takeDirty();
    s.markStale(T0 + 1000);
    expect(s.takeDirty().size).toBe(0);
    s.markStale(T0 + 60_000);
    expect([...s.takeDirty()]).toEqual(['a']);
  });
});

describe('a cleared retained topic', () => {
  it('an empty message on the model topic is a clear, not a rejection', () => {
    expect(validateMessage('edgefit', 'edgefit/cam-1/model', Buffer.alloc(0))).toEqual({ kind: 'cleared', deviceId: 'cam-1', topic: 'model' });
    expect(validateMessage('edgefit', 'edgefit/cam-1/status', Buffer.alloc(0))).toEqual({ kind: 'cleared', deviceId: 'cam-1', topic: 'status' });
    // topics that are never retained have nothing to clear: an empty one is still refused
    expect(validateMessage('edgefit', 'edgefit/cam-1/telemetry', Buffer.alloc(0))).toMatchObject({ reason: 'json' });
  });

  it('clearing the model removes it (and the board it named); clearing the status forgets the state', () => {
    const s = new FleetStore();
    s.apply(status('cam-1', 'online'), T0, false);
    s.apply(model('cam-1'), T0, false);
    s.apply(telemetry('cam-1'), T0, true);
    const seq = s.model('cam-1')!.modelSeq;
    expect(s.apply(inbound('cam-1', 'model', ''), T0 + 1, true)).toBe(true);
    expect(s.model('cam-1')).toEqual({ modelSeq: seq + 1 });
    expect(s.row('cam-1')?.board).toBeUndefined();
    expect(s.boards().map((b) => b.board)).toEqual(['unknown']);
    // its telemetry is fresh: the device stays, as it is
    expect(s.row('cam-1')).toMatchObject({ state: 'online', online: true });
    s.apply(inbound('cam-1', 'status', ''), T0 + 2, true);
    expect(s.row('cam-1')).toMatchObject({ state: 'unknown', online: false, since: T0 + 2 });
  });

  it('a device with nothing retained left and no fresh telemetry is forgotten (the page is told)', () => {
    const s = new FleetStore();
    for (const id of ['sim-1', 'sim-2']) {
      s.apply(status(id, 'online'), T0, false);
      s.apply(model(id), T0, false);
    }
    s.takeDirty();
    s.apply(inbound('sim-1', 'status', ''), T0 + 1, true);
    expect(s.size).toBe(2);
    s.apply(inbound('sim-1', 'model', ''), T0 + 1, true);
    expect(s.size).toBe(1);
    expect(s.row('sim-1')).toBeUndefined();
    expect(s.detail('sim-1')).toBeUndefined();
    expect(s.takeDirty().has('sim-1')).toBe(true);
    expect(s.boards()).toMatchObject([{ board: 'raspberry-pi-4', devices: 1 }]);
    // a clear for a device never seen creates nothing
    expect(s.apply(inbound('nobody', 'model', ''), T0 + 2, true)).toBe(false);
    expect(s.size).toBe(1);
  });
});
