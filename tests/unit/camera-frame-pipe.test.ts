import { describe, it, expect } from 'vitest';
import { readdirSync } from 'node:fs';
import { Capture } from '../../src/camera/capture.js';
import { copyIntoSink, openFramePipe, readIntoSink, type FrameSink } from '../../src/camera/frame-pipe.js';
import { writeSync, closeSync } from 'node:fs';

const FRAME = 48 * 32 * 3;

/** Frames assembled in two fixed buffers, as the ring does; records every read's size. */
function assembler() {
  const slots = [new Uint8Array(FRAME), new Uint8Array(FRAME)];
  let cur = 0;
  let offset = 0;
  const frames: Uint8Array[] = [];
  const reads: number[] = [];
  const targets = new Set<ArrayBufferLike>();
  const sink: FrameSink = {
    buffer: () => { targets.add(slots[cur]!.buffer); return slots[cur]!.subarray(offset); },
    received: (n) => {
      reads.push(n);
      offset += n;
      if (offset === FRAME) { frames.push(Uint8Array.from(slots[cur]!)); offset = 0; cur ^= 1; }
    },
  };
  return { sink, frames, reads, targets, rest: () => offset };
}

const openFds = () => readdirSync('/proc/self/fd').length;

describe('frames from a child process into caller-owned buffers', () => {
  it('ffmpeg writes 40 frames: all arrive whole, every read lands in one of the two frame buffers, nothing leaks', async () => {
    const fds0 = openFds();
    const a = assembler();
    const cap = new Capture([{ cmd: 'ffmpeg', args: ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=48x32:rate=100', '-frames:v', '40', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'] }], a.sink);
    const exit = await cap.exited;
    expect(exit.code).toBe(0);
    // the clean exit is reported only after the pipe was read to its end
    expect(a.frames).toHaveLength(40);
    expect(a.rest()).toBe(0);
    expect(a.reads.every((n) => n > 0 && n <= FRAME)).toBe(true);
    expect(a.targets.size).toBe(2);
    // the test pattern moves: the first and the last frame differ (frames are copies, not the reused buffers)
    expect(Buffer.from(a.frames[0]!).equals(Buffer.from(a.frames[39]!))).toBe(false);
    await cap.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBeLessThanOrEqual(fds0);
  });

  it('a process that fails to start leaks no descriptor', async () => {
    const fds0 = openFds();
    const cap = new Capture([{ cmd: 'edgefit-no-such-binary', args: [] }], assembler().sink);
    const exit = await cap.exited;
    expect(exit.spawnError?.code).toBe('ENOENT');
    await cap.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds()).toBeLessThanOrEqual(fds0);
  });

  it('the anonymous pipe: its FIFO is gone from the file system, and bytes written reach the sink in place', async () => {
    const { readFd, writeFd } = openFramePipe();
    const a = assembler();
    const sock = readIntoSink(readFd, a.sink);
    const data = new Uint8Array(FRAME * 2).map((_, i) => (i * 7) % 256);
    writeSync(writeFd, data);
    closeSync(writeFd);
    await new Promise((r) => sock.once('end', r));
    expect(a.frames).toHaveLength(2);
    expect(Buffer.from(a.frames[1]!).equals(Buffer.from(data.subarray(FRAME)))).toBe(true);
    sock.destroy();
  });

  it('the fallback for an ordinary pipe splits chunks at frame boundaries', () => {
    const a = assembler();
    const stream = new Uint8Array(FRAME * 3 + 100).map((_, i) => i % 251);
    copyIntoSink(stream.subarray(0, 0), a.sink); // an empty chunk does nothing
    let pos = 0;
    for (const size of [1000, FRAME * 2, 7, FRAME]) { copyIntoSink(stream.subarray(pos, pos + size), a.sink); pos += size; }
    expect(a.frames).toHaveLength(3);
    expect(a.rest()).toBe(100);
    expect(Buffer.from(a.frames[1]!).equals(Buffer.from(stream.subarray(FRAME, 2 * FRAME)))).toBe(true);
  });
});
