import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineHost } from '../../src/engine/host.js';
import { tinyClassifier, testFrame } from '../helpers/tiny-model.js';
import { faultEnginesModule } from '../helpers/fault-daemon.js';

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
