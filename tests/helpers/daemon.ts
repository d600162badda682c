import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { pullModels } from '../../src/catalog/pull.js';

/** A state directory with catalog models pulled from ../shared/data as a mirror directory (real pull + convert). */
export async function pulledState(only: string[]): Promise<string> {
  const stateDir = mkdtempSync(join(tmpdir(), 'edgefit-state-'));
  const { config } = loadConfig({ env: {}, overrides: { stateDir }, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
  const report = await pullModels(config, { mirror: sharedData, only });
  if (!report.ok) throw new Error(`pull failed: ${JSON.stringify(report.items)}`);
  return stateDir;
}

export function copyState(stateDir: string): string {
  const d = mkdtempSync(join(tmpdir(), 'edgefit-state-'));
  cpSync(stateDir, d, { recursive: true });
  return d;
}

/** Flags that keep profiling short in tests: few runs, one thread count. */
export const fastProfile = ['--set', 'profile.minRuns=3', '--set', 'profile.minSeconds=0.2', '--set', 'profile.warmupRuns=1', '--set', 'engine.threads=1'];

export class DaemonProcess {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  exit: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.proc = spawn(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'run', ...args], {
      cwd: projectRoot,
      env: { ...process.env, EDGEFIT_CONFIG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc.stdout!.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    this.proc.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-200_000); });
    this.exit = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
  }

  /** JSON lines printed on stdout (--json) */
  lines(): Record<string, unknown>[] {
    return this.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async waitFor(pred: () => boolean, what: string, ms = 60_000): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (this.proc.exitCode !== null) throw new Error(`daemon exited (${this.proc.exitCode}) while waiting for ${what}:\n${this.stderr.slice(-3000)}`);
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}:\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.proc.exitCode === null) this.proc.kill(signal);
    return this.exit;
  }
}
