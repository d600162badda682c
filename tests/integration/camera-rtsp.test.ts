import { describe, it, expect, afterEach } from 'vitest';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { rtspTimeoutOption } from '../../src/camera/ffmpeg-features.js';
import { createFrameSource } from '../../src/camera/registry.js';
import type { Frame, FrameSource, FrameSourceOptions } from '../../src/camera/source.js';
import { until, within } from '../contract/framesource.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';
import { makeFakeFfmpeg4 } from './camera-fixtures.js';

// A real IP camera as far as ffmpeg can tell: GStreamer's RTSP server on loopback, H.264 over RTP, interleaved
// in the RTSP TCP connection (the transport edgefit asks for).

const live: Array<FrameSource | RtspServer> = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((x) => x.stop()));
});

async function server(o: Parameters<typeof startRtspServer>[0] = {}): Promise<RtspServer> {
  const s = await startRtspServer(o);
  live.push(s);
  return s;
}

async function camera(url: string, o: Partial<FrameSourceOptions> = {}): Promise<FrameSource> {
  const s = await createFrameSource(url, {
    width: 70, height: 40, fit: 'stretch', fps: 15, watchdogSeconds: 2, loop: true,
    // random() = 1: every delay is its ceiling; capped low so a returning server is found again soon
    backoff: { baseMs: 50, capMs: 400, random: () => 1 },
    ...o,
  });
  live.push(s);
  return s;
}

// videotestsrc's SMPTE bars (pattern=smpte: 100%), left to right; after H.264 and two colour conversions a channel
// is within a few levels (measured: 252..254 and 0), 40 leaves room and still tells every bar (and R from B) apart
const BARS: Array<[string, [number, number, number]]> = [
  ['white', [255, 255, 255]], ['yellow', [255, 255, 0]], ['cyan', [0, 255, 255]], ['green', [0, 255, 0]],
  ['magenta', [255, 0, 255]], ['red', [255, 0, 0]], ['blue', [0, 0, 255]],
];

/** The colour in the middle of each bar, on a row through the upper bars: proves decoding, scaling and RGB order. */
function barColours(f: Frame): Array<[number, number, number]> {
  const y = Math.floor(f.height / 4);
  return BARS.map((_, k) => {
    const x = Math.floor(((k + 0.5) / BARS.length) * f.width);
    const i = (y * f.width + x) * 3;
    return [f.data[i]!, f.data[i + 1]!, f.data[i + 2]!];
  });
}

function expectBars(f: Frame): void {
  barColours(f).forEach((got, k) => {
    const [name, want] = BARS[k]!;
    for (let c = 0; c < 3; c++) {
      expect(Math.abs(got[c]! - want[c]!), `${name} bar: got rgb(${got.join(',')}), want about rgb(${want.join(',')})`).toBeLessThanOrEqual(40);
    }
  });
}

