import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonProcess, pulledState, copyState, fastProfile } from '../helpers/daemon.js';
import { seeded, sleep } from '../helpers/consumer.js';
import { jsonFilesParse } from '../helpers/fault-daemon.js';
import { projectRoot, sharedData } from '../../src/util/paths.js';

/**
 * A process killed mid-write (SIGKILL at seeded random moments during a model pull and during profiling) must
 * leave only files that parse or are recognised as bad and fetched again: the next run completes and verifies.
 */
const MODEL = 'mobilenet_v1-0.25-128-int8';

function pull(stateDir: string): { proc: ReturnType<typeof spawn>; done: Promise<{ code: number | null; out: string }> } {
  const proc = spawn(process.execPath, [join(projectRoot, 'bin/edgefit.js'), 'models', 'pull', '--mirror', sharedData, '--only', MODEL, '--set', `stateDir=${stateDir}`], {
    env: { ...process.env, EDGEFIT_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  return { proc, done: new Promise((r) => proc.on('exit', (code) => r({ code, out }))) };
}

/** Every converted model's recorded sha256 matches its bytes. */
function convertedVerify(stateDir: string): number {
  const dir = join(stateDir, 'models', 'onnx');
  let n = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.onnx'))) {
    const sumFile = join(dir, `${f}.sha256`);
    if (!existsSync(sumFile)) continue;
    expect(createHash('sha256').update(readFileSync(join(dir, f))).digest('hex')).toBe(readFileSync(sumFile, 'utf8').trim());
    n++;
  }
  return n;
}

describe('power cut while writing', () => {
  it('a model pull killed at random moments (seed 11, 5 times): the next pull completes and every file verifies', async () => {
    const rnd = seeded(11);
    const stateDir = mkdtempSync(join(tmpdir(), 'edgefit-pullcut-'));
    const log: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = pull(stateDir);
      const ms = Math.round(300 + rnd() * 3000);
      await Promise.race([sleep(ms), p.done]); // a pull that finished early is not waited for
      p.proc.kill('SIGKILL');
      const r = await p.done;
      log.push(`kill ${i} at ${ms} ms: ${r.code === null ? 'killed' : `had exited ${r.code}`}`);
      if (existsSync(join(stateDir, 'models'))) jsonFilesParse(join(stateDir, 'models'));
    }
    const r = await pull(stateDir).done;
    expect(r.code, `${log.join('\n')}\n${r.out}`).toBe(0);
    expect(r.out).toMatch(/all models verified/);
    expect(convertedVerify(stateDir)).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('the daemon killed while profiling (profile-cache.json being written, 4 times): the cache parses and the next start runs', async () => {
    const rnd = seeded(5);
    const base = await pulledState([MODEL]);
    const stateDir = copyState(base);
    const args = ['--no-mqtt', '--json', '--camera', 'synthetic', '--state-dir', stateDir, ...fastProfile];
    for (let i = 0; i < 4; i++) {
      const d = new DaemonProcess(args);
      // a measurement was just stored: the cache is being written right about now
      await d.waitFor(() => /measured .*cached=false/.test(d.stderr) || /running/.test(d.stderr), 'a measurement', 120_000);
      await sleep(Math.round(rnd() * 300));
      await d.stop('SIGKILL');
      jsonFilesParse(stateDir);
    }
    const d = new DaemonProcess(args);
    try {
      await d.waitFor(() => d.stdout.includes('"seq"'), 'results after the kills', 120_000);
      const cache = JSON.parse(readFileSync(join(stateDir, 'profile-cache.json'), 'utf8')) as { format: string };
      expect(cache.format).toBe('edgefit-profile-cache');
    } finally {
      await d.stop('SIGKILL');
    }
  }, 180_000);
});
