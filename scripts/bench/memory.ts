import { spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { readProcMemory } from '../../src/util/procstatus.js';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import type { BenchContext, SectionResult } from './context.js';
import { DaemonChild, copyState, removeDir } from './daemon.js';
import { fmt, median, table } from './stats.js';

/** Flags that make the daemon's start-up profiling short; the budget admits only the largest rungs. */
export const FAST_PROFILE = ['--set', 'profile.minRuns=3', '--set', 'profile.minSeconds=0.2', '--set', 'profile.warmupRuns=1', '--set', 'engine.threads=1'];
const LARGEST_ONLY = ['--budget-ms', '100000', '--set', 'budget.minAccuracy=0.7'];

/** RSS (MB) of a node process running `code` (an ES module body), sampled once it printed "ready" and settled. */
async function nodeRss(dir: string, code: string, settleMs = 1000): Promise<number> {
  // a file, not -e: worker threads inherit execArgv, and --input-type is refused for a worker's file
  const file = join(dir, `memory-probe-${process.pid}-${probeSeq++}.mjs`);
  writeFileSync(file, `${code}\nconsole.log('ready'); setInterval(() => {}, 1000);\n`);
  const p = spawn(process.execPath, [file], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000); });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('a memory probe did not get ready within 120 s')), 120_000);
      let out = '';
      p.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) { clearTimeout(t); resolve(); } });
      p.once('exit', (c) => { clearTimeout(t); reject(new Error(`a memory probe exited with ${c}: ${err.trim().split('\n').slice(-3).join(' | ')}`)); });
    });
    await new Promise((r) => setTimeout(r, settleMs));
    const m = readProcMemory(p.pid!);
    if (!m) throw new Error('cannot read /proc/<pid>/status: the memory section needs Linux');
    return m.rssKb / 1024;
  } finally {
    p.kill('SIGKILL');
    rmSync(file, { force: true });
  }
}
let probeSeq = 0;

/**
 * RSS of a running daemon (`edgefit run --camera synthetic --no-mqtt`) with the largest rung of the ladder loaded,
 * against node's own baseline RSS, node with onnxruntime-node loaded, plus the model file.
 */
