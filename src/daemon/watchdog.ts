import type { Service } from './service.js';
import type { Systemd } from './systemd.js';

/** What the watchdog judges the daemon by. */
export interface WatchdogHealth {
  /** an operator paused inference: no results, on purpose */
  paused: boolean;
  /** ms since the epoch of the newest inference result (0 = none yet) */
  lastResultAt: number;
  /** every camera is offline and restarting its capture with backoff (not ended: a file played once ends) */
  camerasDown: boolean;
}

/**
 * Feed or not: results keep coming, or an operator paused, or the cameras are down and retrying on their own. A
 * restart would not bring a camera back (an IP camera booting slower than the board, a stream outage), and after
 * a few of them systemd's start limit would leave the unit failed for good; what is left to catch is a hung
 * engine or event loop.
 */
export function watchdogFeeds(h: WatchdogHealth, now: number, watchdogMs: number): boolean {
  return h.paused || h.camerasDown || now - h.lastResultAt < Math.max(watchdogMs, 5000);
}

/** The systemd watchdog (WATCHDOG_USEC): fed by the rule above, not by a bare timer. */
export class WatchdogService implements Service {
  readonly name = 'watchdog';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly systemd: Systemd, private readonly health: () => WatchdogHealth) {}

  async start(): Promise<void> {
    const ms = this.systemd.watchdogMs;
    if (ms <= 0) return;
    this.timer = setInterval(() => {
      if (watchdogFeeds(this.health(), Date.now(), ms)) this.systemd.notify('WATCHDOG=1');
    }, Math.max(1000, ms / 3));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
