import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { probeDevice, boardFingerprint } from '../device/probe.js';
import { probeProvidersIsolated } from '../device/providers-isolated.js';
import { budgetFor, cachePathOf, coresOf, measurerFor, probeDirOf, selectModel, usableProviders } from '../select/choose.js';
import { ProfileCache } from '../profile/cache.js';
import { threadCounts } from '../profile/measure.js';
import { ProgressBar } from '../profile/progress.js';
import { specsFor } from '../select/search.js';
import { decisionTable } from '../select/table.js';
import { plotSvg, plotDataFromDecision } from '../select/plot.js';
import { loadVariants, parseProviders, parseThreads, type BudgetFlags, type LadderFlags } from '../select/inputs.js';
import { loadProbeSet } from '../profile/agreement.js';
import { EdgefitError } from '../util/errors.js';
import { configFrom, withConfig, type ConfigFlags } from './config-flags.js';

interface Flags extends BudgetFlags, LadderFlags, ConfigFlags {
  threads?: string; providers?: string; json?: boolean; plot?: string; all?: boolean; refresh?: boolean; cache?: string; probe?: string;
  minRuns?: string; minSeconds?: string;
}

export function register(program: Command): void {
  withConfig(program
    .command('profile')
    .description('measure the model ladder on this board (each model in an isolated child process, cached) and show what the budget picks')
    .option('--catalog <file>', 'catalog JSON to take the ladder from (default: the configured catalog)')
    .option('--models <dir>', 'directory of <name>.onnx with <name>.card.json beside them')
    .option('--budget-ms <n>', 'latency budget at the percentile (ms)')
    .option('--fps <n>', 'frame-rate budget (1000/fps ms)')
    .option('--budget-mb <n>', 'memory the model may add (MB)')
    .option('--min-accuracy <x>', 'minimum top-1, published or estimated (0.65 or 65)')
    .option('--percentile <p>', 'p50, p90 (default) or p99')
    .option('--probe <dir>', 'photos each reduced-resolution rung is compared on with its native model (default: profile.probeDir)')
    .option('--min-agreement <x>', 'demote a rung whose top-1 agrees with its native model on fewer probe frames than this (0.5 or 50; 0 = never)')
    .option('--threads <n|auto>', 'intra-op threads; auto measures 1, cores-1 and all cores')
    .option('--providers <list>', 'execution providers, comma-separated (default: configured and usable here)')
    .option('--all', 'measure every candidate (brute force) instead of the pruning search')
    .option('--refresh', 'measure again even where the cache has figures')
    .option('--cache <file>', 'profile cache file (default: <stateDir>/profile-cache.json)')
    .option('--min-runs <n>', 'timed runs per measurement (default from config)')
    .option('--min-seconds <s>', 'timed seconds per measurement (default from config)')
    .option('--json', 'print JSON')
    .option('--plot <file.svg>', 'write an SVG chart: size vs latency, budget line, choice and losers'))
    .action(async (flags: Flags) => {
      const config = configFrom(flags);
      // as the daemon does: providers proven in a child process on the library the engine loads
      // (engine.ortLibraryPath), and every measurement made on that library with the engine's TensorRT options
      const [probed, providers] = await Promise.all([probeDevice({ ort: null }), probeProvidersIsolated(config.engine.ortLibraryPath || undefined)]);
      const device = { ...probed, providers };
      const board = boardFingerprint(device);
      const variants = await loadVariants(flags, config, (l) => process.stderr.write(l + '\n'));
      const chain = parseProviders(flags.providers) ?? usableProviders(config, device);
      const budget = budgetFor(config, device, flags);
      const probeDir = flags.probe ?? probeDirOf(config);
      const probe = await loadProbeSet(probeDir);
      if (flags.probe && !probe) throw new EdgefitError('E_FLAGS', `--probe ${flags.probe}: no JPEG, PNG or BMP photo there to compare the rungs on`);
      if (!probe && variants.some((v) => v.nativeResolution !== undefined && v.resolution < v.nativeResolution)) {
        process.stderr.write(`note: no probe frames in ${probeDir}: the reduced-resolution rungs' agreement with their native model is not measured (give --probe DIR of photos)\n`);
      }
      const threads = parseThreads(flags.threads) ?? (config.engine.threads > 0 ? config.engine.threads : 'auto');
      const cache = new ProfileCache(flags.cache ?? cachePathOf(config));
      if (cache.warning) process.stderr.write(`warning: ${cache.warning}\n`);
      const specs = specsFor(variants, chain);
      const perCandidate = threads === 'auto' ? threadCounts(coresOf(device)).length : 1;
      const bar = new ProgressBar(process.stderr, specs.length * perCandidate);
      const measure = measurerFor(config, {
        board, budget, cache, threads, cores: coresOf(device), refresh: flags.refresh ?? false, ...(probe ? { probe } : {}),
        ...(flags.minRuns !== undefined ? { minRuns: Number(flags.minRuns) } : {}),
        ...(flags.minSeconds !== undefined ? { minMs: Number(flags.minSeconds) * 1000 } : {}),
        onProgress: (p) => bar.update(p),
      });
      const { decision, candidates } = await selectModel(specs, budget, measure, { all: flags.all ?? false });
      bar.finish();
      if (flags.plot) {
        writeFileSync(flags.plot, plotSvg(plotDataFromDecision(candidates, decision, `edgefit profile on ${board}`)));
      }
      if (flags.json) {
        process.stdout.write(JSON.stringify({ board, budget, decision, candidates }, null, 2) + '\n');
      } else {
        process.stdout.write(`board ${board}\n`);
        process.stdout.write(decisionTable(candidates, decision));
        if (flags.plot) process.stdout.write(`chart written to ${flags.plot}\n`);
      }
      if (!decision.chosen) process.exitCode = 2;
    });
}
