import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { ProfileCache } from '../profile/cache.js';
import { cacheMeasure } from '../select/from-cache.js';
import { compareStatic } from '../select/policy.js';
import { budgetFor, cachePathOf, selectModel } from '../select/choose.js';
import type { Candidate } from '../select/types.js';
import { specsFor } from '../select/search.js';
import { decisionTable } from '../select/table.js';
import { plotSvg, plotDataFromDecision } from '../select/plot.js';
import { loadVariants, budgetOverrideFromFlags, parseProviders, type BudgetFlags, type LadderFlags } from '../select/inputs.js';
import { EdgefitError } from '../util/errors.js';
import { configFrom, withConfig, type ConfigFlags } from './config-flags.js';
import type { ProviderName } from '../engine/engine.js';

interface Flags extends BudgetFlags, LadderFlags, ConfigFlags {
  fromCache?: string; board?: string; providers?: string; json?: boolean; plot?: string;
}

export function register(program: Command): void {
  withConfig(program
    .command('select')
    .description('decide from cached measurements without measuring, e.g. what another board (its cache file) would pick')
    .option('--budget-ms <n>', 'latency budget at the percentile (ms)')
    .option('--fps <n>', 'frame-rate budget (1000/fps ms)')
    .option('--budget-mb <n>', 'memory the model may add (MB)')
    .option('--min-accuracy <x>', 'minimum top-1, published or estimated (0.65 or 65)')
    .option('--percentile <p>', 'p50, p90 (default) or p99')
    .option('--min-agreement <x>', 'demote a rung whose recorded top-1 agreement with its native model is below this (0.5 or 50; 0 = never)')
    .option('--from-cache <file>', 'a profile cache written by `edgefit profile` (here or on another board)')
    .option('--board <fingerprint>', 'which board of the cache (needed when it holds several)')
    .option('--catalog <file>', 'catalog JSON to take the ladder from (default: the configured catalog)')
    .option('--models <dir>', 'directory of <name>.onnx with <name>.card.json beside them')
    .option('--providers <list>', 'providers to consider (default: every provider the cache measured)')
    .option('--json', 'print JSON')
    .option('--plot <file.svg>', 'write an SVG chart'))
    .action(async (flags: Flags) => {
      const fromFlags = budgetOverrideFromFlags(flags);
      if (fromFlags.latencyMs === undefined && fromFlags.fps === undefined) {
        throw new EdgefitError('E_FLAGS', 'edgefit select needs a latency budget: --budget-ms N or --fps N');
      }
      const config = configFrom(flags);
      // no device: the cache may be another board's, whose memory this one does not know (only memoryMb caps memory)
      const budget = budgetFor(config, undefined, flags);
      const cache = flags.fromCache ? new ProfileCache(flags.fromCache, { strict: true }) : new ProfileCache(cachePathOf(config));
      let board = flags.board;
      const boards = cache.boards();
      if (!board) {
        if (boards.length === 1) board = boards[0]!;
        else if (flags.fromCache || boards.length > 1) {
          throw new EdgefitError('E_FLAGS', boards.length === 0 ? `${cache.path} holds no measurements; run \`edgefit profile\` first` : `${cache.path} holds several boards; pick one with --board: ${boards.join(', ')}`);
        } else {
          const { probeDevice, boardFingerprint } = await import('../device/probe.js');
          board = boardFingerprint(await probeDevice({ quietOrt: true }));
        }
      } else if (!boards.includes(board)) {
        throw new EdgefitError('E_FLAGS', `${cache.path} has no measurements of board ${board}; it has: ${boards.join(', ') || 'none'}`);
      }
      const variants = await loadVariants(flags, config, (l) => process.stderr.write(l + '\n'));
      const measuredProviders = [...new Set(cache.list(board).map((e) => e.key.provider))] as ProviderName[];
      const providers = parseProviders(flags.providers) ?? (measuredProviders.length ? measuredProviders : ['cpu']);
      const specs = specsFor(variants, providers);
      const { decision, candidates } = await selectModel(specs, budget, cacheMeasure(specs, cache, board), { all: true });
      const unknownAbove = decision.rejected.filter((r) => r.reason === 'not-measured' && (!decision.chosen || rankedAbove(candidates, r.id, decision.chosen.id)));
      if (unknownAbove.length > 0) {
        process.stderr.write(`warning: not measured on ${board}, and might fit: ${unknownAbove.map((r) => r.id).join(', ')}; profile them there for a complete answer\n`);
      }
      if (flags.plot) writeFileSync(flags.plot, plotSvg(plotDataFromDecision(candidates, decision, `edgefit select for ${board}`)));
      if (flags.json) {
        process.stdout.write(JSON.stringify({ board, budget, decision, candidates }, null, 2) + '\n');
      } else {
        process.stdout.write(`board ${board} (from ${cache.path}; nothing measured now)\n`);
        process.stdout.write(decisionTable(candidates, decision));
      }
      if (!decision.chosen) process.exitCode = 2;
    });
}

function rankedAbove(candidates: Candidate[], id: string, chosenId: string): boolean {
  const a = candidates.find((c) => c.id === id)!, b = candidates.find((c) => c.id === chosenId)!;
  return compareStatic(a, b) <= 0; // before measuring, demotion is not known: static rank
}
