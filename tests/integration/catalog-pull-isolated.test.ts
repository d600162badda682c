import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pullModelsIsolated } from '../../src/catalog/pull-isolated.js';
import { loadConfig } from '../../src/config/index.js';
import { sharedData } from '../../src/util/paths.js';
import { startHttpServer } from '../helpers/slow-http.js';
import { waitFor } from '../helpers/wait.js';

const work = mkdtempSync(join(tmpdir(), 'edgefit-pull-isolated-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const configFor = (stateDir: string, mirror = sharedData, more: Record<string, unknown> = {}) =>
  loadConfig({ env: {}, overrides: { stateDir, 'models.mirror': mirror, ...more }, host: { hostname: 't', isRoot: false, home: work } }).config;

describe('models pulled and converted in a child process (the daemon\'s pull-model)', () => {
  it('pulls and converts a model from a mirror directory: the report comes back, the files are in the state dir', async () => {
    const stateDir = join(work, 'a');
    const lines: string[] = [];
    const r = await pullModelsIsolated(configFor(stateDir), { only: ['mobilenet_v1-0.25-128-int8'] }, { log: (l) => lines.push(l) });
    expect(r.ok, JSON.stringify(r.items)).toBe(true);
    const m = r.items.find((i) => i.id === 'mobilenet_v1-0.25-128-int8')!;
    expect(m).toMatchObject({ status: 'downloaded', usable: true, convert: 'converted' });
    expect(existsSync(m.onnxPath!)).toBe(true);
  });

  it('an error of the pull keeps its code (unknown id, bad mirror) and says nothing secret', async () => {
    await expect(pullModelsIsolated(configFor(join(work, 'b')), { only: ['no-such-model'] })).rejects.toMatchObject({ code: 'E_CATALOG' });
    const bad = pullModelsIsolated(configFor(join(work, 'c'), 'https://ops:hunter2@127.0.0.1:9/'), { only: ['mobilenet_v1-0.25-128-int8'] });
    await expect(bad).rejects.toMatchObject({ code: 'E_MIRROR' });
    await expect(bad).rejects.not.toThrow(/hunter2/);
  });

  it('a child that dies mid-pull (a converter crash) is an E_PULL error, not a crash of the caller', async () => {
    const dying = join(work, 'dying.mjs');
    writeFileSync(dying, "process.stderr.write('converting...\\n'); process.kill(process.pid, 'SIGKILL');\n");
    await expect(pullModelsIsolated(configFor(join(work, 'd')), {}, { childScript: dying })).rejects.toMatchObject({
      code: 'E_PULL', message: expect.stringMatching(/ended with SIGKILL before answering \(converting\.\.\.\).*running model is unchanged/),
    });
  });

  it('a transfer that never ends (a mirror dripping bytes) is killed at models.pullTimeoutSeconds: E_PULL, the connection closed', async () => {
    const slow = await startHttpServer();
    try {
      const t0 = Date.now();
      const err = await pullModelsIsolated(configFor(join(work, 'e'), slow.url, { 'models.pullTimeoutSeconds': 2 }), { only: ['mobilenet_v1-0.25-128-int8'] }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_PULL', message: expect.stringMatching(/did not finish within 2 s \(models\.pullTimeoutSeconds\) and was killed.*running model is unchanged/) });
      // a generous "did not hang" bound: the per-file download timeout (300 s) would be the next thing to stop it
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(slow.requests.length).toBeGreaterThan(0);
      await waitFor(() => slow.open === 0, 'the killed pull to close its connection', 10_000);
    } finally {
      await slow.close();
    }
  });

  it('an abort (the daemon stopping) kills the pull at once: code `stopping`, the connection closed', async () => {
    const slow = await startHttpServer();
    try {
      const ac = new AbortController();
      const p = pullModelsIsolated(configFor(join(work, 'f'), slow.url), { only: ['mobilenet_v1-0.25-128-int8'] }, { signal: ac.signal }).catch((e: unknown) => e);
      await waitFor(() => slow.open > 0, 'the pull to connect', 30_000);
      ac.abort();
      expect(await p).toMatchObject({ code: 'E_STOPPING' });
      await waitFor(() => slow.open === 0, 'the killed pull to close its connection', 10_000);
    } finally {
      await slow.close();
    }
  });
});
