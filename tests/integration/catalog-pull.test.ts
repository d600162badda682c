import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, relative, dirname } from 'node:path';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as ort from 'onnxruntime-node';
import { sharedData } from '../../src/util/paths.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { pullModels, loadCatalog, loadImporter, type Catalog, type PullItem } from '../../src/catalog/index.js';
import { EdgefitError } from '../../src/util/errors.js';

/** sha256 sums of the shared data, the same ones the catalog must carry. */
const manifest = new Map(readFileSync(join(sharedData, 'MANIFEST.sha256'), 'utf8').trim().split('\n').map((l) => {
  const [h, p] = l.split(/\s+/);
  return [p!, h!] as const;
}));

/**
 * A static server over the shared data: /files/<path> serves a file, /redir/<path> answers 302 to /files/<path>.
 * Paths in `corrupt` are served with one byte flipped.
 */
class Mirror {
  readonly corrupt = new Set<string>();
  requests = 0;
  private server!: Server;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.requests++;
      const url = new URL(req.url ?? '/', 'http://x');
      const m = /^\/(files|redir)\/(.+)$/.exec(decodeURIComponent(url.pathname));
      const full = m ? resolve(sharedData, m[2]!) : '';
      if (!m || relative(sharedData, full).startsWith('..') || !existsSync(full) || !statSync(full).isFile()) {
        res.writeHead(404).end('not found');
        return;
      }
      if (m[1] === 'redir') {
        res.writeHead(302, { location: `/files/${m[2]}` }).end();
        return;
      }
      if (this.corrupt.has(m[2]!)) {
        const bytes = readFileSync(full);
        bytes[bytes.length >> 1] ^= 0x01;
        res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
        return;
      }
      res.writeHead(200, { 'content-length': statSync(full).size });
      createReadStream(full).pipe(res);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const server = new Mirror();
let work: string;
let importerPresent = false;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'edgefit-catalog-'));
  await server.start();
  importerPresent = (await loadImporter()) !== undefined;
});
afterAll(async () => {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
});

function configFor(stateDir: string, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ env: {}, overrides: { stateDir, ...overrides }, host: { hostname: 't', isRoot: false, home: work } }).config;
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file below dir (temp files included), relative. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).filter((p) => statSync(join(dir, p)).isFile()).sort();
}

function item(items: PullItem[], id: string): PullItem {
  const i = items.find((x) => x.id === id);
  if (!i) throw new Error(`no item ${id}`);
  return i;
}

const small = 'mobilenet_v1-0.25-128-int8';

describe('the shipped catalog', () => {
  it('lists the 5 Coral models, the Keras model and the person detector with the manifest sha256 sums', () => {
    const c = loadCatalog();
    expect(c.models.filter((m) => m.format === 'tflite' && m.task === 'imagenet')).toHaveLength(5);
    expect(c.models.filter((m) => m.format === 'keras' && m.task === 'imagenet')).toHaveLength(1);
    const person = c.models.filter((m) => m.task === 'person');
    expect(person.length).toBeGreaterThanOrEqual(1);
    for (const p of person) expect(p.labels).toBe('vww');
    for (const e of [...c.models, ...c.labels]) {
      expect(manifest.get(e.file), e.file).toBe(e.sha256);
      expect(e.size).toBe(statSync(join(sharedData, e.file)).size);
    }
    for (const m of c.models.filter((x) => x.task === 'imagenet' && x.format === 'tflite')) expect(m.referenceAccuracy).toBeGreaterThan(0.35);
  });
});

