/**
 * edgefit's benchmark suite. Every comparison is measured in one run, interleaved, and reported as medians and
 * ratios: the figures of a shared or thermally throttled board drift, their ratios much less.
 *
 *   npm run build && node dist/scripts/bench.js [--only ladder,pipeline,...] [--quick] [--out FILE] [--work DIR]
 *
 * Sections: ladder, pipeline, eventloop, memory, selection, startup, quantizer, hotpath, detection, cameras, imported, kernels, tfjs, metrics, fleet.
 * Prints a table per section and writes artifacts/bench-<date>.json (or --out).
 */
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../src/util/atomic.js';
import { projectRoot } from '../src/util/paths.js';
import { BenchContext, defaultWorkDir, machineFacts, type Section, type SectionResult } from './bench/context.js';
import { ladderSection } from './bench/ladder.js';
import { pipelineSection } from './bench/pipeline.js';
import { eventLoopSection } from './bench/eventloop.js';
import { memorySection } from './bench/memory.js';
import { selectionSection } from './bench/selection.js';
import { startupSection } from './bench/startup.js';
import { quantizerSection } from './bench/quantizer.js';
import { hotPathSection } from './bench/hotpath.js';
import { detectionSection } from './bench/detection.js';
import { camerasSection } from './bench/cameras.js';
import { importedSection } from './bench/imported.js';
import { kernelsSection } from './bench/kernels.js';
import { fleetSection } from './bench/fleet.js';
import { tfjsSection } from './bench/tfjs.js';
import { metricsSection } from './bench/metrics.js';
import { targetsMarkdown } from './bench/report.js';

const SECTIONS: Record<string, Section> = {
  ladder: ladderSection,
  pipeline: pipelineSection,
  eventloop: eventLoopSection,
  memory: memorySection,
  selection: selectionSection,
  startup: startupSection,
  quantizer: quantizerSection,
  hotpath: hotPathSection,
  detection: detectionSection,
  cameras: camerasSection,
  imported: importedSection,
  kernels: kernelsSection,
  fleet: fleetSection,
  tfjs: tfjsSection,
  metrics: metricsSection,
};

interface Args { only: string[]; quick: boolean; out: string; work: string }

function parseArgs(argv: string[]): Args {
  const date = new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
  const a: Args = { only: Object.keys(SECTIONS), quick: false, out: join(projectRoot, 'artifacts', `bench-${date}.json`), work: defaultWorkDir() };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value`);
      return v;
    };
    if (k === '--only') {
      a.only = val().split(',').map((s) => s.trim()).filter(Boolean);
      const bad = a.only.filter((s) => !(s in SECTIONS));
      if (bad.length) throw new Error(`unknown section ${bad.join(', ')}; sections: ${Object.keys(SECTIONS).join(', ')}`);
    } else if (k === '--quick') a.quick = true;
    else if (k === '--out') a.out = val();
    else if (k === '--work') a.work = val();
    else if (k === '--help' || k === '-h') {
      process.stdout.write(`usage: node dist/scripts/bench.js [--only ${Object.keys(SECTIONS).join(',')}] [--quick] [--out FILE] [--work DIR]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${k}; try --help`);
  }
  return a;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const machine = machineFacts();
  const log = (l: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${l}\n`);
  log(`machine: ${machine.cpu}, ${machine.cores} cores, VNNI ${machine.vnni ? 'yes' : 'no'}, AVX2 ${machine.avx2 ? 'yes' : 'no'}, load ${machine.loadavg}; node ${machine.node}, onnxruntime ${machine.ort}`);
  const ctx = new BenchContext({ quick: args.quick, workDir: args.work, log });
  const results: SectionResult[] = [];
  const failed: { name: string; error: string }[] = [];
  for (const name of args.only) {
    const s0 = Date.now();
    log(`== ${name}`);
    try {
      const r = await SECTIONS[name]!(ctx);
      results.push(r);
      process.stdout.write(`\n## ${r.title}\n\n${r.table}\n${r.notes.map((n) => `  * ${n}`).join('\n')}\n`);
      log(`== ${name} done in ${((Date.now() - s0) / 1000).toFixed(0)} s`);
    } catch (err) {
      const e = err as Error;
      failed.push({ name, error: e.stack ?? e.message });
      log(`== ${name} FAILED: ${e.stack ?? e.message}`);
    }
  }
  const targets = results.flatMap((r) => r.targets.map((t) => ({ section: r.name, ...t })));
  if (targets.length) process.stdout.write(`\n## Targets\n\n${targetsMarkdown(targets)}\n`);
  const machineEnd = machineFacts();
  mkdirSync(dirname(args.out), { recursive: true });
  await writeFileAtomic(args.out, JSON.stringify({
    date: new Date().toISOString(), seconds: Math.round((Date.now() - t0) / 1000), quick: args.quick, machine, loadavgAtEnd: machineEnd.loadavg,
    results, targets, failed,
  }, null, 2) + '\n');
  log(`wrote ${args.out}`);
  if (failed.length) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