export async function memorySection(ctx: BenchContext): Promise<SectionResult> {
  await ctx.ladder();
  const node = await nodeRss(ctx.o.workDir, '');
  const nodeOrt = await nodeRss(ctx.o.workDir, "await import('onnxruntime-node');");
  const dist = (rel: string) => pathToFileURL(join(projectRoot, 'dist', 'src', rel)).href;
  // the modules `edgefit run` loads before it starts (cli/index.js alone loads only commander: commands load lazily)
  const cli = await nodeRss(ctx.o.workDir, `await import(${JSON.stringify(dist('cli/run.js'))});`);
  const state = copyState(ctx.stateDir, false);
  const d = new DaemonChild(['--camera', 'synthetic', '--no-mqtt', '--state-dir', state, '--set', 'camera.fps=30', ...FAST_PROFILE, ...LARGEST_ONLY]);
  try {
    await d.waitFor(() => d.results > 0, 'the first result', 300_000);
    const seconds = ctx.quick ? 4 : 10;
    ctx.log(`memory: daemon ${d.pid} running ${String(d.lastResult?.variant)}, sampling RSS for ${seconds} s`);
    await new Promise((r) => setTimeout(r, 2000));
    const rss: number[] = [];
    let hwm = 0;
    const results0 = d.results;
    const end = performance.now() + seconds * 1000;
    while (performance.now() < end) {
      const m = readProcMemory(d.pid);
      if (m) { rss.push(m.rssKb / 1024); hwm = m.hwmKb / 1024; }
      await new Promise((r) => setTimeout(r, 200));
    }
    const variant = String(d.lastResult?.variant ?? '?');
    const v = (await ctx.ladder()).find((x) => x.id === variant);
    const modelMb = v ? statSync(v.modelPath).size / 1048576 : Number.NaN;
    const resultsPerS = (d.results - results0) / seconds;
    await d.stop();
    // the model alone: a session on the main thread, and the daemon's worker host, each after a few runs
    const runs = (engine: string) => `const f = new Uint8Array(${(v?.resolution ?? 224) ** 2 * 3}); for (let i = 0; i < 5; i++) await ${engine}.run(f);`;
    // as the daemon loads it: from onnxruntime's optimized graph, kept in the state directory by the daemon's run
    const engineOpts = v ? JSON.stringify({ providers: ['cpu'], threads: 1, resolution: v.resolution, optimizedCacheDir: join(state, 'ort-optimized') }) : '';
    const session = v ? await nodeRss(ctx.o.workDir, `const { OrtEngine } = await import(${JSON.stringify(dist('engine/onnxruntime.js'))}); const e = await OrtEngine.load(${JSON.stringify(v.modelPath)}, ${engineOpts}); ${runs('e')}`) : Number.NaN;
    const hosted = v ? await nodeRss(ctx.o.workDir, `const { EngineHost } = await import(${JSON.stringify(dist('engine/host.js'))}); const e = await EngineHost.start(${JSON.stringify(v.modelPath)}, ${engineOpts}); ${runs('e')}`) : Number.NaN;
    const r50 = median(rss);
    const rmax = Math.max(...rss);
    const rows = [
      ['node (empty event loop)', fmt(node)],
      ['node + onnxruntime-node imported', fmt(nodeOrt)],
      [`model file (${variant})`, fmt(modelMb)],
      ['node + model file', fmt(node + modelMb)],
      ['node + onnxruntime + model file', fmt(nodeOrt + modelMb)],
      ['node + the module graph of `edgefit run` (before it starts)', fmt(cli)],
      ['node + OrtEngine session of the model, main thread, 5 runs', fmt(session)],
      ['node + EngineHost (worker thread) of the model, 5 runs', fmt(hosted)],
      [`edgefit run, RSS median (${resultsPerS.toFixed(1)} results/s)`, fmt(r50)],
      ['edgefit run, RSS max while sampled', fmt(rmax)],
      ['edgefit run, peak RSS since start (VmHWM)', fmt(hwm)],
    ];
    return {
      name: 'memory',
      title: 'Memory: RSS of a running daemon with the largest rung (MB)',
      table: table(['process', 'MB'], rows),
      targets: [{ what: `daemon RSS with the largest rung (${variant}), x64`, target: '< 150 MB', measured: `${fmt(r50)} MB (max ${fmt(rmax)}, VmHWM ${fmt(hwm)})`, met: rmax < 150 }],
      notes: [
        `Where it goes: the run command's module graph ${fmt(cli - node)} MB over bare node (mqtt.js and aedes load only with MQTT, ajv not at all: the config validator is generated code); a session of this model ${fmt(session - nodeOrt)} MB over node + onnxruntime; the worker thread ${fmt(hosted - session)} MB over the same session on the main thread.`,
        `The daemon's RSS over node + onnxruntime + model file: ${fmt(r50 - nodeOrt - modelMb)} MB (the worker thread's V8 isolate, the session's arenas and the optimized graph, the frame ring).`,
        'Profiling at start-up runs in child processes: their memory is not in the daemon\'s RSS. With an ffmpeg camera, ffmpeg is a separate process too.',
        'The session is created from onnxruntime\'s optimized graph, made once in a child process and kept in the state directory (src/engine/optimized-model.ts): without it the optimizer\'s transient copies stay resident (+15-20 MB for MobileNet-v2 fp32).',
        'The largest network runs in whichever precision measured faster here, so the rung (int8 or its fp32 twin) varies between runs; the fp32 twin makes the larger process.',
      ],
      data: { nodeMb: node, nodeOrtMb: nodeOrt, cliMb: cli, sessionMb: session, hostMb: hosted, modelMb, variant, rssMb: rss, hwmMb: hwm, resultsPerS },
    };
  } finally {
    await d.stop();
    removeDir(state);
  }
}
