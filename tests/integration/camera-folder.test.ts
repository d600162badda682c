import { describe, it, expect, afterEach, beforeAll, afterAll } from 'vitest';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { FolderSource, listImages } from '../../src/camera/folder.js';
import { FfmpegSource } from '../../src/camera/ffmpeg.js';
import type { FrameSource } from '../../src/camera/source.js';
import { decodeRgb, loadImageRgb } from '../../src/image/load.js';
import { sharedData } from '../../src/util/paths.js';
import { until, within } from '../contract/framesource.js';

const photos = join(sharedData, 'images', 'test');
const live: FrameSource[] = [];
afterEach(async () => {
  await Promise.all(live.splice(0).map((s) => s.stop()));
});
const base = { width: 96, height: 96, fps: 200, watchdogSeconds: 10, loop: true };

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i]! - b[i]!);
  return d / a.length;
}

describe('folder source', () => {
  let tmp = '';
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'edgefit-folder-')); });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('decodes each file once per resolution, however many loops', async () => {
    const s = new FolderSource(photos, base);
    live.push(s);
    await s.start();
    const n = s.fileCount;
    expect(n).toBeGreaterThan(10);
    await until(() => s.stats().framesIn >= 3 * n, 'three loops');
    expect(s.decodes).toBe(n);
    await s.reconfigure({ width: 64, height: 64 });
    const at = s.stats().framesIn;
    await until(() => s.stats().framesIn >= at + 2 * n, 'two loops at 64x64');
    expect(s.decodes).toBe(2 * n);
    await s.reconfigure({ width: 96, height: 96 });
    const at2 = s.stats().framesIn;
    await until(() => s.stats().framesIn >= at2 + n + 1, 'a loop back at 96x96');
    expect(s.decodes).toBe(2 * n);
  });

  it('plays the files in name order, each exactly as src/image/load.ts preprocesses it, and ends when not looping', async () => {
    const files = await listImages(photos);
    const s = new FolderSource(photos, { ...base, loop: false });
    live.push(s);
    const ended = once(s, 'end');
    await s.start();
    for (let i = 0; i < 3; i++) {
      const f = await within(s.next(), `frame ${i}`);
      const want = await loadImageRgb(files[f.seq - 1]!, 96);
      expect(Buffer.from(f.data).equals(Buffer.from(want))).toBe(true);
    }
    await within(ended, 'end of the folder');
    expect(s.stats()).toMatchObject({ framesIn: files.length, ended: true });
  });

  it('skips a file it cannot decode, says which, and goes on', async () => {
    const dir = join(tmp, 'mixed');
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toFile(join(dir, 'a.png'));
    writeFileSync(join(dir, 'b.jpg'), 'not a jpeg');
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const s = new FolderSource(dir, { ...base, width: 8, height: 8 });
    live.push(s);
    const errors: string[] = [];
    s.on('error', (e: Error) => errors.push(e.message));
    await s.start();
    await until(() => s.stats().framesIn >= 5, 'frames from the good file');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/skipping .*b\.jpg: cannot decode image/);
    expect(s.fileCount).toBe(1);
    expect(s.latest()!.data[0]).toBeGreaterThan(150);
  });

  it('refuses a missing or empty folder at start with a clear message', async () => {
    const missing = new FolderSource(join(tmp, 'nope'), base);
    await expect(missing.start()).rejects.toThrow(/does not exist/);
    // a failed start leaves it stopped: once the folder exists, start() works
    await sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toFile(join(tmp, 'nope.png'));
    await import('node:fs/promises').then(async (fs) => { await fs.mkdir(join(tmp, 'nope')); await fs.rename(join(tmp, 'nope.png'), join(tmp, 'nope', 'x.png')); });
    live.push(missing);
    await missing.start();
    expect((await within(missing.next(), 'frame')).data.length).toBe(96 * 96 * 3);
    const empty = join(tmp, 'empty');
    await import('node:fs/promises').then((fs) => fs.mkdir(empty));
    await expect(new FolderSource(empty, base).start()).rejects.toThrow(/no \.jpg, \.jpeg, \.png or \.bmp/);
  });

  it('honours its cache budget: past it, files are decoded again', async () => {
    const s = new FolderSource(photos, { ...base, cacheBytes: 96 * 96 * 3 * 2 });
    live.push(s);
    await s.start();
    const n = s.fileCount;
    await until(() => s.stats().framesIn >= 2 * n, 'two loops');
    expect(s.decodes).toBeGreaterThan(n);
  });
});

describe('ffmpeg preprocessing', () => {
  it('centre-crops to a square like src/image/load.ts (a 16:9 photo through ffmpeg)', async () => {
    const path = join(photos, 'cat_720p.jpg');
    const s = new FfmpegSource(`file:${path}`, { ...base, fps: 10 });
    live.push(s);
    await s.start();
    const f = await within(s.next(), 'frame of the photo');
    const ref = await loadImageRgb(path, 96);
    const img = await decodeRgb(path);
    expect(img.width / img.height).toBeGreaterThan(1.5);
    const squashed = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).resize(96, 96, { fit: 'fill' }).raw().toBuffer();
    const dCrop = meanAbsDiff(f.data, ref);
    const dSquash = meanAbsDiff(f.data, squashed);
    expect(dCrop).toBeLessThan(6);
    expect(dCrop).toBeLessThan(dSquash / 2);
  });
});

describe('fit: stretch (detectors: the whole frame squashed, no crop)', () => {
  const path = join(photos, 'cat_720p.jpg');
  async function references() {
    const img = await decodeRgb(path);
    expect(img.width / img.height).toBeGreaterThan(1.5);
    return { crop: await loadImageRgb(path, 96), stretch: await loadImageRgb(path, 96, 'stretch') };
  }

  it('ffmpeg squashes the whole 16:9 photo like src/image/load.ts does, and a reconfigure switches fit in place', async () => {
    const ref = await references();
    const s = new FfmpegSource(`file:${path}`, { ...base, fps: 10, fit: 'stretch' });
    live.push(s);
    await s.start();
    const f = await within(s.next(), 'frame of the photo');
    const dStretch = meanAbsDiff(f.data, ref.stretch);
    expect(dStretch).toBeLessThan(6);
    expect(dStretch).toBeLessThan(meanAbsDiff(f.data, ref.crop) / 2);
    await s.reconfigure({ width: 96, height: 96, fit: 'crop' });
    const g = await within(s.next(), 'frame after the fit changed');
    expect(meanAbsDiff(g.data, ref.crop)).toBeLessThan(meanAbsDiff(g.data, ref.stretch) / 2);
  });

  it('the folder source delivers the stretched frame, cached apart from the cropped one', async () => {
    const ref = await references();
    const dir = mkdtempSync(join(tmpdir(), 'edgefit-stretch-'));
    try {
      writeFileSync(join(dir, 'a.jpg'), readFileSync(path));
      const s = new FolderSource(dir, { ...base, fit: 'stretch' });
      live.push(s);
      await s.start();
      const f = await within(s.next(), 'stretched frame');
      expect(Buffer.from(f.data).equals(Buffer.from(ref.stretch))).toBe(true);
      await s.reconfigure({ width: 96, height: 96, fit: 'crop' });
      const g = await within(s.next(), 'cropped frame');
      expect(Buffer.from(g.data).equals(Buffer.from(ref.crop))).toBe(true);
      expect(s.decodes).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
