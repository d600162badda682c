import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { DaemonProcess, profiledState, copyState, fastProfile } from '../helpers/daemon.js';
import { sharedData } from '../../src/util/paths.js';
import { resultSchema } from '../../src/mqtt/schemas.js';

const validate = new Ajv({ strict: false }).compile(resultSchema);
let state: string;
let video: string;

beforeAll(async () => {
  state = await profiledState(['mobilenet_v1-0.25-128-int8']);
  const d = mkdtempSync(join(tmpdir(), 'edgefit-video-'));
  video = join(d, 'clip.mp4');
  execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=10', '-t', '2', '-pix_fmt', 'yuv420p', video]);
}, 120_000);

const base = (stateDir: string) => ['--no-mqtt', '--json', '--state-dir', stateDir, '--device-id', 'cam-run', ...fastProfile];

describe('edgefit run --json (no MQTT)', () => {
  for (const [name, camera] of [['an ffmpeg test source', 'lavfi:testsrc2=size=320x240:rate=15'], ['a video file', 'VIDEO']] as const) {
    it(`prints one valid result per inferred frame from ${name}`, async () => {
      const d = new DaemonProcess([...base(copyState(state)), '--camera', camera === 'VIDEO' ? video : camera]);
      try {
        await d.waitFor(() => d.lines().length >= 5, '5 results');
        const rs = d.lines();
        for (const r of rs) expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
        expect(rs.map((r) => r.seq)).toEqual(rs.map((_, i) => i + 1));
        expect(String(rs[0]!.variant)).toMatch(/^mobilenet_v1-0\.25-/);
        expect(d.stderr).toMatch(/running variant=/);
      } finally {
        expect(await d.stop()).toBe(0);
      }
    });
  }

  it('with the real model and the test photos as camera, top-1 labels are the photos\' accepted classes at the model\'s rate', async () => {
    const labels = JSON.parse(readFileSync(join(sharedData, 'images/test/labels.json'), 'utf8')) as Record<string, { accept: string[]; kind: string }>;
    const accepted = new Set(Object.values(labels).flatMap((l) => l.accept));
    const d = new DaemonProcess([...base(copyState(state)), '--camera', `folder:${join(sharedData, 'images/test')}`, '--set', 'camera.fps=10', '--set', 'mqtt.results.maxRatePerSecond=20', '--set', 'budget.latencyMs=1000']);
    try {
      await d.waitFor(() => d.lines().length >= 40, '40 results (two loops over the photos)', 90_000);
      const top1 = d.lines().map((r) => (r.top as { label: string }[])[0]!.label.split(',')[0]!.trim());
      const hits = new Set(top1.filter((l) => accepted.has(l)));
      // MobileNet-v1 0.25/128 is right on about 40% of ImageNet; on these photos its float twin names 6 accepted
      // classes (tests/unit tflite accuracy tests pin the exact rate); the daemon must show them too
      expect(hits.size).toBeGreaterThanOrEqual(4);
    } finally {
      await d.stop();
    }
  });

  it('a bad configuration exits non-zero before touching anything, naming the field and accepted values', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'edgefit-bad-')), 'never-created');
    const d = new DaemonProcess(['--no-mqtt', '--state-dir', stateDir, '--set', 'mqtt.protocolVersion=6']);
    expect(await d.exit).not.toBe(0);
    expect(d.stderr).toMatch(/mqtt\.protocolVersion must be one of 4, 5/);
    expect(() => readFileSync(stateDir)).toThrow();
  });

  it('an unreachable camera is retried with backoff and reported, the daemon stays up', async () => {
    const d = new DaemonProcess([...base(copyState(state)), '--camera', 'rtsp://127.0.0.1:9/nothing', '--set', 'camera.watchdogSeconds=1']);
    try {
      await d.waitFor(() => (d.stderr.match(/camera restart scheduled/g) ?? []).length >= 2, 'two scheduled retries', 60_000);
      expect(d.stderr).toMatch(/camera .*(refused|unreachable|connect)/i);
      expect(d.proc.exitCode).toBe(null);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('an unreachable broker: a clear message, reconnects with jittered backoff, results kept in the outbox', async () => {
    const d = new DaemonProcess(['--json', '--state-dir', copyState(state), '--device-id', 'cam-nob', ...fastProfile, '--camera', 'synthetic', '--broker', 'mqtt://127.0.0.1:9', '--set', 'mqtt.results.mode=every']);
    try {
      await d.waitFor(() => (d.stderr.match(/mqtt reconnect scheduled/g) ?? []).length >= 3, 'three scheduled reconnects', 90_000);
      expect(d.stderr).toMatch(/ECONNREFUSED/);
      // accepted results (printed after the outbox took them) keep coming while the broker is away
      await d.waitFor(() => d.lines().length >= 5, 'results accepted into the outbox');
      const delays = [...d.stderr.matchAll(/mqtt reconnect scheduled inMs=(\d+)/g)].map((m) => Number(m[1]));
      expect(delays.length).toBeGreaterThanOrEqual(3);
    } finally {
      expect(await d.stop()).toBe(0);
    }
  });

  it('no model and no zoo fallback: a clear message and a non-zero exit', async () => {
    const d = new DaemonProcess(['--no-mqtt', '--state-dir', mkdtempSync(join(tmpdir(), 'edgefit-empty-')), '--set', 'models.allowZooFallback=false', '--camera', 'synthetic']);
    expect(await d.exit).toBe(1);
    expect(d.stderr).toMatch(/edgefit models pull/);
  });
});
