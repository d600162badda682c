import { describe, it, expect, beforeAll } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/index.js';
import { pullModels, loadCatalog, validateCatalog, type Catalog } from '../../src/catalog/index.js';
import { buildLadder } from '../../src/catalog/ladder.js';
import { parseMirror } from '../../src/catalog/fetch.js';
import { importModel } from '../../src/importers/index.js';
import { OnnxBuilder } from '../../src/onnx/builder.js';
import { DataType, onnx } from '../../src/onnx/proto.js';
import { EdgefitError } from '../../src/util/errors.js';
import { makeFixture, sha256, snapshot, type Fixture } from './fixtures.js';
import { startHttpServer } from '../helpers/slow-http.js';
import { checkCommandMirror, catalogHosts } from '../../src/catalog/mirror-policy.js';

let fx: Fixture;
beforeAll(() => { fx = makeFixture(); });

/** A state directory alone in a fresh parent, so anything written beside it (a path that escaped) is seen. */
function isolatedState(): { parent: string; stateDir: string; config: Config } {
  const parent = mkdtempSync(join(tmpdir(), 'edgefit-sec-parent-'));
  const stateDir = join(parent, 'state');
  mkdirSync(stateDir);
  const config = loadConfig({ env: {}, overrides: { stateDir, 'models.catalog': fx.catalogPath }, host: { hostname: 't', isRoot: false, home: parent } }).config;
  return { parent, stateDir, config };
}

function catalogWith(edit: (c: Fixture['catalog']) => void): Catalog {
  const c = structuredClone(fx.catalog);
  edit(c);
  return { path: 'test', labels: c.labels as never, models: c.models as never };
}

function onnxWithExternal(location: string, opts: { flagged: boolean }): Uint8Array {
  const b = new OnnxBuilder('ext');
  const x = b.input('x', DataType.FLOAT, [1, 3, 8, 8]);
  const w = b.initializer('w', [1, 3, 8, 8], new Float32Array(192).fill(1));
  b.output(b.op('Add', [x, w]), DataType.FLOAT, [1, 3, 8, 8]);
  const m = b.toModel();
  const t = m.graph!.initializer![0]!;
  t.rawData = new Uint8Array();
  if (opts.flagged) t.dataLocation = 1;
  t.externalData = [{ key: 'location', value: location }, { key: 'offset', value: '0' }, { key: 'length', value: '768' }];
  return onnx.ModelProto.encode(m).finish();
}

