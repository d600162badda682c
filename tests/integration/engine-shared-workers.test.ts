import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SharedWorkers, type SharedResult } from '../../src/engine/shared-workers.js';
import { tinyClassifier, testFrame } from '../helpers/tiny-model.js';
import { waitFor } from '../helpers/wait.js';
import { faultEnginesModule } from '../helpers/fault-daemon.js';

let dir: string, ten: string, seven: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefit-shared-'));
  ten = join(dir, 'ten.onnx');
  seven = join(dir, 'seven.onnx');
  writeFileSync(ten, tinyClassifier({ resolution: 32, classes: 10 }));
  writeFileSync(seven, tinyClassifier({ resolution: 32, classes: 7, width: 16 }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SharedWorkers: cameras on shared engine hosts through the fair queue', () => {
  it('routes each answer to the camera that offered it; cameras on one model share its host; the newest frame wins', async () => {
    const got: { camera: string; classes: number }[] = [];
    const w = await SharedWorkers.start(
      [{ key: 'ten', modelPath: ten, threads: 1 }, { key: 'seven', modelPath: seven, threads: 1 }],
      [{ id: 'a', fps: 10, session: 'ten', costMs: 1 }, { id: 'b', fps: 10, session: 'ten', costMs: 1 }, { id: 'c', fps: 10, session: 'seven', costMs: 1 }],
      { slots: 2, onResult: (r: SharedResult) => got.push({ camera: r.camera, classes: r.scores.length }) },
    );
    try {
      expect(w.hosts.size).toBe(2);
      // a runs at once, b waits for the shared host, c runs on the other; a's second and third offers wait, the
      // third replaces the second
      w.offer('a', testFrame(32, 1));
      w.offer('b', testFrame(32, 2));
      w.offer('c', testFrame(32, 3));
      expect(w.offer('a', testFrame(32, 4))).toBe(false);
      expect(w.offer('a', testFrame(32, 5))).toBe(true);
      await w.idle();
      expect(got.filter((g) => g.camera === 'a')).toHaveLength(2);
      expect(got.filter((g) => g.camera === 'b')).toHaveLength(1);
      expect(got.filter((g) => g.camera === 'c')).toHaveLength(1);
      for (const g of got) expect(g.classes).toBe(g.camera === 'c' ? 7 : 10);
      expect(w.stats('a')).toMatchObject({ offered: 3, dispatched: 2, dropped: 1, done: 2 });
      expect(w.stats('b')).toMatchObject({ offered: 1, dispatched: 1, dropped: 0 });
      expect(() => w.offer('c', new Uint8Array(10))).toThrow(/frame has 10 bytes, its model wants 3072/);
      expect(() => w.offer('nope', testFrame(32))).toThrow(/not served here/);
    } finally {
      await w.close();
    }
  });

  it('a camera on a missing session is refused, and the hosts already loaded are closed', async () => {
    await expect(SharedWorkers.start([{ key: 'ten', modelPath: ten, threads: 1 }], [{ id: 'a', fps: 5, session: 'other', costMs: 1 }], { slots: 1, onResult: () => undefined }))
      .rejects.toThrow(/camera a runs on session other/);
  });

  it('a worker that dies fails only the frame it ran, for the camera that offered it; the queue keeps going', async () => {
    process.env.EDGEFIT_TEST_FAULT_AFTER = '2';
    const results: string[] = [];
    const errors: string[] = [];
    const w = await SharedWorkers.start(
      [{ key: 'ten', modelPath: ten, threads: 1 }],
      [{ id: 'a', fps: 10, session: 'ten', costMs: 1 }, { id: 'b', fps: 10, session: 'ten', costMs: 1 }],
      { slots: 1, kind: 'fault-crash', engineModules: [faultEnginesModule], onResult: (r) => results.push(r.camera), onError: (camera, err) => errors.push(`${camera}:${(err as Error & { code?: string }).code}`) },
    );
    try {
      const frame = testFrame(32);
      // one frame at a time from alternating cameras, past the worker's crash and its restart
      for (let i = 0; i < 8; i++) {
        const cam = i % 2 ? 'b' : 'a';
        const before = results.length + errors.length;
        w.offer(cam, frame);
        await waitFor(() => results.length + errors.length > before, `an answer to frame ${i}`, 20_000);
      }
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.every((e) => /^[ab]:E_ENGINE_(CRASH|RESTARTING)$/.test(e))).toBe(true);
      expect(results.length).toBeGreaterThanOrEqual(2);
      expect(results.length + errors.length).toBe(8);
      expect(w.stats('a').done + w.stats('b').done).toBe(8);
    } finally {
      await w.close();
      delete process.env.EDGEFIT_TEST_FAULT_AFTER;
    }
  });
});
