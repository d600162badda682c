import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { profileVariant } from '../../src/profile/profiler.js';
import { failureKind } from '../../src/profile/failure.js';
import { ProfileCache, ortVersion } from '../../src/profile/cache.js';
import { measureCandidate, bestOf } from '../../src/profile/measure.js';
import { searchAndSelect, bruteForceSelect, specsFor } from '../../src/select/search.js';
import { convVariant, writeVariant } from './profile-models.js';
import type { Variant } from '../../src/catalog/types.js';

const quick = { warmupRuns: 1, warmupMs: 20, minRuns: 5, minMs: 50 };
let dir: string;
let small: Variant;
let wide: Variant;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefit-profile-'));
  small = convVariant(dir, 8, 32);
  wide = convVariant(dir, 128, 64);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('profileVariant (real onnxruntime sessions in a child process)', () => {
  it('measures latency percentiles, session creation and memory', async () => {
    const phases: string[] = [];
    const m = await profileVariant(small, { ...quick, threads: 1, onProgress: (p) => phases.push(p.phase) });
    expect(m.ok, m.error).toBe(true);
    expect(m.variantId).toBe(small.id);
    expect(m.provider).toBe('cpu');
    expect(m.threads).toBe(1);
    expect(m.runs).toBeGreaterThanOrEqual(5);
    const l = m.latencyMs;
    expect(l.min).toBeGreaterThan(0);
    expect(l.min).toBeLessThanOrEqual(l.p50);
    expect(l.p50).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.stddev).toBeGreaterThanOrEqual(0);
    expect(m.sessionCreateMs).toBeGreaterThan(0);
    expect(m.rssGrowthMb).toBeGreaterThanOrEqual(0);
    expect(m.peakMb).toBeGreaterThanOrEqual(m.rssGrowthMb);
    expect(phases).toEqual(expect.arrayContaining(['load', 'warmup', 'runs']));
  });

  it('honours the minimum run count', async () => {
    const m = await profileVariant(small, { warmupMs: 0, warmupRuns: 1, minRuns: 37, minMs: 0.001, threads: 1 });
    expect(m.ok, m.error).toBe(true);
    expect(m.runs).toBeGreaterThanOrEqual(37);
  });

  it('an invalid model is ok:false "load failed", not a throw', async () => {
    const bad = writeVariant(dir, 'garbage', new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    const m = await profileVariant(bad, quick);
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/^load failed: /);
    expect(failureKind(m)).toBe('load');
    expect(Number.isNaN(m.latencyMs.p90)).toBe(true);
  });

  it('a native crash (abort) kills the child, not the caller', async () => {
    const m = await profileVariant(small, { ...quick, fault: 'abort' });
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/^crashed: the profiler child killed by SIGABRT while creating the session/);
    expect(failureKind(m)).toBe('crash');
  });

  it('a runaway allocation is killed at the memory limit', async () => {
    const m = await profileVariant(small, { ...quick, fault: 'leak', memoryLimitMb: 150, timeoutMs: 60_000 });
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/^out of memory budget: resident memory grew [\d.]+ MB over the child's baseline .* past the 150 MB limit; killed/);
    expect(failureKind(m)).toBe('out-of-memory');
    expect(m.peakMb).toBeGreaterThan(150);
  });

  it('a real model that needs more memory than the limit is ok:false; the same model under a generous limit is ok', async () => {
    const roomy = await profileVariant(wide, { ...quick, threads: 1, memoryLimitMb: 1000 });
    expect(roomy.ok, roomy.error).toBe(true);
    expect(roomy.peakMb).toBeGreaterThan(1);
    const tight = await profileVariant(wide, { ...quick, threads: 1, memoryLimitMb: 1 });
    expect(tight.ok).toBe(false);
    expect(failureKind(tight)).toBe('out-of-memory');
  });

  it('a hang is killed at the timeout', async () => {
    const m = await profileVariant(small, { ...quick, fault: 'hang', timeoutMs: 2500 });
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/^timed out after 2500 ms while (starting onnxruntime|creating the session); /);
  });

  it('an abort (the daemon stopping) kills a hung child at once and rejects with stopping, not a failed measurement', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const run = profileVariant(small, { ...quick, fault: 'hang', timeoutMs: 60_000, signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    await expect(run).rejects.toMatchObject({ code: 'E_STOPPING' });
    // long before the 60 s timeout: what matters is that the abort, not the timer, ended it
    expect(Date.now() - t0).toBeLessThan(30_000);
    await expect(profileVariant(small, { ...quick, signal: ac.signal })).rejects.toMatchObject({ code: 'E_STOPPING' });
  });

  it('a missing model file and bad options', async () => {
    const m = await profileVariant({ ...small, modelPath: join(dir, 'nope.onnx') }, quick);
    expect(m.ok).toBe(false);
    expect(m.error).toMatch(/does not exist/);
    await expect(profileVariant(small, { threads: 0 })).rejects.toThrow(/threads must be a whole number > 0/);
    await expect(profileVariant(small, { minRuns: 1.5 })).rejects.toThrow(/minRuns/);
  });
});

