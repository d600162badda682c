import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';

/** Where raw frame bytes go: the reader asks for the buffer to fill, then says how many bytes arrived. */
export interface FrameSink {
  /** the rest of the frame being assembled (reads never span two frames) */
  buffer(): Uint8Array;
  received(bytes: number): void;
}

/**
 * An anonymous pipe for a child's stdout: a FIFO opened at both ends and unlinked at once. Node cannot make a
 * bare pipe, and the pipe child_process makes delivers every read in a newly allocated Buffer (a frame's worth
 * of garbage per frame); this one is read by a socket with a caller-owned buffer (`onread`), straight into the
 * frame ring. Throws when `mkfifo` is missing; the caller then uses an ordinary pipe.
 */
export function openFramePipe(): { readFd: number; writeFd: number } {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-frames-'));
  const path = join(dir, 'fifo');
  try {
    execFileSync('mkfifo', ['-m', '600', path], { stdio: 'ignore' });
    // the read end first and non-blocking, so opening the write end does not wait for a reader
    const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let writeFd: number;
    try {
      writeFd = openSync(path, constants.O_WRONLY);
    } catch (err) {
      closeSync(readFd);
      throw err;
    }
    unlinkSync(path);
    return { readFd, writeFd };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads a pipe fd into the sink's buffers: no allocation per read. */
export function readIntoSink(readFd: number, sink: FrameSink): Socket {
  // Node's Socket constructor takes `onread` (as net.connect does); @types/node lists it only for connect
  const opts: SocketConstructorOpts & { onread: OnReadOpts } = {
    fd: readFd, readable: true, writable: false,
    onread: { buffer: () => sink.buffer(), callback: (n: number) => { sink.received(n); return true; } },
  };
  return new Socket(opts);
}

/** The fallback for an ordinary child_process pipe: copies each chunk into the sink's buffers. */
export function copyIntoSink(chunk: Uint8Array, sink: FrameSink): void {
  let pos = 0;
  while (pos < chunk.length) {
    const dst = sink.buffer();
    const n = Math.min(chunk.length - pos, dst.length);
    dst.set(chunk.subarray(pos, pos + n));
    pos += n;
    sink.received(n);
  }
}