describe('models pull from an HTTP mirror', () => {
  it('downloads, verifies, stores atomically and converts every model once', async () => {
    const stateDir = join(work, 'full');
    const config = configFor(stateDir, { 'models.mirror': `${server.base}/files/` });
    const lines: string[] = [];
    const r = await pullModels(config, { log: (l) => lines.push(l) });
    const catalog = loadCatalog();
    for (const e of [...catalog.labels, ...catalog.models]) {
      const i = item(r.items, e.id);
      expect(i.usable, `${e.id}: ${i.error ?? ''}`).toBe(true);
      expect(i.status).toBe('downloaded');
      expect(sha(i.path)).toBe(e.sha256);
      expect(i.path.startsWith(join(stateDir, 'models', 'download') + '/')).toBe(true);
    }
    expect(lines.length).toBe(r.items.length);
    const files = tree(stateDir);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    if (importerPresent) {
      expect(r.ok).toBe(true);
      for (const m of catalog.models) {
        const i = item(r.items, m.id);
        expect(i.convert, i.convertError).toBe('converted');
        const card = JSON.parse(await readFile(i.onnxPath!.replace(/\.onnx$/, '.card.json'), 'utf8')) as { source: { sha256: string }; labels?: string[] };
        expect(card.source.sha256).toBe(m.sha256);
        expect(card.labels?.length).toBeGreaterThan(1);
      }
      // a converted model really runs
      const i = item(r.items, small);
      const s = await ort.InferenceSession.create(i.onnxPath!);
      const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', new Uint8Array(128 * 128 * 3).fill(128), [1, 128, 128, 3]) });
      expect((out[s.outputNames[0]!]!.data as Float32Array | Uint8Array).length).toBe(1001);
      await s.release();
    } else {
      // the importers are not in this build: downloads are kept, conversion is reported as unavailable
      expect(r.ok).toBe(false);
      for (const m of catalog.models) expect(item(r.items, m.id).convert).toBe('unavailable');
    }

    // a second pull transfers nothing and reuses the conversions
    const before = server.requests;
    const again = await pullModels(config);
    expect(server.requests).toBe(before);
    for (const m of catalog.models) {
      expect(item(again.items, m.id).status).toBe('present');
      if (importerPresent) expect(item(again.items, m.id).convert).toBe('cached');
    }
  });

  it('refuses a corrupted byte and keeps the last good copy', async () => {
    const stateDir = join(work, 'corrupt');
    const config = configFor(stateDir, { 'models.mirror': `${server.base}/files` });
    const entry = loadCatalog().models.find((m) => m.id === small)!;
    const good = await pullModels(config, { only: [small], convert: false });
    const path = item(good.items, small).path;
    expect(sha(path)).toBe(entry.sha256);
    const mtime = statSync(path).mtimeMs;

    server.corrupt.add(entry.file);
    try {
      const bad = await pullModels(config, { only: [small], force: true, convert: false });
      const i = item(bad.items, small);
      expect(i.status).toBe('failed');
      expect(i.error).toContain('sha256');
      expect(i.error).toContain('refused');
      expect(i.usable).toBe(true);
      expect(bad.ok).toBe(false);
      expect(sha(path)).toBe(entry.sha256);
      expect(statSync(path).mtimeMs).toBe(mtime);

      // with no good copy, nothing is written at all
      const fresh = join(work, 'corrupt-fresh');
      const r = await pullModels(configFor(fresh, { 'models.mirror': `${server.base}/files/` }), { only: [small], convert: false });
      expect(item(r.items, small).usable).toBe(false);
      expect(tree(fresh).filter((f) => f.includes('mobilenet'))).toEqual([]);
    } finally {
      server.corrupt.delete(entry.file);
    }
  });

  it('follows redirects from upstream URLs, enforces the size limit, and reports a 404', async () => {
    const full = loadCatalog();
    const m = full.models.find((x) => x.id === small)!;
    const labels = full.labels.find((l) => l.id === m.labels)!;
    const catalog: Catalog = {
      path: 'test',
      labels: [{ ...labels, urls: [`${server.base}/redir/${labels.file}`] }],
      models: [
        { ...m, urls: [`${server.base}/files/nothing-here.tflite`, `${server.base}/redir/${m.file}`] },
        { ...full.models.find((x) => x.id === 'mobilenet_v2-1.0-224-int8')!, urls: [`${server.base}/files/models/tflite/mobilenet_v2_1.0_224_quant.tflite`] },
      ],
    };
    const stateDir = join(work, 'upstream');
    const r = await pullModels(configFor(stateDir, { 'models.maxDownloadMb': 1 }), { catalog, convert: false });
    const i = item(r.items, small);
    expect(i.usable, i.error).toBe(true);
    expect(i.from).toBe(`${server.base}/redir/${m.file}`);
    expect(item(r.items, labels.id).usable).toBe(true);
    const big = item(r.items, 'mobilenet_v2-1.0-224-int8');
    expect(big.usable).toBe(false);
    expect(big.error).toContain('over the limit');
    expect(existsSync(big.path)).toBe(false);

    const missing = await pullModels(configFor(join(work, 'upstream404')), { catalog: { ...catalog, models: [{ ...m, urls: [`${server.base}/files/nothing-here.tflite`] }] }, convert: false });
    expect(item(missing.items, small).error).toContain('HTTP 404');
  });
});

