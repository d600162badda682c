import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';

/** `edgefit run` in a child process, as a user starts it; results come back as --json lines on stdout. */
export class DaemonChild {
  readonly proc: ChildProcess;
  readonly startedAt = performance.now();
  /** performance.now() of the first result line, once seen */
  firstResultAt: number | undefined;
  results = 0;
  lastResult: Record<string, unknown> | undefined;
  stderr = '';
  private buf = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], nodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [...nodeArgs, join(projectRoot, 'bin/edgefit.js'), 'run', '--json', ...args], {
      cwd: projectRoot,
      env: { ...process.env, EDGEFIT_CONFIG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (!line.startsWith('{')) continue;
        this.firstResultAt ??= performance.now();
        this.results++;
        try { this.lastResult = JSON.parse(line) as Record<string, unknown>; } catch { /* a torn line */ }
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20_000); });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  get pid(): number { return this.proc.pid!; }

  async waitFor(pred: () => boolean, what: string, ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (!pred()) {
      if (this.proc.exitCode !== null) throw new Error(`the daemon exited (${this.proc.exitCode}) while waiting for ${what}:\n${this.stderr.slice(-2000)}`);
      if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}:\n${this.stderr.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** SIGTERM, then SIGKILL if it does not stop in time. */
  async stop(graceMs = 15_000): Promise<number | null> {
    if (this.proc.exitCode !== null) return this.proc.exitCode;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** A throw-away copy of a state directory, without or with its profile cache. */
export function copyState(stateDir: string, keepProfileCache: boolean): string {
  const d = mkdtempSync(join(tmpdir(), 'edgefit-bench-state-'));
  cpSync(stateDir, d, { recursive: true, filter: (src) => keepProfileCache || !src.endsWith('profile-cache.json') });
  return d;
}

export function removeDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
}

/** Starts a daemon and times it to its first result (from spawn), with the variant that gave it and its log. */
export async function timeToFirstResult(args: string[], timeoutMs: number): Promise<{ ms: number; variant: string; log: string }> {
  const d = new DaemonChild(args);
  try {
    await d.waitFor(() => d.firstResultAt !== undefined, 'the first result', timeoutMs);
    return { ms: d.firstResultAt! - d.startedAt, variant: String(d.lastResult?.variant ?? '?'), log: d.stderr };
  } finally {
    await d.stop();
  }
}