describe('measureCandidate with the cache', () => {
  it('measures each thread count once, records the best, and re-measures when the key changes', async () => {
    const cache = new ProfileCache(join(dir, 'cache.json'));
    let spawned = 0;
    const opts = { board: 'test-board-a', cache, cores: 3, profile: quick, onProgress: (p: { cached: boolean; measurement?: unknown }) => { if (!p.cached && p.measurement) spawned++; } };
    const first = await measureCandidate({ variant: small, provider: 'cpu' }, opts);
    expect(first.map((m) => m.threads)).toEqual([1, 2, 3]);
    expect(spawned).toBe(3);
    const best = bestOf(first)!;
    const key = { board: 'test-board-a', sha256: small.sha256, resolution: small.resolution, ortVersion: ortVersion(), provider: 'cpu' as const };
    expect(cache.getBest(key)).toEqual(best);

    // a fresh cache object reads the file: all hits, no child
    const again = await measureCandidate({ variant: small, provider: 'cpu' }, { ...opts, cache: new ProfileCache(join(dir, 'cache.json')) });
    expect(spawned).toBe(3);
    expect(again).toEqual(first);

    // another board, another runtime version, another model: misses
    await measureCandidate({ variant: small, provider: 'cpu' }, { ...opts, board: 'test-board-b', threads: 1 });
    expect(spawned).toBe(4);
    await measureCandidate({ variant: small, provider: 'cpu' }, { ...opts, ortVersion: '9.9.9', threads: 1 });
    expect(spawned).toBe(5);
    await measureCandidate({ variant: small, provider: 'cpu' }, { ...opts, threads: 1 });
    expect(spawned).toBe(5);
    const changed = writeVariant(dir, small.id, readFileSync(small.modelPath), { sha256: 'f'.repeat(64) });
    await measureCandidate({ variant: changed, provider: 'cpu' }, { ...opts, threads: 1 });
    expect(spawned).toBe(6);
    // the same file fed at another resolution (symbolic H/W) is another rung: a miss
    await measureCandidate({ variant: { ...small, resolution: 24 }, provider: 'cpu' }, { ...opts, threads: 1 });
    expect(spawned).toBe(7);
  });

  it('a failed measurement is not cached', async () => {
    const cache = new ProfileCache(join(dir, 'cache-fail.json'));
    const bad = writeVariant(dir, 'garbage2', new Uint8Array([9, 9, 9]));
    const [m] = await measureCandidate({ variant: bad, provider: 'cpu' }, { board: 'b', cache, threads: 1, profile: quick });
    expect(m!.ok).toBe(false);
    expect(cache.list()).toHaveLength(0);
  });
});

describe('search on a real conv chain', () => {
  it('picks what brute force picks, from the same real measurements, measuring fewer', async () => {
    const chain = [8, 16, 32, 48, 64].map((w) => convVariant(dir, w, 48));
    const cache = new ProfileCache(join(dir, 'chain.json'));
    const opts = { board: 'chain-board', cache, threads: 1, profile: { warmupRuns: 1, warmupMs: 20, minRuns: 15, minMs: 100 } };
    const specs = specsFor(chain);
    const { decision: all } = await bruteForceSelect(specs, {}, (s) => measureCandidate(s, opts));
    for (const r of all.rejected) expect(r.reason, r.detail).toBe('dominated');
    expect(all.chosen?.id).toBe('convnet-w64-r48@cpu');
    // budgets placed between the measured rungs (and outside them): no wall-clock constant in the test
    const p90s = specs.map((s) => cache.get({ board: 'chain-board', sha256: s.variant.sha256, resolution: s.variant.resolution, ortVersion: ortVersion(), provider: 'cpu', threads: 1 })!.latencyMs.p90);
    const sorted = [...p90s].sort((a, b) => a - b);
    const budgets = [sorted[0]! / 2, ...sorted.map((x, i) => (i + 1 < sorted.length ? (x + sorted[i + 1]!) / 2 : x * 2))];
    for (const latencyMs of budgets) {
      let measured = 0;
      const { decision: s } = await searchAndSelect(specs, { latencyMs }, (c) => { measured++; return measureCandidate(c, opts); });
      const { decision: b } = await bruteForceSelect(specs, { latencyMs }, (c) => measureCandidate(c, opts));
      // brute force on real figures; the search agrees wherever the chain's measured latency is monotone
      const monotone = p90s.every((x, i) => i === 0 || x >= p90s[i - 1]!);
      if (monotone) expect(s.chosen?.id ?? null).toBe(b.chosen?.id ?? null);
      expect(s.measured).toBe(measured);
      expect(s.measured).toBeLessThanOrEqual(specs.length);
    }
  });
});

