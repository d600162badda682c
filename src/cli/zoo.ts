import type { Command } from 'commander';
import { EdgefitError } from '../util/errors.js';
import { formatLadderTable, ladderRows, writeZooModel } from '../catalog/zoo-artifacts.js';
import { formatLayerTable, graphCost } from '../zoo/cost.js';
import type { Activation, Family } from '../zoo/graph.js';
import { zeroWeights } from '../zoo/init.js';
import { buildGraph, zooLadder, type BuildOptions } from '../zoo/registry.js';

interface VariantFlags {
  family: string;
  alpha?: string;
  resolution?: string;
  classes?: string;
  seed?: string;
  activation?: string;
  option?: string[];
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new EdgefitError('E_FLAGS', `--${flag} must be a number, not ${JSON.stringify(v)}`);
  return n;
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

/** Flags to BuildOptions; the registry validates the values and names the accepted ones. */
function buildOptions(f: VariantFlags): BuildOptions {
  const options: Record<string, string> = {};
  for (const kv of f.option ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new EdgefitError('E_FLAGS', `--option takes key=value (e.g. --option groups=3), not ${JSON.stringify(kv)}`);
    options[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const resolution = num('resolution', f.resolution);
  if (resolution === undefined) throw new EdgefitError('E_FLAGS', '--resolution is required (e.g. --resolution 224)');
  return {
    family: f.family as Family,
    alpha: num('alpha', f.alpha),
    resolution,
    classes: num('classes', f.classes),
    seed: num('seed', f.seed),
    activation: f.activation as Activation | undefined,
    options,
  };
}

function variantFlags(cmd: Command): Command {
  return cmd
    .requiredOption('--family <name>', 'mobilenet_v1, mobilenet_v2, shufflenet_v1, squeezenet or xception')
    .option('--alpha <a>', 'width multiplier (MobileNets) or scale factor (ShuffleNet)')
    .option('--resolution <px>', 'input side in pixels')
    .option('--classes <n>', 'number of classes (default 1000)')
    .option('--activation <relu|relu6>', 'activation (default relu6 for MobileNets, relu otherwise)')
    .option('--option <key=value>', 'family option, e.g. groups=3 (ShuffleNet), version=1.1 (SqueezeNet), classifier=dense (repeatable)', collect);
}

export function register(program: Command): void {
  const zoo = program.command('zoo').description('list and build small-CNN variants (MobileNet-v1/v2, ShuffleNet, SqueezeNet, Xception)');

  zoo.command('list')
    .description('the default ladder with exact params, MACs, peak activation memory and int8 size')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const rows = ladderRows(zooLadder());
      process.stdout.write((opts.json ? JSON.stringify(rows, null, 2) : formatLadderTable(rows)) + '\n');
    });

  variantFlags(zoo.command('build'))
    .description('build one variant with seeded weights: writes <id>.onnx (uint8 NHWC input, BN folded) and <id>.card.json')
    .option('--seed <n>', 'seed of the He initialisation (default 0)')
    .option('--out <dir>', 'output directory', '.')
    .option('--dynamic-resolution', 'symbolic H/W input dims (the graph pools globally, so any size runs)')
    .action(async (f: VariantFlags & { out: string; dynamicResolution?: boolean }) => {
      const w = await writeZooModel(buildOptions(f), f.out, { dynamicResolution: f.dynamicResolution });
      const c = w.card.costs;
      process.stdout.write(`${w.onnxPath}\n${w.cardPath}\n${w.id}: ${c.params} params, ${c.macs.total} MACs, int8 ${c.weightBytes.int8} B\n`);
    });

  variantFlags(zoo.command('cost'))
    .description('per-layer cost table of one variant (nothing is written)')
    .option('--json', 'print JSON')
    .action((f: VariantFlags & { json?: boolean }) => {
      const cost = graphCost(buildGraph({ ...buildOptions(f), weights: zeroWeights }));
      process.stdout.write((f.json ? JSON.stringify(cost, null, 2) : formatLayerTable(cost)) + '\n');
    });
}
