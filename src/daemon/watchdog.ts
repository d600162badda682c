import type { Service } from './service.js';
import type { Systemd } from './systemd.js';

/**
 * The systemd watchdog (WATCHDOG_USEC): fed only while frames really flow or the operator paused, not by a
 * bare timer, so a daemon whose inference stalled is restarted by systemd.
 */
export class WatchdogService implements Service {
  readonly name = 'watchdog';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly systemd: Systemd, private readonly frames: () => { paused: boolean; lastResultAt: number }) {}

  async start(): Promise<void> {
    const ms = this.systemd.watchdogMs;
    if (ms <= 0) return;
    this.timer = setInterval(() => {
      const s = this.frames();
      if (s.paused || Date.now() - s.lastResultAt < Math.max(ms, 5000)) this.systemd.notify('WATCHDOG=1');
    }, Math.max(1000, ms / 3));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
