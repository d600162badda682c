import type { ProviderName } from '../engine/engine.js';
import type { DeviceInfo } from './types.js';

/** The probe's reason for a provider it did not prove (the check's evidence and error, or why there is no check). */
export function unprovenReason(device: Pick<DeviceInfo, 'providers'>, p: ProviderName): string {
  const check = device.providers.checks.find((c) => c.name === p);
  if (check) return [check.evidence, check.error].filter(Boolean).join(': ');
  if (device.providers.status === 'unavailable' && (p === 'cpu' || p === 'cuda' || p === 'tensorrt')) return `onnxruntime-node did not load (${device.providers.error ?? 'unknown error'})`;
  if (device.providers.status === 'skipped') return 'providers were not probed';
  return 'the device probe did not prove it';
}

/** Configured providers (engine.providers) the probe did not prove, each with the reason. */
export function unusableConfigured(device: Pick<DeviceInfo, 'providers'>, configured: readonly ProviderName[]): { provider: ProviderName; reason: string }[] {
  const usable = new Set(device.providers.usable);
  return configured.filter((p) => !usable.has(p)).map((provider) => ({ provider, reason: unprovenReason(device, provider) }));
}
