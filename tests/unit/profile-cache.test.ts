import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileCache, ortVersion, runtimeVersion, type AgreementKey, type CacheKey } from '../../src/profile/cache.js';
import { BUNDLED_RUNTIME, runtimeOf, type OrtRuntime } from '../../src/profile/runtime.js';
import { loadConfig } from '../../src/config/index.js';
import { projectRoot } from '../../src/util/paths.js';
import type { ProviderName } from '../../src/types/provider.js';
import type { Agreement } from '../../src/profile/types.js';
import { markedOrtPackage, stockOrtBin, stockOrtPackage } from '../helpers/marked-ort.js';
import { meas, failed } from './select-fixtures.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'edgefit-cache-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = (o: Partial<CacheKey> = {}): CacheKey => ({ board: 'pi4', sha256: 'a'.repeat(64), resolution: 160, ortVersion: '1.30.0', provider: 'cpu', threads: 4, ...o });

describe('ProfileCache', () => {
  it('persists atomically and hits only on the exact key', async () => {
    const path = join(dir, 'sub', 'profile.json');
    const c = new ProfileCache(path);
    expect(c.get(key())).toBeUndefined();
    await c.put(key(), meas('m', 12));
    const again = new ProfileCache(path);
    expect(again.get(key())?.latencyMs.p90).toBe(12);
    for (const change of [{ board: 'pi5' }, { sha256: 'b'.repeat(64) }, { resolution: 128 }, { ortVersion: '1.31.0' }, { provider: 'cuda' as const }, { threads: 1 }]) {
      expect(again.get(key(change)), JSON.stringify(change)).toBeUndefined();
    }
    expect(readdirSync(join(dir, 'sub'))).toEqual(['profile.json']); // no temp files left behind
  });

  it('records the best thread count', async () => {
    const c = new ProfileCache(join(dir, 'p.json'));
    await c.put(key({ threads: 1 }), meas('m', 20, { threads: 1 }));
    await c.put(key({ threads: 4 }), meas('m', 9, { threads: 4 }));
    const { threads: _t, ...tl } = key();
    expect(c.getBest(tl)).toBeUndefined();
    await c.putBest(tl, 4);
    expect(new ProfileCache(join(dir, 'p.json')).getBest(tl)?.threads).toBe(4);
    expect(c.bestList('pi4').map((e) => e.key.threads)).toEqual([4]);
    expect(c.bestList('other')).toEqual([]);
  });

  it('lists by board', async () => {
    const c = new ProfileCache(join(dir, 'p.json'));
    await c.put(key(), meas('m', 1));
    await c.put(key({ board: 'pi3' }), meas('m', 5));
    expect(c.boards()).toEqual(['pi3', 'pi4']);
    expect(c.list('pi3').map((e) => e.measurement.latencyMs.p90)).toEqual([5]);
    expect(c.list()).toHaveLength(2);
  });

  it('keeps NaN figures of a failed measurement through JSON', async () => {
    const c = new ProfileCache(join(dir, 'p.json'));
    await c.put(key(), failed('m', 'crashed'));
    const m = new ProfileCache(join(dir, 'p.json')).get(key())!;
    expect(m.ok).toBe(false);
    expect(Number.isNaN(m.latencyMs.p90)).toBe(true);
  });

  it('concurrent puts all land', async () => {
    const c = new ProfileCache(join(dir, 'p.json'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.put(key({ threads: i + 1 }), meas('m', i + 1))));
    expect(new ProfileCache(join(dir, 'p.json')).list()).toHaveLength(20);
  });

  it('an unreadable file: the local cache starts empty with a warning; --from-cache (strict) refuses it', async () => {
    const path = join(dir, 'p.json');
    writeFileSync(path, '{ not json');
    const c = new ProfileCache(path);
    expect(c.get(key())).toBeUndefined();
    expect(c.warning).toMatch(/unreadable/);
    await c.put(key(), meas('m', 3));
    expect(JSON.parse(readFileSync(path, 'utf8')).format).toBe('edgefit-profile-cache');
    writeFileSync(path, '{ not json');
    expect(() => new ProfileCache(path, { strict: true }).list()).toThrow(/not a readable edgefit profile cache/);
    expect(() => new ProfileCache(join(dir, 'missing.json'), { strict: true }).list()).toThrow(/cannot read the profile cache/);
  });

  it('drops malformed entries and refuses invalid keys', async () => {
    const path = join(dir, 'p.json');
    writeFileSync(path, JSON.stringify({ format: 'edgefit-profile-cache', version: 1, entries: { x: { key: { board: 'b' }, measurement: {} }, y: { key: key(), measurement: meas('m', 2) } }, best: {} }));
    expect(new ProfileCache(path).list()).toHaveLength(1);
    const c = new ProfileCache(path);
    expect(() => c.get(key({ sha256: 'nothex' }))).toThrow(/invalid profile cache key/);
    await expect(c.put(key({ threads: 0 }), meas('m', 1))).rejects.toThrow(/invalid profile cache key/);
  });

  it('keeps agreements beside the latency figures, keyed by rung, native resolution and probe set', async () => {
    const path = join(dir, 'p.json');
    const ak = (o: Partial<AgreementKey> = {}): AgreementKey => ({ board: 'pi4', sha256: 'a'.repeat(64), resolution: 192, nativeResolution: 224, ortVersion: '1.30.0', provider: 'cpu', probeSet: 'c'.repeat(64), ...o });
    const a: Agreement = { ok: true, nativeResolution: 224, frames: 9, agreeing: 7, probe: '/calib', probeSet: 'c'.repeat(64), measuredAt: '2024-01-01T00:00:00.000Z' };
    const c = new ProfileCache(path);
    await c.put(key({ resolution: 192 }), meas('m@192', 9));
    await c.putAgreement(ak(), a);
    const again = new ProfileCache(path);
    expect(again.getAgreement(ak())).toEqual(a);
    for (const change of [{ probeSet: 'd'.repeat(64) }, { nativeResolution: 256 }, { resolution: 160 }, { board: 'pi5' }, { provider: 'cuda' as const }, { ortVersion: '1.31.0' }]) {
      expect(again.getAgreement(ak(change)), JSON.stringify(change)).toBeUndefined();
    }
    expect(again.agreementList('pi4')).toHaveLength(1);
    expect(again.agreementList('pi5')).toHaveLength(0);
    expect(again.get(key({ resolution: 192 }))?.latencyMs.p90).toBe(9);
    await expect(c.putAgreement(ak({ probeSet: 'x' }), a)).rejects.toThrow(/invalid agreement cache key/);
    await expect(c.putAgreement(ak(), { ...a, agreeing: 10 })).rejects.toThrow(/invalid agreement/);
  });

  it('reads a file written before agreements existed as it always did (same format version, nothing to re-measure)', () => {
    const path = join(dir, 'old.json');
    writeFileSync(path, JSON.stringify({ format: 'edgefit-profile-cache', version: 1, entries: { y: { key: key(), measurement: meas('m', 2) } }, best: {} }));
    const c = new ProfileCache(path, { strict: true });
    expect(c.get(key())?.latencyMs.p90).toBe(2);
    expect(c.agreementList()).toEqual([]);
    // a malformed agreement is dropped, the rest stays
    writeFileSync(path, JSON.stringify({ format: 'edgefit-profile-cache', version: 1, entries: { y: { key: key(), measurement: meas('m', 2) } }, best: {}, agreements: { z: { key: { board: 'b' }, agreement: {} } } }));
    expect(new ProfileCache(path).agreementList()).toEqual([]);
    expect(new ProfileCache(path).list()).toHaveLength(1);
  });
});

