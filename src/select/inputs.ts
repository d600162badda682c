import type { Variant } from '../catalog/types.js';
import type { BudgetConfig, Config } from '../config/types.js';
import type { ProviderName } from '../engine/engine.js';
import { buildLadder, loadCatalog } from '../catalog/index.js';
import { variantsFromModelsDir } from '../profile/models-dir.js';
import { EdgefitError } from '../util/errors.js';

/** Command-line flags shared by `edgefit profile` and `edgefit select` (commander hands over strings). */
export interface LadderFlags { catalog?: string; models?: string }
export interface BudgetFlags { budgetMs?: string; budgetMb?: string; fps?: string; minAccuracy?: string; percentile?: string; minAgreement?: string }

/** The variants to consider: `--models DIR`, else the catalog (`--catalog FILE` or the configured one). */
export async function loadVariants(flags: LadderFlags, config: Config, log: (l: string) => void): Promise<Variant[]> {
  if (flags.catalog && flags.models) throw new EdgefitError('E_FLAGS', 'give --catalog FILE or --models DIR, not both');
  if (flags.models) return variantsFromModelsDir(flags.models);
  const catalog = flags.catalog ? loadCatalog(flags.catalog) : undefined;
  const variants = await buildLadder(config, { log, ...(catalog ? { catalog } : {}) });
  if (variants.length === 0) throw new EdgefitError('E_NO_MODELS', 'no model to measure: run `edgefit models pull`, or give --models DIR');
  return variants;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new EdgefitError('E_FLAGS', `${flag} needs a number > 0 (got "${v}")`);
  return n;
}

/**
 * The budget flags as overrides of the configured budget, field by field (as the daemon's budget command), so a
 * flag leaves the rest of the configuration standing (its memory cap above all). --min-accuracy takes 0.65 or
 * 65 (%). Given both --budget-ms and --fps, the smaller latency wins.
 */
export function budgetOverrideFromFlags(f: BudgetFlags): Partial<BudgetConfig> {
  const o: Partial<BudgetConfig> = {};
  const ms = num('--budget-ms', f.budgetMs), mb = num('--budget-mb', f.budgetMb), fps = num('--fps', f.fps);
  let acc = num('--min-accuracy', f.minAccuracy);
  if (acc !== undefined && acc > 1) acc /= 100;
  if (acc !== undefined && acc > 1) throw new EdgefitError('E_FLAGS', `--min-accuracy is a fraction 0..1 or a percentage 0..100 (got "${f.minAccuracy}")`);
  if (fps !== undefined) { o.fps = fps; o.latencyMs = 0; }
  if (ms !== undefined) o.latencyMs = fps !== undefined ? Math.min(ms, 1000 / fps) : ms;
  if (mb !== undefined) o.memoryMb = mb;
  if (acc !== undefined) o.minAccuracy = acc;
  if (f.percentile !== undefined) {
    const pct = ({ p50: 50, p90: 90, p99: 99 } as Record<string, BudgetConfig['percentile'] | undefined>)[f.percentile];
    if (pct === undefined) throw new EdgefitError('E_FLAGS', `--percentile is p50, p90 or p99 (got "${f.percentile}")`);
    o.percentile = pct;
  }
  return o;
}

/**
 * The demotion threshold: --min-agreement (0.5 or 50, 0 = never demote), else profile.minAgreement of the
 * configuration, so a budget given by flags keeps the configured threshold.
 */
export function minAgreementFrom(f: BudgetFlags, config: Config): number {
  if (f.minAgreement === undefined) return config.profile.minAgreement;
  let n = Number(f.minAgreement);
  if (f.minAgreement.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new EdgefitError('E_FLAGS', `--min-agreement is a fraction 0..1 or a percentage 0..100, 0 = never demote (got "${f.minAgreement}")`);
  if (n > 1) n /= 100;
  return n;
}

const PROVIDERS: readonly ProviderName[] = ['tensorrt', 'cuda', 'cpu', 'wasm', 'tfjs-node', 'tfjs-wasm'];

export function parseProviders(v: string | undefined): ProviderName[] | undefined {
  if (v === undefined) return undefined;
  const list = v.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of list) {
    if (!PROVIDERS.includes(p as ProviderName)) throw new EdgefitError('E_FLAGS', `--providers: unknown provider "${p}" (known: ${PROVIDERS.join(', ')})`);
  }
  if (list.length === 0) throw new EdgefitError('E_FLAGS', '--providers needs at least one provider, e.g. cpu');
  return list as ProviderName[];
}

export function parseThreads(v: string | undefined): number | 'auto' | undefined {
  if (v === undefined) return undefined;
  if (v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new EdgefitError('E_FLAGS', `--threads is a whole number >= 1 or "auto" (got "${v}")`);
  return n;
}
