import { spawn } from 'node:child_process';
import { EdgefitError, isErrorCode } from './errors.js';
import { readProcMemory, type ProcMemory } from './procstatus.js';

export interface IsolatedOptions {
  /** the child (and whatever it started) is killed with SIGKILL past this */
  timeoutMs: number;
  /** resident memory of the child past which it is killed (Linux: read from /proc); none when undefined */
  maxRssMb?: number;
  /**
   * A memory watch of the caller's own (the profiler counts from a baseline the child reports): `check` sees the
   * child's memory every `everyMs` and returns why it is killed (end 'memory'), or undefined.
   */
  watchMemory?: { everyMs: number; check(m: ProcMemory): string | undefined };
  /** messages the child sends on its IPC channel (`process.send`): progress, phases */
  onMessage?: (msg: unknown) => void;
  /** aborting kills the child (the daemon stopping) */
  signal?: AbortSignal;
  /** each line the child writes on stderr (its progress and log) */
  onStderrLine?: (line: string) => void;
}

/** How a child ended without answering: the caller decides what it means (e.g. quarantine a model file). */
export type IsolatedEnd = 'timeout' | 'memory' | 'aborted' | 'crashed' | 'spawn';

export class IsolatedFailure extends EdgefitError {
  constructor(
    readonly end: IsolatedEnd,
    /** what happened, in words: "killed after 600 s", "ended with SIGABRT" */
    readonly detail: string,
    /** the last stderr lines the child wrote (at most 2000 characters) */
    readonly stderrTail: string,
    /** how the process ended ('crashed'): its exit code or the signal that killed it */
    readonly exit: { code: number | null; signal: NodeJS.Signals | null } = { code: null, signal: null },
  ) {
    super('E_ISOLATED', detail);
  }

  /** the child's last stderr line, for a message */
  get lastLine(): string {
    return this.stderrTail.trim().split('\n').at(-1)?.slice(0, 300) ?? '';
  }
}

export type IsolatedAnswer<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

const MAX_STDOUT = 8 * 1024 * 1024;
const NESTED = 'EDGEFIT_ISOLATED';
const RSS_POLL_MS = 100;

/**
 * Runs a compiled module (one that calls `serveIsolated`, src/util/isolated-main.ts) in a child process: the
 * input goes as JSON on stdin, the answer comes back as the last JSON line on stdout. The child leads its own
 * process group, so a timeout, an abort or the memory limit kills it and anything it started (SIGKILL: a child
 * stuck in native code ignores nothing else). The promise settles only once the child is gone.
 * A child's own refusal ({ok: false}) rejects with an EdgefitError of its code; a child that ended without
 * answering rejects with an IsolatedFailure.
 */
export function runIsolated<T>(script: string, input: unknown, o: IsolatedOptions): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (o.signal?.aborted) return reject(new IsolatedFailure('aborted', 'not started: stopping', ''));
    // A child leads a process group of its own, killed as one; a child of a child (a pull that converts) stays in
    // its parent's group instead, so killing the outer one reaches it even when it is stuck in native code.
    // The IPC channel is only a lifeline: the child exits when it closes (this process died).
    const group = process.env[NESTED] !== '1';
    const child = spawn(process.execPath, [script], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'], detached: group, env: { ...process.env, [NESTED]: '1' } });
    let out = '';
    let tail = '';
    let partial = '';
    let killedFor: { end: IsolatedEnd; detail: string } | undefined;
    let settled = false;

    const kill = (end: IsolatedEnd, detail: string): void => {
      if (killedFor || settled) return;
      killedFor = { end, detail };
      try {
        if (group) process.kill(-child.pid!, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => kill('timeout', `killed after ${Math.round(o.timeoutMs / 100) / 10} s without an answer`), o.timeoutMs);
    const watches = [
      ...(o.maxRssMb === undefined ? [] : [{
        everyMs: RSS_POLL_MS,
        check: (m: ProcMemory) => (m.rssKb / 1024 > o.maxRssMb! ? `killed at ${Math.round(m.rssKb / 1024)} MB resident, over its limit of ${Math.round(o.maxRssMb!)} MB` : undefined),
      }]),
      ...(o.watchMemory ? [o.watchMemory] : []),
    ];
    const rssTimers = child.pid === undefined ? [] : watches.map((w) => setInterval(() => {
      const m = readProcMemory(child.pid!);
      const why = m ? w.check(m) : undefined;
      if (why) kill('memory', why);
    }, w.everyMs));
    if (o.onMessage) child.on('message', (m: unknown) => { if (!settled) o.onMessage!(m); });
    const onAbort = (): void => kill('aborted', 'killed: stopping');
    o.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const t of rssTimers) clearInterval(t);
      o.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      if (out.length > MAX_STDOUT) kill('crashed', `wrote more than ${MAX_STDOUT} bytes on stdout`);
    });
    child.stderr!.on('data', (d: Buffer) => {
      const text = partial + d.toString('utf8');
      tail = (tail + d.toString('utf8')).slice(-2000);
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      if (partial.length > 4096) { lines.push(partial); partial = ''; }
      for (const line of lines) if (line.trim()) o.onStderrLine?.(line);
    });
    // a child that died before reading its input: the write fails with EPIPE, the exit says the rest
    child.stdin!.on('error', () => undefined);
    // the lifeline must not keep this process alive, nor fail it when the child is gone
    child.on('error', (err) => {
      if (child.pid === undefined) finish(() => reject(new IsolatedFailure('spawn', `cannot start a child process: ${err.message}`, '')));
    });
    child.channel?.unref();
    child.once('close', (code, signal) => finish(() => {
      if (partial.trim()) o.onStderrLine?.(partial);
      if (killedFor) return reject(new IsolatedFailure(killedFor.end, killedFor.detail, tail));
      let answer: IsolatedAnswer<T> | undefined;
      try { answer = JSON.parse(out.trim().split('\n').at(-1) ?? '') as IsolatedAnswer<T>; } catch { /* no answer: it died */ }
      if (answer?.ok === true) resolve(answer.value);
      else if (answer?.ok === false) reject(new EdgefitError(isErrorCode(answer.code) ? answer.code : 'E_ISOLATED', answer.message));
      else reject(new IsolatedFailure('crashed', `ended with ${signal ?? `exit code ${code}`} before answering`, tail, { code, signal }));
    }));
    child.stdin!.end(JSON.stringify(input));
  });
}
