import type { PiThrottle, ThermalInfo, ThermalZone } from './types.js';
import type { FsRoot } from './fsroot.js';
import type { RunCommand } from './commands.js';

export async function readThermalZones(fs: FsRoot): Promise<ThermalZone[]> {
  const zones: ThermalZone[] = [];
  const names = (await fs.list('/sys/class/thermal')).filter((d) => /^thermal_zone\d+$/.test(d));
  names.sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  for (const zone of names) {
    const milli = await fs.int(`/sys/class/thermal/${zone}/temp`);
    // disabled zones read as an error or a sentinel; skip them rather than report nonsense
    if (milli === null || milli <= -273000) continue;
    const type = (await fs.line(`/sys/class/thermal/${zone}/type`)) ?? 'unknown';
    zones.push({ zone, type, tempC: Math.round(milli / 100) / 10 });
  }
  return zones;
}

/**
 * Decodes `throttled=0x50000` from `vcgencmd get_throttled`. Bits (Raspberry Pi firmware documentation):
 * 0 under-voltage, 1 ARM frequency capped, 2 throttled, 3 soft temperature limit; 16-19 the same since boot.
 */
export function decodeThrottled(output: string): PiThrottle | null {
  const m = /throttled=(0x[0-9a-fA-F]+|\d+)/.exec(output);
  if (!m) return null;
  const value = Number(m[1]);
  if (!Number.isSafeInteger(value)) return null;
  const bit = (b: number): boolean => (value & (1 << b)) !== 0;
  return {
    raw: m[1]!,
    value,
    now: { underVoltage: bit(0), armFreqCapped: bit(1), throttled: bit(2), softTempLimit: bit(3) },
    sinceBoot: { underVoltage: bit(16), armFreqCapped: bit(17), throttled: bit(18), softTempLimit: bit(19) },
  };
}

export async function probeThermal(fs: FsRoot, isPi: boolean, run: RunCommand): Promise<ThermalInfo> {
  const zones = await readThermalZones(fs);
  if (zones.length === 0 && fs.live) {
    // no sysfs zones (some x86 boxes, VMs): systeminformation also asks lm-sensors
    // systeminformation only as a fallback, loaded when needed (it costs ~11 MB)
    const si = (await import('systeminformation')).default;
    const t = await si.cpuTemperature().catch(() => null);
    if (t && typeof t.main === 'number' && Number.isFinite(t.main)) zones.push({ zone: 'sensors', type: 'cpu', tempC: t.main });
  }
  const maxC = zones.length > 0 ? Math.max(...zones.map((z) => z.tempC)) : null;
  const throttle = isPi ? await readThrottle(run) : null;
  return { zones, maxC, throttle };
}

/** The Pi firmware's throttle state now (`vcgencmd get_throttled`); null when it cannot tell. */
export async function readThrottle(run: RunCommand): Promise<PiThrottle | null> {
  const out = await run('vcgencmd', ['get_throttled']);
  return out === null ? null : decodeThrottled(out);
}

const THROTTLE_LABEL: Record<keyof PiThrottle['now'], string> = {
  underVoltage: 'under-voltage',
  armFreqCapped: 'ARM frequency capped',
  throttled: 'throttled',
  softTempLimit: 'soft temperature limit',
};

/** Human names of the set flags, e.g. ['under-voltage', 'throttled']. */
export function throttleFlags(flags: PiThrottle['now']): string[] {
  return (Object.keys(THROTTLE_LABEL) as Array<keyof PiThrottle['now']>).filter((k) => flags[k]).map((k) => THROTTLE_LABEL[k]);
}
