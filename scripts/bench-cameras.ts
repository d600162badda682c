/**
 * Several cameras on one board, alone (the same section as `npm run bench -- --only cameras`): for 1-4 identical
 * cameras, the joint choice, the chosen set run concurrently, achieved fps per camera, p90 and the gap between
 * predicted and measured load.
 *   npm run build && node dist/scripts/bench-cameras.js [--quick] [--work DIR]
 */
import { BenchContext, defaultWorkDir, machineFacts } from './bench/context.js';
import { camerasSection } from './bench/cameras.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const w = argv.indexOf('--work');
  const work = w >= 0 && argv[w + 1] ? argv[w + 1]! : defaultWorkDir();
  const t0 = Date.now();
  const log = (l: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${l}\n`);
  const m = machineFacts();
  log(`machine: ${m.cpu}, ${m.cores} cores, load ${m.loadavg}; node ${m.node}, onnxruntime ${m.ort}`);
  const r = await camerasSection(new BenchContext({ quick, workDir: work, log }));
  process.stdout.write(`\n## ${r.title}\n\n${r.table}\n${r.notes.map((n) => `  * ${n}`).join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench-cameras: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
