/**
 * Which of the configured providers (engine.providers) this board can use, and what is said about the others: a
 * configured provider the device probe did not prove is never dropped in silence. The daemon logs `notice` (a
 * warning, unless it is the default chain on a board without a GPU), the retained `model` payload's reason carries it, and `edgefit doctor` lists each one.
 */
import type { Config } from '../config/types.js';
import type { DeviceInfo } from '../device/types.js';
import type { ProviderName } from '../types/provider.js';
import { unusableConfigured } from '../device/unproven.js';

export interface ProviderPlan {
  /** the providers measured and run, in the configured order (never empty) */
  chain: ProviderName[];
  /** configured but not usable here, with the probe's reason */
  unavailable: { provider: ProviderName; reason: string }[];
  /** true when no configured provider is usable and `chain` is the board's best proven one (or cpu) instead */
  substituted: boolean;
  /** one sentence for the log and the model payload; undefined when every configured provider is usable */
  notice?: string;
  /**
   * the default chain (tensorrt, cuda, cpu: "a GPU if there is one") on a board without a GPU, running cpu as
   * configured: said at info level in the log (and in the model payload), not as a warning at every start
   */
  expected: boolean;
}

const DEFAULT_CHAIN = 'tensorrt,cuda,cpu';

export function providerPlan(config: Config, device: DeviceInfo): ProviderPlan {
  const usable = new Set(device.providers.usable);
  const chain = config.engine.providers.filter((p) => usable.has(p));
  const unavailable = unusableConfigured(device, config.engine.providers);
  // nothing configured works: the board's most preferred proven provider (onnxruntime's cpu, or tfjs-wasm where
  // onnxruntime-node has no binary), else cpu, which then fails loudly when the model is loaded
  const substituted = chain.length === 0;
  if (substituted) chain.push(device.providers.usable[0] ?? 'cpu');
  const expected = !substituted && config.engine.providers.join(',') === DEFAULT_CHAIN;
  if (unavailable.length === 0) return { chain, unavailable, substituted, expected };
  const names = unavailable.map((u) => u.provider).join(', ');
  const notice = `${names} configured but not available on this board: using ${chain.join(', ')}`;
  return { chain, unavailable, substituted, notice, expected };
}
