import { readFile, readdir } from 'node:fs/promises';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** Process CPU (% of one core) since the previous call. */
export class CpuMeter {
  private last = process.cpuUsage();
  private lastAt = performance.now();
  sample(): number {
    const now = performance.now();
    const u = process.cpuUsage(this.last);
    this.last = process.cpuUsage();
    const wall = (now - this.lastAt) * 1000;
    this.lastAt = now;
    return wall > 0 ? Math.round(((u.user + u.system) / wall) * 1000) / 10 : 0;
  }
}

/** Event-loop delay p99 over the telemetry period: proves the main thread never waits on inference. */
export class LoopDelay {
  private readonly h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  constructor() { this.h.enable(); }
  p99Ms(reset = true): number {
    const v = this.h.count > 0 ? this.h.percentile(99) / 1e6 : 0;
    if (reset) this.h.reset();
    return Math.round(v * 100) / 100;
  }
  stop(): void { this.h.disable(); }
}

/** The hottest CPU thermal zone in °C, or null where the board exposes none. */
export async function cpuTemperature(root = '/'): Promise<number | null> {
  const base = `${root.replace(/\/$/, '')}/sys/class/thermal`;
  let zones: string[];
  try { zones = (await readdir(base)).filter((z) => z.startsWith('thermal_zone')); } catch { return null; }
  let best: number | null = null;
  for (const z of zones) {
    try {
      const milli = Number((await readFile(`${base}/${z}/temp`, 'utf8')).trim());
      // a broken or unwired sensor reads e.g. -273200 or 2147483647: not a temperature, and outside the schema
      if (Number.isFinite(milli) && milli >= -60_000 && milli <= 200_000) best = Math.max(best ?? -Infinity, milli / 1000);
    } catch { /* zone without a readable temp */ }
  }
  return best === null ? null : Math.round(best * 10) / 10;
}
