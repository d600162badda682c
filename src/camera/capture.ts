import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { StderrTail } from './diagnose.js';

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
 * A pipeline of child processes (`a | b | c`) whose last stdout carries raw frames. Whichever process ends
 * first ends the capture: the others are killed, so no half-pipeline lingers.
 */
export class Capture {
  readonly stdout: Readable;
  readonly exited: Promise<CaptureExit>;
  private readonly procs: ChildProcess[] = [];
  private readonly alive = new Set<ChildProcess>();
  private readonly allGone: Promise<void>;
  private readonly tails: StderrTail[];

  constructor(steps: Step[]) {
    if (steps.length === 0) throw new Error('Capture needs at least one process');
    const tails = steps.map(() => new StderrTail());
    this.tails = tails;
    let resolveExit!: (e: CaptureExit) => void;
    this.exited = new Promise((r) => { resolveExit = r; });
    let first = true;
    const gone: Promise<void>[] = [];
    let prev: ChildProcess | null = null;
    steps.forEach((step, i) => {
      const p = spawn(step.cmd, step.args, {
        stdio: [prev ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        env: { ...process.env, AV_LOG_FORCE_NOCOLOR: '1' },
      });
      this.procs.push(p);
      this.alive.add(p);
      if (prev?.stdout && p.stdin) {
        prev.stdout.pipe(p.stdin);
        // the downstream end closing early is reported by its exit, not as an unhandled EPIPE
        p.stdin.on('error', () => undefined);
      }
      p.stderr?.on('data', (c: Buffer) => tails[i]!.push(c));
      p.stderr?.on('error', () => undefined);
      const finish = (code: number | null, signal: NodeJS.Signals | null, spawnError: NodeJS.ErrnoException | null) => {
        if (!first) return;
        first = false;
        resolveExit({ cmd: step.cmd, code, signal, spawnError, stderr: tails.flatMap((t) => t.lines()) });
        this.kill('SIGKILL');
      };
      gone.push(new Promise<void>((resolve) => {
        // 'error' without 'exit' happens when the program cannot be started at all
        p.once('error', (err: NodeJS.ErrnoException) => {
          this.alive.delete(p);
          finish(null, null, err);
          resolve();
        });
        p.once('exit', (code, signal) => {
          this.alive.delete(p);
          finish(code, signal, null);
          resolve();
        });
      }));
      prev = p;
    });
    this.stdout = this.procs.at(-1)!.stdout!;
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
    if (this.alive.size === 0) return this.allGone;
    this.kill('SIGTERM');
    let t: NodeJS.Timeout | undefined;
    const escalate = new Promise<void>((r) => { t = setTimeout(r, graceMs); });
    await Promise.race([this.allGone, escalate]);
    clearTimeout(t);
    if (this.alive.size > 0) this.kill('SIGKILL');
    await this.allGone;
  }
}
