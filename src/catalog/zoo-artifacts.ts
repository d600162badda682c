/**
 * What `edgefit zoo` produces: the ladder's cost table, and a built variant written as <id>.onnx beside
 * <id>.card.json (the importers' ModelCard plus the zoo's exact costs).
 */
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { emitOnnx } from '../onnx/emit.js';
import type { ModelCard } from '../importers/types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { graphCost, type GraphCost } from '../zoo/cost.js';
import { zeroWeights } from '../zoo/init.js';
import { buildGraph, formatAlpha, resolveOptions, variantId, type BuildOptions } from '../zoo/registry.js';
import { ssdliteDetectionSpec } from '../zoo/ssdlite.js';

export interface CostSummary {
  params: number;
  trainableParams: number;
  paramsWithBn: number;
  macs: GraphCost['macs'];
  weightBytes: GraphCost['weightBytes'];
  peakActivation: GraphCost['peakActivation'];
  peakActivationFused: GraphCost['peakActivationFused'];
}

export interface LadderRow extends CostSummary {
  id: string;
  family: BuildOptions['family'];
  alpha: number;
  resolution: number;
  options: Record<string, string | number | boolean>;
}

export function summarize(c: GraphCost): CostSummary {
  return {
    params: c.params,
    trainableParams: c.trainableParams,
    paramsWithBn: c.paramsWithBn,
    macs: c.macs,
    weightBytes: c.weightBytes,
    peakActivation: c.peakActivation,
    peakActivationFused: c.peakActivationFused,
  };
}

/** Costs of every rung; weights are not generated (costs depend on shapes only). */
export function ladderRows(ladder: BuildOptions[]): LadderRow[] {
  return ladder.map((opts) => {
    const o = resolveOptions({ ...opts, weights: zeroWeights });
    const g = buildGraph({ ...opts, weights: zeroWeights });
    return { id: variantId(opts), family: o.family, alpha: o.alpha, resolution: o.resolution, options: o.options, ...summarize(graphCost(g)) };
  });
}

function si(n: number, unit = ''): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G${unit}`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M${unit}`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k${unit}`;
  return `${n}${unit}`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(2)} MiB`;
}

export function formatLadderTable(rows: LadderRow[]): string {
  const table = [['id', 'family', 'alpha', 'res', 'params', 'MACs', 'peak act fp32', 'peak act int8', 'int8 size']];
  for (const r of rows) {
    table.push([r.id, r.family, formatAlpha(r.alpha), String(r.resolution), si(r.params), si(r.macs.total), mib(r.peakActivation.fp32Bytes), mib(r.peakActivation.int8Bytes), mib(r.weightBytes.int8)]);
  }
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((v, i) => (i >= 2 ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd());
  lines.push('', 'params without BN (papers\' convention); MACs = conv + dense mult-adds; peak act = largest live tensor set of the');
  lines.push('sequential schedule (graph as built, BN unfolded); int8 size = 1 B/weight + 4 B/bias with BN folded.');
  return lines.join('\n');
}

export interface ZooCard extends ModelCard {
  id: string;
  seed: number;
  pretrained: false;
  activation: string;
  options: Record<string, string | number | boolean>;
  costs: CostSummary;
}

export interface WrittenModel {
  id: string;
  onnxPath: string;
  cardPath: string;
  card: ZooCard;
}

/** Builds a variant with seeded weights, emits ONNX (uint8 NHWC input, BN folded) and writes both files atomically. */
export async function writeZooModel(opts: BuildOptions, outDir: string, emit: { dynamicResolution?: boolean } = {}): Promise<WrittenModel> {
  const o = resolveOptions(opts);
  const id = variantId(opts);
  const g = buildGraph(opts);
  const cost = graphCost(g);
  const dynamic = emit.dynamicResolution ?? false;
  const onnx = emitOnnx(g, { input: 'uint8-nhwc', foldBn: true, dynamicResolution: dynamic });
  const dir = resolve(outDir);
  const onnxPath = join(dir, `${id}.onnx`);
  const cardPath = join(dir, `${id}.card.json`);
  const card: ZooCard = {
    name: id,
    id,
    family: o.family,
    alpha: o.alpha,
    resolution: o.resolution,
    anyResolution: dynamic,
    precision: 'fp32',
    // the model normalises (p/127.5 - 1) itself
    input: { layout: 'NHWC', dtype: 'uint8' },
    output: o.options['softmax'] === true ? 'probabilities' : 'logits',
    classes: o.classes,
    background: false,
    source: { format: 'zoo', file: `${id}.onnx`, sha256: createHash('sha256').update(onnx).digest('hex') },
    seed: o.seed,
    pretrained: false,
    activation: o.activation,
    options: o.options,
    costs: summarize(cost),
    // a zoo SSDLite: output `raw` [1, anchors, 4 + classes + 1], decoded with its anchors
    ...(o.options['head'] === 'ssdlite' ? { task: 'detection' as const, detection: ssdliteDetectionSpec(o.resolution, o.classes) } : {}),
  };
  await writeFileAtomic(onnxPath, onnx);
  await writeFileAtomic(cardPath, JSON.stringify(card, null, 2) + '\n');
  return { id, onnxPath, cardPath, card };
}
