import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCatalogPath } from '../../src/catalog/catalog.js';
import { projectRoot } from '../../src/util/paths.js';
import type { BenchContext, SectionResult } from './context.js';
import { selfTimes, type CpuProfile, type SelfTime } from './cpuprofile.js';
import { DaemonChild, copyState, removeDir } from './daemon.js';
import { FAST_PROFILE } from './memory.js';
import { fmt, table } from './stats.js';

/** A catalog with one model, so the daemon's ladder holds that model's rungs only. */
function singleModelCatalog(dir: string, id: string): string {
  const c = JSON.parse(readFileSync(defaultCatalogPath, 'utf8')) as { models: { id: string }[] };
  c.models = c.models.filter((m) => m.id === id);
  if (c.models.length === 0) throw new Error(`the catalog has no model ${id}`);
  const p = join(dir, 'catalog.json');
  writeFileSync(p, JSON.stringify(c));
  return p;
}

/**
 * `node --cpu-prof` on a running daemon (MobileNet-v1 0.5/160 rungs, synthetic camera at 120 fps, embedded MQTT
 * broker, every result published: the heaviest setting, each one appended to the durable outbox) for ~20 s at full rate; self time per function of each thread, counted
 * from the first result on (start-up excluded).
 */
export async function hotPathSection(ctx: BenchContext): Promise<SectionResult> {
  await ctx.ladder();
  const seconds = ctx.quick ? 6 : 20;
  const state = copyState(ctx.stateDir, false);
  const profDir = mkdtempSync(join(tmpdir(), 'edgefit-bench-prof-'));
  const catalog = singleModelCatalog(profDir, 'mobilenet_v1-0.5-160-int8');
  const d = new DaemonChild(
    ['--camera', 'synthetic', '--state-dir', state, '--set', `models.catalog=${catalog}`, '--set', 'camera.fps=120', '--set', 'mqtt.results.mode=every', '--set', 'mqtt.results.maxRatePerSecond=1000', '--budget-ms', '100000', ...FAST_PROFILE],
    ['--cpu-prof', `--cpu-prof-dir=${profDir}`],
  );
  try {
    await d.waitFor(() => d.results > 0, 'the first result', 300_000);
    const skipMs = performance.now() - d.startedAt;
    const r0 = d.results;
    ctx.log(`hotpath: daemon ${d.pid} runs ${String(d.lastResult?.variant)}; profiling ${seconds} s at full rate`);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const rate = (d.results - r0) / seconds;
    const code = await d.stop();
    if (code !== 0) ctx.log(`hotpath: the daemon exited with ${code}`);
    const files = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) throw new Error(`node --cpu-prof wrote no profile in ${profDir}`);
    const threads: { file: string; total: number; top: SelfTime[] }[] = [];
    for (const f of files) {
      const p = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile;
      // the main thread's profile starts with the process; a worker's starts later, so it skips less
      const offset = (p.startTime - Math.min(...files.map((g) => (JSON.parse(readFileSync(join(profDir, g), 'utf8')) as CpuProfile).startTime))) / 1000;
      threads.push({ file: f, ...selfTimes(p, Math.max(0, skipMs - offset), projectRoot) });
    }
    threads.sort((a, b) => b.total - a.total);
    const rows: string[][] = [];
    for (const [i, t] of threads.entries()) {
      // the worker is the thread whose samples land in onnxruntime's binding
      const label = t.top.some((e) => e.where.includes('onnxruntime-node')) ? 'inference worker' : i === 0 ? 'main' : `thread ${i + 1}`;
      for (const e of t.top.slice(0, 10)) rows.push([`${label} (${fmt(t.total / 1000, 1)} s)`, e.fn, e.where, fmt(e.ms, 0), `${fmt(e.share * 100, 1)}%`]);
    }
    return {
      name: 'hotpath',
      title: `Hot path: self time per function, ${seconds} s of the running daemon at full rate (${rate.toFixed(1)} results/s)`,
      table: table(['thread', 'function', 'where', 'ms', 'share'], rows),
      targets: [],
      notes: [
        'One .cpuprofile per thread (main thread and the inference worker). Native time inside onnxruntime shows as the binding function that called it; "(idle)" is a thread waiting.',
      ],
      data: { seconds, resultsPerS: rate, variant: d.lastResult?.variant, threads: threads.map((t) => ({ file: t.file, totalMs: t.total, top: t.top.slice(0, 25) })) },
    };
  } finally {
    await d.stop();
    removeDir(state);
    removeDir(profDir);
  }
}