describe('a catalog path that leaves its directory is refused before anything is written', () => {
  const bad = ['../evil.onnx', 'models/../../evil.onnx', '/etc/passwd', 'models\\..\\evil.onnx', './x.onnx', 'a//b.onnx', '..', 'models/%2e%2e/x.onnx', 'nul\u0000.onnx', ''];
  it.each(bad)('file %j: validateCatalog refuses it (E_CATALOG) and says nothing was written', (file) => {
    const c = structuredClone(fx.catalog);
    c.models[0]!.file = file;
    let err: unknown;
    try { validateCatalog(c, 'test'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(EdgefitError);
    expect((err as EdgefitError).code).toBe('E_CATALOG');
    expect((err as Error).message).toMatch(/models\[0\]\.file must be a relative path.*\n.*nothing was downloaded or written/s);
  });

  it('and pullModels with an unvalidated catalog object (model or labels entry) still refuses at the path join', async () => {
    for (const edit of [
      (c: Fixture['catalog']) => { c.models[0]!.file = '../../escaped.onnx'; },
      (c: Fixture['catalog']) => { c.labels[0]!.file = '../escaped.txt'; },
    ]) {
      const { parent, stateDir, config } = isolatedState();
      const err = await pullModels(config, { catalog: catalogWith(edit), mirror: fx.mirror }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EdgefitError);
      expect((err as EdgefitError).code).toBe('E_CATALOG_PATH');
      expect(readdirSync(parent)).toEqual(['state']);
      expect(snapshot(stateDir)).toEqual({});
    }
  });
});

describe('model files that are wrong never replace anything and never leave the state directory', () => {
  it('wrong sha256, truncated file, a file that is not a model: refused; the last good copy keeps running', async () => {
    const { parent, stateDir, config } = isolatedState();
    const first = await pullModels(config, { mirror: fx.mirror, only: [fx.ids.good] });
    expect(first.ok).toBe(true);
    const before = snapshot(stateDir);

    // a mirror whose copy of the good model is truncated, and whose spare model is not a model at all
    const evil = mkdtempSync(join(tmpdir(), 'edgefit-sec-evil-'));
    mkdirSync(join(evil, 'models'));
    mkdirSync(join(evil, 'labels'));
    writeFileSync(join(evil, 'models', `${fx.ids.good}.onnx`), fx.bytes[fx.ids.good]!.subarray(0, 100));
    writeFileSync(join(evil, 'models', `${fx.ids.spare}.onnx`), 'this is not a model\n');
    const r = await pullModels(config, { mirror: evil, only: [fx.ids.good, fx.ids.spare], force: true });
    expect(r.ok).toBe(false);
    const good = r.items.find((i) => i.id === fx.ids.good)!;
    expect(good.status).toBe('failed');
    expect(good.usable).toBe(true); // the earlier verified copy is kept
    expect(good.error).toMatch(/the file's sha256 does not match the catalog's [0-9a-f]{64}/);
    const spare = r.items.find((i) => i.id === fx.ids.spare)!;
    expect(spare).toMatchObject({ status: 'failed', usable: false });
    expect(snapshot(stateDir)).toEqual(before);

    // a catalog that vouches for a non-model (the sha256 matches): downloaded, but it never becomes a rung
    const junk = new TextEncoder().encode('not a model either\n');
    writeFileSync(join(evil, 'models', 'junk.onnx'), junk);
    const cat = catalogWith((c) => { c.models.push({ ...c.models[0]!, id: 'junk', file: 'models/junk.onnx', sha256: sha256(junk), size: junk.length }); });
    const j = await pullModels(config, { catalog: cat, mirror: evil, only: ['junk'] });
    expect(j.items.find((i) => i.id === 'junk')).toMatchObject({ status: 'downloaded', convert: 'failed' });
    expect(j.items.find((i) => i.id === 'junk')!.convertError).toMatch(/not a readable ONNX model/);
    const ladder = await buildLadder(config, { catalog: cat });
    expect(ladder.map((v) => v.id)).toEqual([fx.ids.good]);
    expect(readdirSync(parent)).toEqual(['state']);
  });

  it('mirrors: credentials in a URL refused without echoing the password; file:///etc reads only catalog names and writes nothing', async () => {
    const e = (() => { try { parseMirror('https://ops:hunter2@mirror.lan/models/'); } catch (err) { return err as EdgefitError; } return undefined; })();
    expect(e?.code).toBe('E_MIRROR');
    expect(e?.message).not.toContain('hunter2');
    expect(e?.message).toMatch(/credentials/);
    const { parent, stateDir, config } = isolatedState();
    const r = await pullModels(config, { mirror: 'file:///etc', only: [fx.ids.good] });
    expect(r.ok).toBe(false);
    expect(r.items.every((i) => i.status === 'failed' && !i.usable)).toBe(true);
    expect(snapshot(stateDir)).toEqual({});
    expect(readdirSync(parent)).toEqual(['state']);
    expect(() => loadCatalog(join(parent, 'nope.json'))).toThrow(EdgefitError);
  });
});

describe('ONNX with external data is refused, whatever the path says', () => {
  const locations = ['../../etc/passwd', '/etc/passwd', 'weights.bin', '..\\..\\windows\\win.ini', 'a/../../../../etc/shadow'];
  it.each(locations)('location %j: E_ONNX_EXTERNAL at import, nothing read', async (loc) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-sec-ext-'));
    for (const flagged of [true, false]) {
      const p = join(dir, `m-${flagged}.onnx`);
      writeFileSync(p, onnxWithExternal(loc, { flagged }));
      const err = await importModel(p).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(EdgefitError);
      expect((err as EdgefitError).code).toBe('E_ONNX_EXTERNAL');
      expect((err as Error).message).toMatch(/self-contained/);
    }
  });

  it('and through a catalog pull (the sha256 matches): downloaded, conversion refused, no .onnx written, not on the ladder', async () => {
    const bytes = onnxWithExternal('../../etc/passwd', { flagged: true });
    const m = mkdtempSync(join(tmpdir(), 'edgefit-sec-extm-'));
    mkdirSync(join(m, 'models'));
    writeFileSync(join(m, 'models', 'ext.onnx'), bytes);
    const cat = catalogWith((c) => { c.models = [{ ...c.models[0]!, id: 'ext', file: 'models/ext.onnx', sha256: sha256(bytes), size: bytes.length }]; });
    const { parent, stateDir, config } = isolatedState();
    const r = await pullModels(config, { catalog: cat, mirror: m });
    const item = r.items.find((i) => i.id === 'ext')!;
    expect(item).toMatchObject({ status: 'downloaded', convert: 'failed' });
    expect(item.convertError).toMatch(/external file \(\.\.\/\.\.\/etc\/passwd\)/);
    expect(Object.keys(snapshot(stateDir)).filter((p) => p.includes('/onnx/'))).toEqual([]);
    expect(await buildLadder({ ...config, models: { ...config.models, allowZooFallback: false } }, { catalog: cat })).toEqual([]);
    expect(readdirSync(parent)).toEqual(['state']);
  });
});

describe('a foreign server\'s answer never comes back in an error (a pull-model reply goes to whoever asked)', () => {
  it('reason phrases, bodies, announced sizes, reset reasons and the digest of what was served: none is in the report', async () => {
    const served = 'SECRET-CONTENT: aws_secret_access_key=abc123 (what an internal service answered)';
    const server = await startHttpServer((req, res) => {
      const url = req.url ?? '';
      if (url.endsWith('tiny-good.onnx')) { res.writeHead(404, 'SECRET-REASON-PHRASE', { 'content-type': 'text/plain' }); res.end('SECRET-BODY'); return; }
      if (url.endsWith('tiny-spare.onnx')) { res.writeHead(200); res.end(served); return; }
      if (url.endsWith('tiny-bomb.onnx')) { res.writeHead(200, { 'content-length': '123456789012' }); res.end(); return; }
      if (url.endsWith('tiny-failing.onnx')) { res.socket?.destroy(); return; }
      res.writeHead(500, 'SECRET-LABELS-PHRASE'); res.end('SECRET');
    });
    try {
      const { config } = isolatedState();
      const r = await pullModels(config, { mirror: server.url, convert: false });
      expect(r.ok).toBe(false);
      const text = JSON.stringify(r);
      expect(text).not.toMatch(/SECRET|123456789012/);
      expect(text).not.toContain(sha256(served));
      const by = (id: string) => r.items.find((i) => i.id === id)!.error;
      expect(by(fx.ids.good)).toMatch(/tiny-good\.onnx: HTTP 404$/);
      expect(by(fx.ids.spare)).toMatch(/the file's sha256 does not match the catalog's [0-9a-f]{64} \(corrupt or different file\); refused$/);
      expect(by(fx.ids.bomb)).toMatch(/announces a size over the limit/);
      expect(by(fx.ids.failing)).toMatch(/tiny-failing\.onnx: connection failed( \([A-Z0-9_]+\))?$/);
      expect(server.requests.length).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  });
});

describe('pull-model mirrors: the configured one or the catalog\'s hosts, unless models.allowAnyUrl', () => {
  const cat = (): Catalog => ({ path: 'test', labels: [], models: [{ ...(fx.catalog.models[0] as never as Catalog['models'][number]), urls: ['https://github.com/google-coral/test_data/raw/master/x.tflite', 'https://Storage.Example.org:8443/m/x.tflite'] }] });
  const cfg = (models: Record<string, unknown>) => { const { config } = isolatedState(); return { ...config, models: { ...config.models, ...models } }; };
  const refused = (f: () => unknown) => { try { f(); } catch (e) { return e as EdgefitError; } return undefined; };

  it('allows: the configured mirror (however it is spelled), an https URL on a catalog host; refuses everything else, naming what is allowed', () => {
    expect(catalogHosts(cat())).toEqual(['github.com', 'storage.example.org:8443']);
    const c = cfg({ mirror: 'http://mirror.lan:8080/edgefit' });
    expect(checkCommandMirror('http://mirror.lan:8080/edgefit/', c, cat())).toMatchObject({ kind: 'url' });
    expect(checkCommandMirror('https://github.com/my-fork/', c, cat())).toMatchObject({ kind: 'url' });
    expect(checkCommandMirror('https://storage.example.org:8443/other/', c, cat())).toMatchObject({ kind: 'url' });
    for (const m of ['http://github.com/', 'https://github.com:444/', 'https://github.com.evil.example/', 'http://169.254.169.254/latest/', 'http://127.0.0.1:9/', 'http://mirror.lan:8081/edgefit/', '/etc', '/tmp/../etc']) {
      const e = refused(() => checkCommandMirror(m, c, cat()));
      expect(e?.code, m).toBe('E_MIRROR_NOT_ALLOWED');
      expect(e?.message).toMatch(/use the configured models\.mirror \(http:\/\/mirror\.lan:8080\/edgefit\/\) or an https URL on github\.com, storage\.example\.org:8443, or set models\.allowAnyUrl/);
    }
    const d = cfg({ mirror: '/srv/mirror' });
    expect(checkCommandMirror('/srv/../srv/mirror', d, cat())).toMatchObject({ kind: 'dir', root: '/srv/mirror' });
    expect(refused(() => checkCommandMirror('/srv/other', d, cat()))?.code).toBe('E_MIRROR_NOT_ALLOWED');
    // credentials are refused as before, without the password
    const e = refused(() => checkCommandMirror('https://ops:hunter2@github.com/', c, cat()));
    expect(e?.code).toBe('E_MIRROR');
    expect(e?.message).not.toContain('hunter2');
  });

  it('models.allowAnyUrl lets any mirror through', () => {
    const c = cfg({ allowAnyUrl: true });
    expect(checkCommandMirror('http://127.0.0.1:9/', c, cat())).toMatchObject({ kind: 'url' });
    expect(checkCommandMirror('/srv/other', c, cat())).toMatchObject({ kind: 'dir' });
  });
});
