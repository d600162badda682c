import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedData } from '../../src/util/paths.js';
import { createFrameSource } from '../../src/camera/registry.js';
import type { FrameSource } from '../../src/camera/source.js';
import { ProbeFrameCollector } from '../../src/daemon/probe-frames.js';
import { decodeRgb } from '../../src/image/load.js';
import { loadProbeSet } from '../../src/profile/agreement.js';
import { waitFor } from '../helpers/wait.js';
import { DaemonProcess, fastProfile, pulledState } from '../helpers/daemon.js';

let work: string;
beforeAll(() => { work = mkdtempSync(join(tmpdir(), 'edgefit-probe-')); });
afterAll(() => rmSync(work, { recursive: true, force: true }));

const opts = { width: 224, height: 224, fps: 20, watchdogSeconds: 5, loop: true };

async function withSource<T>(spec: string, fn: (s: FrameSource) => Promise<T>): Promise<T> {
  const s = await createFrameSource(spec, opts);
  await s.start();
  try { return await fn(s); } finally { await s.stop(); }
}

describe('probe frames from the camera', () => {
  it('keeps a few of a real source\'s frames as JPEG probe frames, then stops', async () => {
    const dir = join(work, 'camera');
    await withSource(`folder:${join(sharedData, 'images', 'calib')}`, async (source) => {
      await waitFor(() => source.latest() !== null, 'a first frame', 10_000);
      const c = new ProbeFrameCollector(dir, source, { count: 3, everyMs: 50 });
      await c.start();
      await waitFor(() => { try { return readdirSync(dir).filter((n) => n.endsWith('.jpg')).length >= 3; } catch { return false; } }, 'three probe frames', 10_000);
      await new Promise((r) => setTimeout(r, 300));
      c.stop();
    });
    expect(readdirSync(dir).sort()).toEqual(['camera-01.jpg', 'camera-02.jpg', 'camera-03.jpg']);
    const img = await decodeRgb(join(dir, 'camera-01.jpg'));
    expect([img.width, img.height]).toEqual([224, 224]);
    // what the next selection reads as its probe set
    expect((await loadProbeSet(dir))?.files).toHaveLength(3);
  });

  it('takes nothing from a test pattern, nor when the directory already holds enough frames', async () => {
    const synth = join(work, 'synthetic');
    await withSource('synthetic', async (source) => {
      await waitFor(() => source.latest() !== null, 'a first frame', 10_000);
      const c = new ProbeFrameCollector(synth, source, { count: 3, everyMs: 20 });
      await c.start();
      await new Promise((r) => setTimeout(r, 300));
      c.stop();
    });
    expect(() => readdirSync(synth)).toThrow(/ENOENT/);
    const full = join(work, 'full');
    mkdirSync(full);
    for (const n of ['a.jpg', 'b.png', 'c.bmp']) writeFileSync(join(full, n), 'x');
    await withSource(`folder:${join(sharedData, 'images', 'calib')}`, async (source) => {
      const c = new ProbeFrameCollector(full, source, { count: 3, everyMs: 20 });
      await c.start();
      await new Promise((r) => setTimeout(r, 300));
      c.stop();
    });
    expect(readdirSync(full).sort()).toEqual(['a.jpg', 'b.png', 'c.bmp']);
  });
});

describe('a profile.probeDir set by the user', () => {
  it('that holds no photo is said at start: the reduced-resolution rungs go unchecked, and where to fix it', async () => {
    const state = await pulledState(['mobilenet_v1-0.25-128-int8']);
    const typo = join(work, 'no-such-probe-dir');
    const d = new DaemonProcess(['--no-mqtt', '--json', '--state-dir', state, '--device-id', 'probe-typo', ...fastProfile, '--camera', 'synthetic', '--set', `profile.probeDir=${typo}`]);
    try {
      await d.waitFor(() => d.lines().length >= 1, 'a result', 120_000);
    } finally {
      expect(await d.stop()).toBe(0);
    }
    expect(d.stderr).toMatch(/profile\.probeDir holds no JPEG, PNG or BMP photo/);
    expect(d.stderr).toContain(typo);
  }, 180_000);
});