describe('the runtime part of the key (runtimeVersion): the library measured on and TensorRT FP16', () => {
  const ORT: ProviderName[] = ['cpu', 'cuda', 'tensorrt'];
  const lib = (ortLibraryPath: string, trtFp16 = false): OrtRuntime => ({ ortLibraryPath, trtFp16 });
  /** a directory holding a build's binding and libonnxruntime (this machine's, linked), as a Jetson build is copied out */
  function binaryBuild(name: string): string {
    const d = join(dir, name);
    mkdirSync(d);
    for (const f of ['onnxruntime_binding.node', 'libonnxruntime.so.1']) symlinkSync(join(stockOrtBin, f), join(d, f));
    return d;
  }
  const config = (overrides: Record<string, unknown> = {}) =>
    loadConfig({ env: {}, overrides: { stateDir: join(dir, 'state'), ...overrides }, host: { hostname: 't', isRoot: false, home: dir } }).config;

  it('the bundled library keeps the key it always had: the default configuration finds the figures cached so far', () => {
    const bundled = (JSON.parse(readFileSync(join(stockOrtPackage, 'package.json'), 'utf8')) as { version: string }).version;
    expect(ortVersion()).toBe(bundled);
    for (const p of ORT) {
      expect(runtimeVersion(p), p).toBe(bundled);
      expect(runtimeVersion(p, '', BUNDLED_RUNTIME), p).toBe(bundled);
      expect(runtimeVersion(p, '', runtimeOf(config())), p).toBe(bundled);
    }
    // the recorded cache of an x64 board (written before the library was part of the key) is still hit
    const fixture = new ProfileCache(join(projectRoot, 'tests', 'fixtures', 'profile-cache-x64.json'), { strict: true });
    const e = fixture.list()[0]!;
    expect(fixture.get({ ...e.key, ortVersion: runtimeVersion(e.key.provider, '', runtimeOf(config())) })).toEqual(e.measurement);
  });

  it('engine.trtFp16 changes the key of tensorrt figures only', () => {
    const fp16 = runtimeOf(config({ 'engine.trtFp16': true }));
    expect(fp16.trtFp16).toBe(true);
    expect(runtimeVersion('tensorrt', '', fp16)).toBe(`${ortVersion()}_fp16`);
    expect(runtimeVersion('cpu', '', fp16)).toBe(ortVersion());
    expect(runtimeVersion('cuda', '', fp16)).toBe(ortVersion());
  });

  it('a custom library (engine.ortLibraryPath) is a key of its own, one per build', () => {
    const a = binaryBuild('build-a');
    const b = binaryBuild('build-b');
    const pkg = markedOrtPackage(join(dir, 'pkg'), join(dir, 'pkg.log'));
    const ka = runtimeVersion('cpu', '', lib(a));
    expect(ka).toMatch(new RegExp(`^${ortVersion().replace(/\./g, '\\.')}_lib-[0-9a-f]{12}$`));
    expect(runtimeVersion('cpu', '', lib(a))).toBe(ka);
    // the same build named by the configuration
    expect(runtimeVersion('cpu', '', runtimeOf(config({ 'engine.ortLibraryPath': a })))).toBe(ka);
    const keys = [ortVersion(), ka, runtimeVersion('cpu', '', lib(b)), runtimeVersion('cpu', '', lib(pkg))];
    expect(new Set(keys).size).toBe(4);
    // every provider of onnxruntime measured on it; TensorRT FP16 on top
    expect(runtimeVersion('cuda', '', lib(a))).toBe(ka);
    expect(runtimeVersion('tensorrt', '', lib(a, true))).toBe(`${ka}_fp16`);
    // a rebuild in place (a native file of the build changed) is another runtime
    writeFileSync(join(b, 'libonnxruntime_providers_tensorrt.so'), 'a provider library');
    const kb = runtimeVersion('cpu', '', lib(b));
    writeFileSync(join(b, 'libonnxruntime_providers_tensorrt.so'), 'the provider library rebuilt');
    expect(runtimeVersion('cpu', '', lib(b))).not.toBe(kb);
    // TensorFlow.js figures do not depend on onnxruntime
    expect(runtimeVersion('tfjs-wasm', '', lib(a, true))).toBe(runtimeVersion('tfjs-wasm'));
    // keys stay a topic level (fleet measurements are published one topic per key)
    for (const k of [...keys, `${ka}_fp16`]) expect(k).toMatch(/^[A-Za-z0-9._-]{1,64}$/);
  });

  it('a library that cannot be resolved still gets a key (its measurement fails in the child, and failures are not cached)', () => {
    const k = runtimeVersion('cpu', '', lib(join(dir, 'missing')));
    expect(k).toMatch(/^unresolved_lib-[0-9a-f]{12}$/);
    expect(k).not.toBe(runtimeVersion('cpu', '', lib(join(dir, 'missing-too'))));
  });
});
