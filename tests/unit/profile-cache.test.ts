import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileCache, type AgreementKey, type CacheKey } from '../../src/profile/cache.js';
import type { Agreement } from '../../src/profile/types.js';
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
