import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import { convNet } from './profile-models.js';

let dir: string;
const models = () => join(dir, 'models');

function edgefit(args: string[]) {
  const r = spawnSync(process.execPath, [join(projectRoot, 'bin', 'edgefit.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, EDGEFIT_STATE_DIR: join(dir, 'state') },
    timeout: 50_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'edgefit-cli-'));
  const m = models();
  mkdirSync(m, { recursive: true });
  for (const [w, acc] of [[8, 0.4], [16, 0.5], [32, 0.6]] as const) {
    const net = convNet(w, 32);
    writeFileSync(join(m, `net${w}.onnx`), net.bytes);
    writeFileSync(join(m, `net${w}.card.json`), JSON.stringify({
      name: `net${w}`, family: 'mobilenet_v1', alpha: w / 32, resolution: 32, anyResolution: false, precision: 'fp32',
      input: { layout: 'NHWC', dtype: 'uint8' }, output: 'logits', classes: w, background: false,
      source: { format: 'onnx', file: `net${w}.onnx`, sha256: 'test' }, macs: net.macs, params: net.params, referenceAccuracy: acc,
    }));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('edgefit profile / select', () => {
  it('profile --all --json measures every model, caches, plots; select --from-cache decides from that file alone', () => {
    const cache = join(dir, 'cache.json');
    const plot = join(dir, 'chart.svg');
    const r = edgefit(['profile', '--models', models(), '--all', '--json', '--threads', '1', '--min-runs', '5', '--min-seconds', '0.05', '--cache', cache, '--plot', plot]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as { board: string; decision: { chosen: { id: string } | null; measured: number }; candidates: { id: string; measurements: { ok: boolean; latencyMs: { p90: number } }[] }[] };
    expect(j.decision.measured).toBe(3);
    expect(j.decision.chosen?.id).toBe('net32@cpu');
    expect(j.candidates.every((c) => c.measurements.length === 1 && c.measurements[0]!.ok)).toBe(true);
    expect(readFileSync(plot, 'utf8')).toContain('class="point chosen" data-id="net32@cpu"');

    // a budget between the measured p90s of net8 and the largest that exceeds it, chosen from recorded figures only
    const p90 = Object.fromEntries(j.candidates.map((c) => [c.id, c.measurements[0]!.latencyMs.p90]));
    const big = Math.max(p90['net16@cpu']!, p90['net32@cpu']!);
    if (p90['net8@cpu']! < big) {
      const budget = (p90['net8@cpu']! + big) / 2;
      const expectIds = Object.entries(p90).filter(([, v]) => v <= budget).map(([k]) => k);
      const s = edgefit(['select', '--from-cache', cache, '--models', models(), '--budget-ms', String(budget), '--json']);
      expect(s.code, s.err).toBe(0);
      const sj = JSON.parse(s.out) as { board: string; decision: { chosen: { id: string } } };
      expect(sj.board).toBe(j.board);
      const byAcc = ['net32@cpu', 'net16@cpu', 'net8@cpu'].filter((id) => expectIds.includes(id));
      expect(sj.decision.chosen.id).toBe(byAcc[0]);
    }
    const human = edgefit(['select', '--from-cache', cache, '--models', models(), '--budget-ms', '100000']);
    expect(human.out).toMatch(/^\* +net32@cpu .* CHOSEN$/m);
    expect(human.out).toMatch(/nothing measured now/);
  }, 60_000);

  it('a budget flag overrides the configured budget field by field: the configured memory cap stands unless --budget-mb replaces it', () => {
    const cache = join(dir, 'cache-memory.json');
    const run = (extra: string[]) => {
      const r = edgefit(['profile', '--models', models(), '--json', '--threads', '1', '--min-runs', '5', '--min-seconds', '0.05', '--cache', cache, '--budget-ms', '100000', ...extra]);
      expect(r.code, r.err).toBe(0);
      return (JSON.parse(r.out) as { budget: { latencyMs?: number; memoryMb?: number; memoryFraction?: number; availableMb?: number } }).budget;
    };
    const b = run([]);
    expect(b.latencyMs).toBe(100000);
    // budget.memoryMb is 0 by default: memoryFraction (0.5) of this board's available memory, as the daemon uses
    expect(b.memoryFraction, 'edgefit profile --budget-ms dropped the configured memory cap').toBe(0.5);
    expect(b.availableMb).toBeGreaterThan(0);
    expect(run(['--set', 'budget.memoryFraction=0.25']).memoryFraction).toBe(0.25);
    const mb = run(['--budget-mb', '300']);
    expect(mb.memoryMb).toBe(300);
    expect(mb.memoryFraction).toBeUndefined();
  }, 60_000);

  it('refuses bad flags with a message and a non-zero exit', () => {
    const a = edgefit(['select', '--models', models()]);
    expect(a.code).not.toBe(0);
    expect(a.err).toMatch(/needs a latency budget: --budget-ms N or --fps N/);
    const b = edgefit(['select', '--from-cache', join(dir, 'nope.json'), '--models', models(), '--budget-ms', '5']);
    expect(b.code).not.toBe(0);
    expect(b.err).toMatch(/cannot read the profile cache/);
    const c = edgefit(['select', '--budget-ms', 'abc']);
    expect(c.err).toMatch(/--budget-ms needs a number > 0/);
  });
});
