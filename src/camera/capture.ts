import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { StderrTail } from './diagnose.js';
import { copyIntoSink, openFramePipe, readIntoSink, type FrameSink } from './frame-pipe.js';

export interface Step {
  cmd: string;
  args: string[];
}

export interface CaptureExit {
  /** the process that ended the capture (the first one to exit) */
  cmd: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** the spawn itself failed (e.g. ENOENT: the program is not installed) */
  spawnError: NodeJS.ErrnoException | null;
  /** the stderr of every process, last lines last */
  stderr: string[];
}

/**
 * A pipeline of child processes (`a | b | c`) whose last stdout carries raw frames, delivered into `sink`
 * (through an anonymous pipe read with a caller-owned buffer, src/camera/frame-pipe.ts). Whichever process
 * ends first ends the capture: the others are killed, so no half-pipeline lingers.
 */
export class Capture {
  readonly stdout: Readable;
  readonly exited: Promise<CaptureExit>;
  private readonly procs: ChildProcess[] = [];
  private readonly alive = new Set<ChildProcess>();
  private readonly allGone: Promise<void>;
  private readonly tails: StderrTail[];

  constructor(steps: Step[], sink: FrameSink) {
    if (steps.length === 0) throw new Error('Capture needs at least one process');
    let framePipe: { readFd: number; writeFd: number } | undefined;
    try {
      framePipe = openFramePipe();
    } catch {
      // no mkfifo: an ordinary pipe, whose chunks are copied into the sink
    }
    const tails = steps.map(() => new StderrTail());
    this.tails = tails;
    let resolveExit!: (e: CaptureExit) => void;
    this.exited = new Promise((r) => { resolveExit = r; });
    let first = true;
    const finish = (cmd: string, code: number | null, signal: NodeJS.Signals | null, spawnError: NodeJS.ErrnoException | null) => {
      if (!first) return;
      first = false;
      const exit = { cmd, code, signal, spawnError, stderr: tails.flatMap((t) => t.lines()) };
      // a clean end (a file played once) is reported after the frames still in the pipe were read
      if (code === 0) void drained(this.stdout, 2000).then(() => resolveExit(exit));
      else resolveExit(exit);
      this.kill('SIGKILL');
    };
    const gone: Promise<void>[] = [];
    let prev: ChildProcess | null = null;
    try {
      steps.forEach((step, i) => {
        const last = i === steps.length - 1;
        // the previous process's stdout becomes this one's stdin: the bytes go from process to process in the
        // kernel, not through this event loop
        const upstream = prev?.stdout ?? null;
        const p = spawn(step.cmd, step.args, {
          stdio: [upstream ?? 'ignore', last && framePipe ? framePipe.writeFd : 'pipe', 'pipe'],
          env: { ...process.env, AV_LOG_FORCE_NOCOLOR: '1' },
        });
        // the child has its own copy of the pipe's read end; ours would only keep the pipe open
        upstream?.destroy();
        this.procs.push(p);
        this.alive.add(p);
        p.stderr?.on('data', (c: Buffer) => tails[i]!.push(c));
        p.stderr?.on('error', () => undefined);
        gone.push(new Promise<void>((resolve) => {
          // 'error' without 'exit' happens when the program cannot be started at all
          p.once('error', (err: NodeJS.ErrnoException) => {
            this.alive.delete(p);
            finish(step.cmd, null, null, err);
            resolve();
          });
          p.once('exit', (code, signal) => {
            this.alive.delete(p);
            finish(step.cmd, code, signal, null);
            resolve();
          });
        }));
        prev = p;
      });
    } catch (err) {
      // spawn() throws synchronously on some argument errors: nothing may leak
      this.kill('SIGKILL');
      if (framePipe) for (const fd of [framePipe.readFd, framePipe.writeFd]) closeSync(fd);
      throw err;
    }
    if (framePipe) {
      // the last child holds the write end now: ours must go, or the reader never sees end-of-file
      closeSync(framePipe.writeFd);
      this.stdout = readIntoSink(framePipe.readFd, sink);
    } else {
      this.stdout = this.procs.at(-1)!.stdout!;
      this.stdout.on('data', (chunk: Buffer) => copyIntoSink(chunk, sink));
    }
    // stream errors end in an exit, which is what gets reported; unhandled they would throw
    this.stdout.on('error', () => undefined);
    this.allGone = Promise.all(gone).then(() => undefined);
  }

  /** what the processes printed on stderr so far (bounded) */
  stderrLines(): string[] {
    return this.tails.flatMap((t) => t.lines());
  }

  get pids(): number[] {
    return this.procs.filter((p) => this.alive.has(p) && p.pid !== undefined).map((p) => p.pid!);
  }

  kill(signal: NodeJS.Signals): void {
    for (const p of this.alive) {
      try {
        p.kill(signal);
        // a SIGSTOPped process holds SIGTERM until it runs again
        if (signal === 'SIGTERM') p.kill('SIGCONT');
      } catch { /* already gone */ }
    }
  }

  /** Ends every process: SIGTERM, then SIGKILL after graceMs; resolves when all were reaped. */
  async close(graceMs = 2000): Promise<void> {
    if (this.alive.size > 0) {
      this.kill('SIGTERM');
      let t: NodeJS.Timeout | undefined;
      const escalate = new Promise<void>((r) => { t = setTimeout(r, graceMs); });
      await Promise.race([this.allGone, escalate]);
      clearTimeout(t);
      if (this.alive.size > 0) this.kill('SIGKILL');
    }
    await this.allGone;
    // the frame pipe's read end is ours: closed here, since nobody writes to it any more
    this.stdout.destroy();
  }
}

/** Resolves when a readable has ended (or failed, or closed), or after `capMs`. */
function drained(r: Readable, capMs: number): Promise<void> {
  if (r.readableEnded || r.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { clearTimeout(t); resolve(); };
    const t = setTimeout(done, capMs);
    r.once('end', done);
    r.once('close', done);
    r.once('error', done);
  });
}
