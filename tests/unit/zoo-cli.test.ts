import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { Command } from 'commander';
import { register } from '../../src/cli/zoo.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { projectRoot } from '../../src/util/paths.js';
import { zooLadder } from '../../src/zoo/registry.js';

/** The zoo command in-process (fast; no dependence on dist/ being rebuilt by a parallel test run). */
async function zoo(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  register(program);
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => { stdout += String(chunk); return true; });
  try {
    await program.parseAsync(['node', 'edgefit', 'zoo', ...args]);
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    // what bin/edgefit.js prints
    return { code: 1, stdout, stderr: `edgefit: ${err instanceof Error ? err.message : String(err)}\n` };
  } finally {
    spy.mockRestore();
  }
}

// the real binary, compiled (dist/, built by vitest's global setup), exactly as users run it
function edgefit(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin/edgefit.js'), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgefit zoo', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'edgefit-zoo-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('list --json gives every ladder rung with exact costs', async () => {
    const r = await zoo('list', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ id: string; params: number; macs: { total: number }; weightBytes: { int8: number }; peakActivation: { int8Bytes: number } }>;
    expect(rows).toHaveLength(zooLadder().length);
    const v1 = rows.find((x) => x.id === 'mobilenet_v1-1.0-224')!;
    expect([v1.params, v1.macs.total, v1.peakActivation.int8Bytes]).toEqual([4_210_088, 568_740_352, 2 * 64 * 112 * 112]);
    expect(rows.find((x) => x.id === 'mobilenet_v2-1.0-224')!.macs.total).toBe(300_774_272);
  });

  it('list prints a table', async () => {
    const r = await zoo('list');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^id +family +alpha +res +params +MACs +peak act fp32 +peak act int8 +int8 size$/);
    expect(r.stdout).toMatch(/mobilenet_v1-0\.5-160 +mobilenet_v1 +0\.5 +160 +1\.32M +76\.52M/);
  });

  it('build writes <id>.onnx and <id>.card.json; onnxruntime runs the model on uint8 NHWC', async () => {
    const r = await zoo('build', '--family', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '64', '--classes', '10', '--seed', '3', '--out', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = 'mobilenet_v1-0.25-64-c10';
    const onnx = readFileSync(join(dir, `${id}.onnx`));
    const card = JSON.parse(readFileSync(join(dir, `${id}.card.json`), 'utf8'));
    expect(card).toMatchObject({ id, family: 'mobilenet_v1', alpha: 0.25, resolution: 64, classes: 10, seed: 3, pretrained: false, output: 'logits', input: { layout: 'NHWC', dtype: 'uint8' } });
    expect(card.source.sha256).toBe(createHash('sha256').update(onnx).digest('hex'));
    expect(card.costs.params).toBe(464_600 - 256 * 1000 - 1000 + 256 * 10 + 10);
    const s = await ort.InferenceSession.create(onnx);
    try {
      const px = new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7) % 256);
      const out = await s.run({ [s.inputNames[0]!]: new ort.Tensor('uint8', px, [1, 64, 64, 3]) });
      const y = out[s.outputNames[0]!]!;
      expect(y.dims).toEqual([1, 10]);
      expect(Array.from(y.data as Float32Array).every(Number.isFinite)).toBe(true);
    } finally { await s.release(); }

    // same seed, same bytes; another seed, other bytes
    const again = join(dir, 'again');
    expect((await zoo('build', '--family', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '64', '--classes', '10', '--seed', '3', '--out', again)).code).toBe(0);
    expect(readFileSync(join(again, `${id}.onnx`)).equals(onnx)).toBe(true);
    const other = join(dir, 'other');
    expect((await zoo('build', '--family', 'mobilenet_v1', '--alpha', '0.25', '--resolution', '64', '--classes', '10', '--seed', '4', '--out', other)).code).toBe(0);
    expect(readFileSync(join(other, `${id}.onnx`)).equals(onnx)).toBe(false);
  });

  it('the binary exits non-zero with one line naming the accepted families', () => {
    const r = edgefit('zoo', 'build', '--family', 'resnet', '--resolution', '224', '--out', join(dir, 'bin-bad'));
    expect(r.code).toBe(1);
    expect(r.stderr, r.stderr).toBe('edgefit: unknown model family "resnet": use one of mobilenet_v1, mobilenet_v2, shufflenet_v1, squeezenet, xception\n');
    expect(existsSync(join(dir, 'bin-bad'))).toBe(false);
  });

  it('bad family / alpha / resolution / option: one line naming accepted values, nothing written', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--family', 'resnet', '--resolution', '224'], /use one of mobilenet_v1, mobilenet_v2, shufflenet_v1, squeezenet, xception$/],
      [['--family', 'mobilenet_v1', '--alpha', '0.6', '--resolution', '224'], /use one of 0\.25, 0\.5, 0\.75, 1\.0$/],
      [['--family', 'mobilenet_v1', '--alpha', 'big', '--resolution', '224'], /--alpha must be a number/],
      [['--family', 'mobilenet_v2', '--resolution', '20'], /too small.*use an integer from 32 to 2048/],
      [['--family', 'shufflenet_v1', '--resolution', '224', '--option', 'groups=7'], /use one of 1, 2, 3, 4, 8$/],
      [['--family', 'mobilenet_v1'], /--resolution is required/],
    ];
    const out = join(dir, 'bad');
    for (const [args, msg] of cases) {
      const r = await zoo('build', ...args, '--out', out);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^edgefit: /);
      expect(lines[0]).toMatch(msg);
    }
    expect(existsSync(out)).toBe(false);
  });

  it('cost prints the per-layer table', async () => {
    const r = await zoo('cost', '--family', 'mobilenet_v1', '--resolution', '224');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/block13\.pw +conv +pointwise +1024x7x7 +1024x7x7 +1048576 +51380224/);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(/^total .* 4253864 +568740352$/);
  });
});