describe('models pull from a mirror directory', () => {
  it('copies and verifies, and derives or embeds labels when no copy is reachable', async () => {
    const stateDir = join(work, 'dir');
    const r = await pullModels(configFor(stateDir), { mirror: sharedData, only: [small, 'mobilenet_v1-0.25-224-fp32'], convert: false });
    for (const id of [small, 'mobilenet_v1-0.25-224-fp32', 'imagenet-1001', 'imagenet-1000']) {
      const i = item(r.items, id);
      expect(i.usable, i.error).toBe(true);
      expect(i.from?.startsWith(sharedData)).toBe(true);
    }

    // an empty mirror: the 1000-class list is derived from the 1001-class one already verified on disk, vww is embedded
    const fresh = join(work, 'dir-derive');
    await pullModels(configFor(fresh), { mirror: sharedData, only: [small], convert: false });
    const empty = join(work, 'empty-mirror');
    mkdirSync(empty);
    const r2 = await pullModels(configFor(fresh), { mirror: empty, only: ['mobilenet_v1-0.25-224-fp32', 'vww-mobilenet_v1-0.25-96-int8'], convert: false });
    const derived = item(r2.items, 'imagenet-1000');
    expect(derived.usable).toBe(true);
    expect(derived.from).toBe('derived from imagenet-1001');
    expect(sha(derived.path)).toBe(manifest.get('labels/imagenet_labels_1000.txt'));
    const vww = item(r2.items, 'vww');
    expect(vww.usable).toBe(true);
    expect(vww.from).toBe('catalog text');
    expect(readFileSync(vww.path, 'utf8')).toBe('non_person\nperson\n');
    expect(item(r2.items, 'mobilenet_v1-0.25-224-fp32').error).toContain('not in the mirror directory');
    expect(item(r2.items, 'vww-mobilenet_v1-0.25-96-int8').usable).toBe(false);
  });
});

describe('catalog validation', () => {
  const bad = (patch: Record<string, unknown>): string => {
    const c = JSON.parse(readFileSync(join(dirname(loadCatalog().path), 'catalog.json'), 'utf8')) as { models: Record<string, unknown>[] };
    c.models[0] = { ...c.models[0], ...patch };
    const p = join(work, `bad-${Object.keys(patch).join('-')}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(p, JSON.stringify(c));
    return p;
  };

  it.each([
    [{ file: '../../escape.tflite' }, 'models[0].file'],
    [{ file: 'models/../../escape.tflite' }, 'models[0].file'],
    [{ file: '/etc/passwd' }, 'models[0].file'],
    [{ file: 'models\\x.tflite' }, 'models[0].file'],
    [{ sha256: 'abc' }, 'models[0].sha256'],
    [{ sha256: 'A'.repeat(64) }, 'models[0].sha256'],
    [{ urls: ['http://insecure.example/x'] }, 'models[0].urls[0]'],
    [{ labels: 'nope' }, 'models[0].labels'],
    [{ family: 'resnet' }, 'models[0].family'],
    [{ extra: 1 }, 'models[0].extra'],
  ])('refuses %j before anything is written', async (patch, field) => {
    const path = bad(patch);
    expect(() => loadCatalog(path)).toThrow(EdgefitError);
    expect(() => loadCatalog(path)).toThrow(field);
    const stateDir = join(work, `never-${Math.random().toString(36).slice(2)}`, 'state');
    await expect(pullModels(configFor(stateDir, { 'models.catalog': path }), { mirror: sharedData })).rejects.toThrow(field);
    expect(existsSync(dirname(stateDir))).toBe(false);
    expect(existsSync(join(work, 'escape.tflite'))).toBe(false);
    expect(existsSync(resolve(stateDir, '../../escape.tflite'))).toBe(false);
  });

  it('refuses an unknown --only id naming the known ones', async () => {
    await expect(pullModels(configFor(join(work, 'only')), { only: ['mobilenet_v9'], mirror: sharedData })).rejects.toThrow(/unknown model id mobilenet_v9: use one of .*mobilenet_v1-0.25-128-int8/);
  });
});