describe('ffmpeg FrameSource on a real RTSP camera', () => {
  it('delivers rgb24 frames at the configured size from an H.264 RTSP stream', async () => {
    const srv = await server({ width: 320, height: 240, fps: 15 });
    const s = await camera(srv.url);
    expect(s.name).toBe(`ffmpeg:${srv.url}`);
    await s.start();
    const f = await within(s.next(), 'first frame');
    expect([f.width, f.height, f.data.length]).toEqual([70, 40, 70 * 40 * 3]);
    expectBars(f);
    // a stream, not one picture: frames keep arriving
    const seq = f.seq;
    await until(() => s.stats().framesIn >= seq + 10, 'ten more frames');
    expect(s.stats()).toMatchObject({ online: true, stalls: 0, restarts: 0, lastError: null, width: 70, height: 40 });
  });

  it('a centre-cropped square from a 16:9 stream, reconfigured in place to another size', async () => {
    const srv = await server({ width: 256, height: 144, fps: 10 });
    const s = await camera(srv.url, { width: 48, height: 48, fit: 'crop', fps: 10 });
    await s.start();
    const a = await within(s.next(), 'first frame');
    expect(a.data.length).toBe(48 * 48 * 3);
    await s.reconfigure({ width: 96, height: 64, fit: 'stretch' });
    const b = await within(s.next(), 'frame after reconfigure');
    expect([b.width, b.height, b.data.length]).toEqual([96, 64, 96 * 64 * 3]);
    expectBars(b);
  });

  it('the server going away: the watchdog reports the outage, retries, and frames come back with the server', async () => {
    const srv = await server({ fps: 15 });
    const s = await camera(srv.url);
    const offline: string[] = [];
    const retries: number[] = [];
    s.on('offline', (why: string) => offline.push(why));
    s.on('retry', (ms: number) => retries.push(ms));
    s.on('error', () => {});
    await s.start();
    await within(s.next(), 'first frame');
    expect(s.stats().online).toBe(true);

    await srv.stop();
    await until(() => offline.length === 1, 'offline after the server died');
    expect(s.stats().online).toBe(false);
    // while it is down, every attempt is refused and said so; nothing arrives
    const tried = retries.length;
    await until(() => retries.length >= tried + 2 && /connection refused/.test(s.stats().lastError ?? ''), 'refused retries');
    expect(s.stats().lastError).toMatch(/connection refused by rtsp:\/\/127\.0\.0\.1:\d+\/cam: is the camera or stream server up/);
    const framesDown = s.stats().framesIn;
    s.take();

    await srv.restart();
    await until(() => s.stats().online, 'online after the server came back');
    const f = await within(s.next(), 'a frame after the outage');
    expect(f.seq).toBeGreaterThan(framesDown);
    expect(f.data.length).toBe(70 * 40 * 3);
    expectBars(f);
    expect(s.stats()).toMatchObject({ online: true, lastError: null });
    expect(s.stats().restarts).toBeGreaterThanOrEqual(2);
    expect(offline).toHaveLength(1);
  });

  it('reconfigured, or stopped and started, while ffmpeg is still being asked for its option names: one capture, and none after stop()', async () => {
    const slow = makeSlowToAnswerFfmpeg();
    try {
      const srv = await server();
      const s = await camera(srv.url, { ffmpegPath: slow });
      const first = s.start();
      await s.reconfigure({ width: 48, height: 48 });
      await s.stop();
      const second = s.start();
      await Promise.all([first, second]);
      const f = await within(s.next(), 'a frame after the slow answer');
      expect([f.width, f.height]).toEqual([48, 48]);
      expectBars(f);
      // every ffmpeg this process started is the one the source knows (an unknown one would outlive stop())
      await until(() => s.stats().framesIn >= f.seq + 5, 'frames keep coming');
      expect(childFfmpegs()).toEqual(s.pids());
      await s.stop();
      await until(() => childFfmpegs().length === 0, 'no ffmpeg left after stop()');
    } finally {
      rmSync(dirname(slow), { recursive: true, force: true });
    }
  });

  it('an ffmpeg before 5.0 gets its own name for the socket timeout (-stimeout), not -timeout, which would make it listen', async () => {
    const old = makeFakeFfmpeg4();
    try {
      expect(await rtspTimeoutOption(old)).toBe('stimeout');
      expect(await rtspTimeoutOption('ffmpeg')).toBe('timeout');
      const srv = await server();
      const s = await camera(srv.url, { ffmpegPath: old });
      const errors: string[] = [];
      s.on('error', (e: Error) => errors.push(e.message));
      await s.start();
      const f = await within(s.next(), 'a frame through ffmpeg 4');
      expectBars(f);
      expect(errors).toEqual([]);
    } finally {
      rmSync(dirname(old), { recursive: true, force: true });
    }
  });
});

/** The real ffmpeg, answering `-h demuxer=rtsp` a second late (a slow board's first run): the window for the race. */
function makeSlowToAnswerFfmpeg(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-slow-ffmpeg-'));
  const p = join(dir, 'ffmpeg');
  writeFileSync(p, '#!/usr/bin/env bash\nif [ "$*" = "-hide_banner -h demuxer=rtsp" ]; then sleep 1; fi\nexec ffmpeg "$@"\n');
  chmodSync(p, 0o755);
  return p;
}

/** pids of this process's children running ffmpeg, ascending */
function childFfmpegs(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${d}/stat`, 'utf8');
    } catch {
      continue; // exited while listed
    }
    // pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === process.pid && comm === 'ffmpeg') pids.push(Number(d));
  }
  return pids.sort((a, b) => a - b);
}
