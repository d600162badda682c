import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { mkdtempSync, cpSync, mkdirSync, existsSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot, sharedData } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { pullModels } from '../../src/catalog/pull.js';

const execFileAsync = promisify(execFile);

/**
 * A state directory with catalog models pulled from ../shared/data as a mirror directory (real pull + convert).
 * Each set of models is pulled once per test run and every caller gets its own copy (no copyState needed).
 */
export async function pulledState(only: string[]): Promise<string> {
  return fromTemplate(['pulled', ...[...only].sort()], (dir) => pullInto(dir, only));
}

/**
 * pulledState with every rung of its ladder already measured (`edgefit profile --all`, fastProfile and `sets`), so a
 * daemon started on it with the same settings reads the profile cache instead of measuring. For tests whose subject
 * comes after the choice; not for tests about profiling, the probe frames or a start that is interrupted.
 */
export async function profiledState(only: string[], sets: string[] = []): Promise<string> {
  return fromTemplate(['profiled', ...[...only].sort(), '--set', ...sets], async (dir) => {
    await pullInto(dir, only);
    await execFileAsync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'profile', '--all', '--state-dir', dir, ...fastProfile, ...sets.flatMap((v) => ['--set', v])], {
      cwd: projectRoot, env: { ...process.env, EDGEFIT_CONFIG: '' }, timeout: 300_000, maxBuffer: 16 << 20,
    }).catch((e: unknown) => { throw new Error(`edgefit profile for a test state failed: ${(e as { stderr?: string }).stderr?.slice(-3000) ?? String(e)}`, { cause: e }); });
  });
}

/**
 * A copy of the state `build` makes, built once per test run: the template lives under EDGEFIT_TEST_DIST and is
 * published by rename, so two workers never see half of one (the second to finish discards its own).
 */
async function fromTemplate(key: string[], build: (dir: string) => Promise<unknown>): Promise<string> {
  const base = process.env.EDGEFIT_TEST_DIST;
  if (!base) {
    const d = mkdtempSync(join(tmpdir(), 'edgefit-state-'));
    await build(d);
    return d;
  }
  const templates = join(base, 'test-states');
  mkdirSync(templates, { recursive: true });
  const template = join(templates, createHash('sha256').update(key.join('\n')).digest('hex').slice(0, 16));
  if (!existsSync(template)) {
    const staged = mkdtempSync(join(templates, 'staging-'));
    await build(staged);
    try {
      renameSync(staged, template);
    } catch (e) {
      if (!existsSync(template)) throw e;
      rmSync(staged, { recursive: true, force: true });
    }
  }
  return copyState(template);
}

async function pullInto(stateDir: string, only: string[]): Promise<void> {
  const { config } = loadConfig({ env: {}, overrides: { stateDir }, host: { hostname: 'test', isRoot: false, home: tmpdir() } });
  const report = await pullModels(config, { mirror: sharedData, only });
  if (!report.ok) throw new Error(`pull failed: ${JSON.stringify(report.items)}`);
}

export function copyState(stateDir: string): string {
  const d = mkdtempSync(join(tmpdir(), 'edgefit-state-'));
  cpSync(stateDir, d, { recursive: true });
  return d;
}

/** Flags that keep profiling short in tests: few runs, one thread count. */
export const fastProfile = ['--set', 'profile.minRuns=3', '--set', 'profile.minSeconds=0.2', '--set', 'profile.warmupRuns=1', '--set', 'engine.threads=1'];

/** fastProfile without a minimum time (the last --set wins): for tests that need a choice, not figures it depends on. */
export const fewRunsProfile = [...fastProfile, '--set', 'profile.minSeconds=0'];

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
