import { execFile } from 'node:child_process';

/**
 * sd_notify through the `systemd-notify` tool (Node has no unix datagram sockets). The unit sets
 * NotifyAccess=all because the message comes from a child process. No-op outside systemd.
 */
export class Systemd {
  readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  /** WatchdogSec from the unit, in ms; 0 when the unit has no watchdog */
  readonly watchdogMs = Number(process.env.WATCHDOG_USEC ?? 0) / 1000;

  notify(...states: string[]): void {
    if (!this.enabled) return;
    execFile('systemd-notify', [`--pid=${process.pid}`, ...states], () => undefined);
  }
}
