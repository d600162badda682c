import type { Variant } from '../../src/catalog/types.js';
import type { ProviderName } from '../../src/engine/engine.js';
import type { Family } from '../../src/zoo/graph.js';
import type { Measurement } from '../../src/profile/types.js';
import { mulberry32 } from '../../src/zoo/init.js';

/** Seeded PRNG (mulberry32) so property tests replay exactly. */
export function rng(seed: number): () => number {
  return mulberry32(seed);
}

export function variant(id: string, o: Partial<Variant> = {}): Variant {
  return {
    id,
    family: 'mobilenet_v1' as Family,
    alpha: 1,
    resolution: 224,
    precision: 'int8',
    macs: 100e6,
    params: 1e6,
    modelPath: `/nonexistent/${id}.onnx`,
    sha256: '0'.repeat(64),
    pretrained: true,
    input: { layout: 'NHWC', dtype: 'uint8' },
    source: 'test',
    ...o,
  };
}

export function meas(variantId: string, p90: number, o: { mem?: number; threads?: number; provider?: ProviderName; p50?: number; p99?: number } = {}): Measurement {
  return {
    variantId,
    provider: o.provider ?? 'cpu',
    threads: o.threads ?? 1,
    ok: true,
    runs: 20,
    latencyMs: { p50: o.p50 ?? p90 * 0.9, p90, p99: o.p99 ?? p90 * 1.2, mean: p90 * 0.92, stddev: 1, min: p90 * 0.8, max: p90 * 1.3 },
    sessionCreateMs: 10,
    rssGrowthMb: (o.mem ?? 10) * 0.8,
    peakMb: o.mem ?? 10,
    measuredAt: '2024-01-01T00:00:00.000Z',
  };
}

export function failed(variantId: string, error: string): Measurement {
  return { ...meas(variantId, NaN), ok: false, error, latencyMs: { p50: NaN, p90: NaN, p99: NaN, mean: NaN, stddev: NaN, min: NaN, max: NaN }, peakMb: NaN, rssGrowthMb: NaN };
}
