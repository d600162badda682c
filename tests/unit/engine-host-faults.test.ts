import { describe, it, expect, beforeAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineHost, type HostOptions } from '../../src/engine/host.js';
import { distModule } from '../../src/util/paths.js';
import { tinyClassifier, testFrame } from '../helpers/tiny-model.js';
import { faultEnginesModule } from '../helpers/fault-daemon.js';
import { waitFor } from '../helpers/wait.js';

// the fault engines are not shipped: each host imports them into its worker
const faults = { engineModules: [faultEnginesModule] };

let model: string;
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'edgefit-faults-'));
  model = join(dir, 'tiny.onnx');
  writeFileSync(model, tinyClassifier({ resolution: 32 }));
  process.env.EDGEFIT_TEST_FAULT_AFTER = '2';
});

async function runMany(host: EngineHost, n: number): Promise<{ ok: number; errors: string[] }> {
  let ok = 0;
  const errors: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      await host.run(testFrame(32, i));
      ok++;
    } catch (err) {
      errors.push((err as Error & { code?: string }).code ?? 'unknown');
    }
  }
  return { ok, errors };
}

describe('EngineHost under faults', () => {
  it('a hung run times out, the worker is replaced and later frames run again', async () => {
    const host = await EngineHost.start(model, { ...faults, kind: 'fault-hang', providers: ['cpu'], threads: 1, timeoutMs: 300, restartBudget: 10 });
    const restarts: string[] = [];
    host.on('restart', (r: string) => restarts.push(r));
    const r = await runMany(host, 5); // 2 good, 1 hang, then a fresh worker: 2 good
    expect(r.ok).toBe(4);
    expect(r.errors).toEqual(['E_ENGINE_TIMEOUT']);
    expect(host.stats.timeouts).toBe(1);
    expect(host.stats.restarts).toBe(1);
    expect(restarts).toHaveLength(1);
    await host.close();
  });

  it('a run stuck in a native call times out, and its replacement loads only once the stuck worker is gone', async () => {
    // two copies of a model that may only just fit must never be loaded side by side
    const trace = join(mkdtempSync(join(tmpdir(), 'edgefit-native-hang-')), 'trace');
    process.env.EDGEFIT_TEST_FAULT_TRACE = trace;
    process.env.EDGEFIT_TEST_FAULT_NATIVE_MS = '1500';
    try {
      const host = await EngineHost.start(model, { ...faults, kind: 'fault-native-hang', providers: ['cpu'], threads: 1, timeoutMs: 300, restartBudget: 10 });
      const r = await runMany(host, 5); // 2 good, 1 stuck for 1.5 s, then a fresh worker: 2 good
      expect(r.errors).toEqual(['E_ENGINE_TIMEOUT']);
      expect(r.ok).toBe(4);
      await host.close();
      const events = readFileSync(trace, 'utf8').trim().split('\n').map((l) => l.split(' ') as [string, string]);
      expect(events.map((e) => e[0])).toEqual(['load', 'native-until', 'load']);
      expect(Number(events[2]![1])).toBeGreaterThanOrEqual(Number(events[1]![1]));
    } finally {
      delete process.env.EDGEFIT_TEST_FAULT_TRACE;
      delete process.env.EDGEFIT_TEST_FAULT_NATIVE_MS;
    }
  });

  it('a crashed worker is restarted and counted', async () => {
    const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 5000, restartBudget: 10 });
    const r = await runMany(host, 5);
    expect(r.errors).toEqual(['E_ENGINE_CRASH']);
    expect(r.ok).toBe(4);
    expect(host.stats.crashes).toBe(1);
    expect(host.stats.restarts).toBe(1);
    await host.close();
  });

  it('past the restart budget the host reports degraded instead of restarting for ever', async () => {
    process.env.EDGEFIT_TEST_FAULT_AFTER = '0';
    const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 5000, restartBudget: 2, restartWindowMs: 60_000 });
    const degraded: string[] = [];
    host.on('degraded', (why: string) => degraded.push(why));
    const r = await runMany(host, 6);
    expect(r.ok).toBe(0);
    expect(host.stats.restarts).toBe(2);
    expect(host.degraded).toBe(true);
    expect(degraded).toHaveLength(1);
    expect(r.errors.at(-1)).toBe('E_ENGINE_DEGRADED');
    await host.close();
    process.env.EDGEFIT_TEST_FAULT_AFTER = '2';
  });

  it('ships no fault engine: without the test module the worker refuses the name', async () => {
    await expect(EngineHost.start(model, { kind: 'fault-hang', providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_ENGINE_UNKNOWN' });
  });

  it('a module of engineModules registers an engine the worker picks by priority when none is named', async () => {
    process.env.EDGEFIT_TEST_FAULT_ENGINE = 'fault-hang';
    try {
      const host = await EngineHost.start(model, { ...faults, providers: ['cpu'], threads: 1, timeoutMs: 300, restartBudget: 10 });
      expect(host.name).toBe('worker:fault-hang');
      const r = await runMany(host, 3);
      expect(r.errors).toEqual(['E_ENGINE_TIMEOUT']);
      await host.close();
    } finally {
      delete process.env.EDGEFIT_TEST_FAULT_ENGINE;
    }
  });

  it('without engine modules the worker runs onnxruntime', async () => {
    const host = await EngineHost.start(model, { providers: ['cpu'], threads: 1 });
    expect(host.name).toBe('worker:onnxruntime');
    expect((await runMany(host, 3)).ok).toBe(3);
    await host.close();
  });

  it('a module that is not an absolute path, or does not import, is refused with E_ENGINE_MODULE', async () => {
    await expect(EngineHost.start(model, { engineModules: ['fault-engines.mjs'], providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_ENGINE_MODULE', message: /absolute path/ });
    await expect(EngineHost.start(model, { engineModules: [join(tmpdir(), 'edgefit-no-such-module.mjs')], providers: ['cpu'], threads: 1 })).rejects.toMatchObject({ code: 'E_ENGINE_MODULE', message: /could not be imported/ });
  });
});

/** Sets env vars (read by the fault engines in each new worker) for fn, then puts them back. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A fresh load counter file for EDGEFIT_TEST_FAULT_LOAD_COUNT, and how many loads it has seen. */
function loadCounter(): { file: string; loads: () => number } {
  const file = join(mkdtempSync(join(tmpdir(), 'edgefit-loads-')), 'count');
  return { file, loads: () => { try { return Number(readFileSync(file, 'utf8')); } catch { return 0; } } };
}

/**
 * EngineHost.start() in a child process of its own, which exits once nothing of the host is left (no worker,
 * no timer): its exit, not a wait on the clock, shows that a failed start leaves nothing running. A host that
 * lives on keeps the child up until `limitMs`, when it is killed (exit code null).
 */
function startInChild(opts: HostOptions, env: Record<string, string>, limitMs: number): Promise<{ code: number | null; out: string; err: string }> {
  const script = `
    const { pathToFileURL } = await import('node:url');
    const { EngineHost } = await import(pathToFileURL(process.env.EDGEFIT_TEST_HOST_JS).href);
    const { model, opts } = JSON.parse(process.env.EDGEFIT_TEST_HOST_START);
    try {
      await EngineHost.start(model, opts);
      console.log(JSON.stringify({ started: true }));
    } catch (e) {
      console.log(JSON.stringify({ code: e.code, message: e.message }));
    }`;
  // a file, not --input-type/-e: the worker would inherit the flag from the child's execArgv and refuse it
  const file = join(mkdtempSync(join(tmpdir(), 'edgefit-host-start-')), 'start.mjs');
  writeFileSync(file, script);
  const child = spawn(process.execPath, [file], {
    env: { ...process.env, ...env, EDGEFIT_TEST_HOST_JS: distModule('engine/host.js'), EDGEFIT_TEST_HOST_START: JSON.stringify({ model, opts }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve) => {
    const limit = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('close', (code) => { clearTimeout(limit); resolve({ code, out, err }); });
  });
}

describe('EngineHost whose model fails to load', () => {
  it.each([
    { load: 'fail', code: 'E_ENGINE_LOAD', message: /fault engine: load 1 fails/ },
    { load: 'exit', code: 'E_ENGINE_LOAD', message: /engine worker exited \(code 71\) while loading .*tiny\.onnx/ },
    // a load past loadTimeoutMs that a second attempt would get through: nothing may try that attempt
    { load: 'hang,ok', code: 'E_ENGINE_LOAD_TIMEOUT', message: /took longer than 2000 ms/ },
  ])('a start() that fails ($load) leaves no worker and restarts nothing: the process exits on its own after one load', async ({ load, code, message }) => {
    const counter = loadCounter();
    const r = await startInChild(
      { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 5000, loadTimeoutMs: 2000 },
      { EDGEFIT_TEST_FAULT_LOADS: load, EDGEFIT_TEST_FAULT_LOAD_COUNT: counter.file },
      90_000,
    );
    expect(r.code, `the child did not exit on its own; stderr: ${r.err}`).toBe(0);
    const answer = JSON.parse(r.out.trim()) as { code?: string; message?: string };
    expect(answer.code, answer.message).toBe(code);
    expect(answer.message).toMatch(message);
    expect(counter.loads()).toBe(1);
  }, 120_000);

  it.each([
    { load: 'exit', why: /^restart failed: engine worker exited \(code 71\) while loading .*tiny\.onnx$/ },
    { load: 'fail', why: /^restart failed: fault engine: load \d fails$/ },
  ])('a replacement worker whose load fails ($load) is tried again until the budget is spent, then degraded', async ({ load, why }) => {
    const counter = loadCounter();
    await withEnv({ EDGEFIT_TEST_FAULT_AFTER: '0', EDGEFIT_TEST_FAULT_LOADS: `ok,${load}`, EDGEFIT_TEST_FAULT_LOAD_COUNT: counter.file }, async () => {
      // the load timeout is only a backstop here: nothing may wait for it
      const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 30_000, loadTimeoutMs: 60_000, restartBudget: 3, restartWindowMs: 600_000 });
      const crashes: string[] = [];
      const degraded: string[] = [];
      const restarts: string[] = [];
      host.on('crash', (w: string) => crashes.push(w));
      host.on('degraded', (w: string) => degraded.push(w));
      host.on('restart', (w: string) => restarts.push(w));
      try {
        await expect(host.run(testFrame(32, 0))).rejects.toMatchObject({ code: 'E_ENGINE_CRASH' });
        // run() waits for the replacement, which ends only when the budget is spent
        await expect(host.run(testFrame(32, 1))).rejects.toMatchObject({ code: 'E_ENGINE_DEGRADED' });
        expect(host.degraded).toBe(true);
        expect(host.stats.restarts).toBe(3);
        expect(host.stats.crashes).toBe(4); // the run's crash and three failed loads
        expect(counter.loads()).toBe(4);
        expect(restarts).toEqual([]);
        expect(crashes[0]).toBe('engine worker exited with code 70');
        expect(crashes.slice(1)).toHaveLength(3);
        for (const c of crashes.slice(1)) expect(c).toMatch(why);
        expect(degraded).toHaveLength(1);
        expect(degraded[0]).toMatch(/^3 engine restarts within 600 s \(last: restart failed: /);
        expect([...crashes, ...degraded].join('\n')).not.toMatch(/took longer/);
      } finally {
        await host.close();
      }
    });
  }, 180_000);

  it('loads that fail slower than the restart window still spend the budget: degraded, not retried for ever', async () => {
    const counter = loadCounter();
    await withEnv({ EDGEFIT_TEST_FAULT_AFTER: '0', EDGEFIT_TEST_FAULT_LOADS: 'ok,fail', EDGEFIT_TEST_FAULT_LOAD_COUNT: counter.file }, async () => {
      // a 1 ms window: no two failed loads fall within it, as five 120 s load timeouts never fall within 60 s
      const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 30_000, loadTimeoutMs: 60_000, restartBudget: 3, restartWindowMs: 1 });
      const degraded: string[] = [];
      host.on('degraded', (w: string) => degraded.push(w));
      try {
        await expect(host.run(testFrame(32, 0))).rejects.toMatchObject({ code: 'E_ENGINE_CRASH' });
        await expect(host.run(testFrame(32, 1))).rejects.toMatchObject({ code: 'E_ENGINE_DEGRADED' });
        expect(counter.loads()).toBe(4);
        expect(degraded).toHaveLength(1);
        expect(degraded[0]).toMatch(/^3 failed loads in a row \(last: restart failed: fault engine: load \d fails\)$/);
      } finally {
        await host.close();
      }
    });
  }, 180_000);

  it('close() does not wait for a replacement that is still loading', async () => {
    const counter = loadCounter();
    await withEnv({ EDGEFIT_TEST_FAULT_AFTER: '0', EDGEFIT_TEST_FAULT_LOADS: 'ok,hang', EDGEFIT_TEST_FAULT_LOAD_COUNT: counter.file }, async () => {
      // a load that would take 10 minutes: a close() that waited for it would outlast this test's time-out
      const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 30_000, loadTimeoutMs: 600_000, restartBudget: 3 });
      const restarted = new Promise<void>((r) => host.once('crash', () => r()));
      const first = host.run(testFrame(32, 0)).catch((e: unknown) => e);
      await restarted;
      await waitFor(() => counter.loads() >= 2, 'the replacement loading', 30_000);
      await host.close();
      expect(await first).toMatchObject({ code: 'E_ENGINE_CRASH' });
      expect(host.stats.restarts).toBe(1);
    });
  }, 60_000);

  it('a replacement worker that exits while loading is tried again, and the next one runs', async () => {
    const counter = loadCounter();
    await withEnv({ EDGEFIT_TEST_FAULT_AFTER: '1', EDGEFIT_TEST_FAULT_LOADS: 'ok,exit,ok', EDGEFIT_TEST_FAULT_LOAD_COUNT: counter.file }, async () => {
      const host = await EngineHost.start(model, { ...faults, kind: 'fault-crash', providers: ['cpu'], threads: 1, timeoutMs: 30_000, loadTimeoutMs: 60_000, restartBudget: 5, restartWindowMs: 600_000 });
      const restarts: string[] = [];
      host.on('restart', (w: string) => restarts.push(w));
      try {
        const r = await runMany(host, 3); // 1 good, a crash, then (after one failed load) a good one again
        expect(r.errors).toEqual(['E_ENGINE_CRASH']);
        expect(r.ok).toBe(2);
        expect(counter.loads()).toBe(3);
        expect(host.stats.restarts).toBe(2);
        expect(host.stats.crashes).toBe(2);
        expect(host.degraded).toBe(false);
        expect(restarts).toEqual(['worker exited with code 70']);
      } finally {
        await host.close();
      }
    });
  }, 180_000);
});
