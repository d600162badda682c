import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { projectRoot } from '../../src/util/paths.js';
import { loadConfig } from '../../src/config/index.js';
import { defaultCatalogPath } from '../../src/catalog/catalog.js';
import { loadConfiguredCatalog, SIGNATURE_CONTEXT } from '../../src/catalog/signature.js';
import { EdgefitError } from '../../src/util/errors.js';

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'edgefit-sig-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), ...args], { encoding: 'utf8', env: { ...process.env, EDGEFIT_CONFIG: '' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** The shipped catalog with a catalogVersion: what a publisher would release. */
function release(dir: string, version: number, extra: Record<string, unknown> = {}): string {
  const data = JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as Record<string, unknown>;
  const path = join(dir, 'catalog.json');
  writeFileSync(path, JSON.stringify({ ...data, catalogVersion: version, ...extra }, null, 2));
  return path;
}

function deviceConfig(stateDir: string, catalog: string, publicKey: string) {
  return loadConfig({ env: {}, overrides: { stateDir, 'models.catalog': catalog, 'models.publicKey': publicKey }, host: { hostname: 't', isRoot: false, home: work } }).config;
}

async function refusal(p: Promise<unknown>): Promise<EdgefitError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(EdgefitError);
  return e as EdgefitError;
}

describe('signed catalogs (Ed25519, node:crypto)', () => {
  it('keygen -> sign -> verify through the CLI; a device with models.publicKey accepts it and refuses what is not signed by its key', async () => {
    const dir = mkdtempSync(join(work, 'pub-'));
    const keys = cli('catalog', 'keygen', '--out', dir);
    expect(keys.code, keys.err).toBe(0);
    const priv = join(dir, 'edgefit-catalog.key.pem');
    const pub = join(dir, 'edgefit-catalog.pub.pem');
    expect(statSync(priv).mode & 0o777).toBe(0o600);
    const catalog = release(dir, 3);
    const signed = cli('catalog', 'sign', '--key', priv, '--catalog', catalog);
    expect(signed.code, signed.err).toBe(0);
    const sig = JSON.parse(readFileSync(`${catalog}.sig`, 'utf8')) as Record<string, unknown>;
    expect(sig).toMatchObject({ format: 'edgefit-catalog-signature', version: 1, algorithm: 'ed25519', catalogVersion: 3 });
    const ok = cli('catalog', 'verify', '--key', pub, '--catalog', catalog);
    expect(ok.code, ok.err).toBe(0);
    expect(ok.out).toMatch(/^ok: .*catalogVersion 3/);

    const state = mkdtempSync(join(work, 'dev-'));
    const got = await loadConfiguredCatalog(deviceConfig(state, catalog, pub));
    expect(got.verified?.catalogVersion).toBe(3);
    expect(got.models.length).toBeGreaterThan(0);

    // another key: the signature is not by the configured key
    const other = mkdtempSync(join(work, 'other-'));
    expect(cli('catalog', 'keygen', '--out', other).code).toBe(0);
    const bad = cli('catalog', 'verify', '--key', join(other, 'edgefit-catalog.pub.pem'), '--catalog', catalog);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/E_SIGNATURE|signed by key/);
    expect((await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, join(other, "edgefit-catalog.pub.pem"))))).code).toBe('E_SIGNATURE');
  });

  it('a signature over a different catalog, a missing signature, a garbled one: refused with E_SIGNATURE', async () => {
    const dir = mkdtempSync(join(work, 'tamper-'));
    expect(cli('catalog', 'keygen', '--out', dir).code).toBe(0);
    const priv = join(dir, 'edgefit-catalog.key.pem');
    const pub = join(dir, 'edgefit-catalog.pub.pem');
    const catalog = release(dir, 5);
    expect(cli('catalog', 'sign', '--key', priv, '--catalog', catalog).code).toBe(0);
    const state = mkdtempSync(join(work, 'dev-'));
    // one byte of content changed after signing (a model's sha256 swapped for an attacker's)
    const text = readFileSync(catalog, 'utf8');
    writeFileSync(catalog, text.replace(/"sha256": "([0-9a-f])/, (_m, c: string) => `"sha256": "${c === '0' ? '1' : '0'}`));
    const e = await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, pub)));
    expect(e.code).toBe('E_SIGNATURE');
    expect(e.message).toMatch(/made over a different catalog/);
    writeFileSync(catalog, text);
    await loadConfiguredCatalog(deviceConfig(state, catalog, pub));
    // garbled signature
    const sig = JSON.parse(readFileSync(`${catalog}.sig`, 'utf8')) as Record<string, string>;
    const flipped = Buffer.from(sig.signature!, 'base64'); flipped[10]! ^= 1;
    writeFileSync(`${catalog}.sig`, JSON.stringify({ ...sig, signature: flipped.toString('base64') }));
    expect((await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, pub)))).message).toMatch(/does not verify/);
    writeFileSync(`${catalog}.sig`, '{"format":"nope"}');
    expect((await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, pub)))).code).toBe('E_SIGNATURE');
    rmSync(`${catalog}.sig`);
    const missing = await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, pub)));
    expect(missing.message).toMatch(/is not signed/);
    // the context string: a bare Ed25519 signature of the same bytes (another use of the key) does not verify
    const { createPrivateKey, sign } = await import('node:crypto');
    const bare = sign(null, readFileSync(catalog), createPrivateKey(readFileSync(priv, 'utf8')));
    writeFileSync(`${catalog}.sig`, JSON.stringify({ ...sig, signature: bare.toString('base64') }));
    expect((await refusal(loadConfiguredCatalog(deviceConfig(state, catalog, pub)))).code).toBe('E_SIGNATURE');
    expect(SIGNATURE_CONTEXT).toContain('edgefit catalog');
  });

  it('versions only go up: an older signed catalog is refused as a replay, and a version is never reused', async () => {
    const dir = mkdtempSync(join(work, 'replay-'));
    expect(cli('catalog', 'keygen', '--out', dir).code).toBe(0);
    const priv = join(dir, 'edgefit-catalog.key.pem');
    const pub = join(dir, 'edgefit-catalog.pub.pem');
    const state = mkdtempSync(join(work, 'dev-'));
    const sign = (v: number, extra: Record<string, unknown> = {}) => {
      const c = release(dir, v, extra);
      expect(cli('catalog', 'sign', '--key', priv, '--catalog', c).code).toBe(0);
      return { bytes: readFileSync(c), sig: readFileSync(`${c}.sig`), path: c };
    };
    const v7 = sign(7);
    const v6 = sign(6);
    const install = (x: { bytes: Buffer; sig: Buffer; path: string }) => { writeFileSync(x.path, x.bytes); writeFileSync(`${x.path}.sig`, x.sig); };
    install(v7);
    expect((await loadConfiguredCatalog(deviceConfig(state, v7.path, pub))).verified?.catalogVersion).toBe(7);
    // the same catalog again (every start reads it): accepted
    await loadConfiguredCatalog(deviceConfig(state, v7.path, pub));
    install(v6);
    const e = await refusal(loadConfiguredCatalog(deviceConfig(state, v6.path, pub)));
    expect(e.code).toBe('E_CATALOG_REPLAY');
    expect(e.message).toMatch(/catalogVersion 6, older than version 7/);
    const reuse = sign(7, { description: 'something else' });
    install(reuse);
    expect((await refusal(loadConfiguredCatalog(deviceConfig(state, reuse.path, pub)))).message).toMatch(/reuses catalogVersion 7/);
    install(sign(8));
    expect((await loadConfiguredCatalog(deviceConfig(state, v7.path, pub))).verified?.catalogVersion).toBe(8);
  });

  it('sign refuses a catalog without catalogVersion; without models.publicKey nothing is checked', async () => {
    const dir = mkdtempSync(join(work, 'nov-'));
    expect(cli('catalog', 'keygen', '--out', dir).code).toBe(0);
    const path = join(dir, 'catalog.json');
    writeFileSync(path, readFileSync(defaultCatalogPath));
    const r = cli('catalog', 'sign', '--key', join(dir, 'edgefit-catalog.key.pem'), '--catalog', path);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/no "catalogVersion"/);
    const state = mkdtempSync(join(work, 'dev-'));
    expect((await loadConfiguredCatalog(deviceConfig(state, path, ''))).verified).toBeUndefined();
  });
});
