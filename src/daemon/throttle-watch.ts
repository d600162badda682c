import type { DeviceInfo, PiThrottle } from '../device/types.js';
import { throttleReader } from '../device/probe.js';

/**
 * Whether the board throttles now, read at every telemetry window (the probe's reading is only the state at the
 * start): live adaptation steps down while it does. Both daemons' telemetry read it here.
 */
export class ThrottleWatch {
  /** the board reported throttling at the last reading */
  throttled = false;
  private reader: (() => Promise<PiThrottle | null>) | undefined;
  private known = false;

  constructor(private readonly device: () => DeviceInfo) {}

  /** The flags set now (`PiThrottle['now']` keys), [] when none, null when the board cannot tell. */
  async sample(): Promise<string[] | null> {
    if (!this.known) { this.reader = throttleReader(this.device()); this.known = true; }
    const t = this.reader ? await this.reader() : null;
    const flags = t ? Object.entries(t.now).filter(([, v]) => v).map(([k]) => k) : null;
    this.throttled = (flags?.length ?? 0) > 0;
    return flags;
  }
}
