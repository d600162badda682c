import { execFile } from 'node:child_process';
import { writeSync } from 'node:fs';

/**
 * sd_notify. The unit sets NotifyAccess=main: systemd takes a message only when the kernel says it was sent by
 * the unit's main process. Node has no unix datagram sockets, so bin/edgefit-notify-exec (the first word of
 * ExecStart) connects one to $NOTIFY_SOCKET and exec()s node with it open on fd $EDGEFIT_NOTIFY_FD: the same
 * PID, so a write on that fd is the main process's own message. Started some other way (no such fd), the
 * `systemd-notify` tool is the fallback; its messages carry its own PID and systemd accepts them only with
 * NotifyAccess=all, which is said once. No-op outside systemd.
 */
export class Systemd {
  readonly enabled = Boolean(process.env.NOTIFY_SOCKET);
  /** WatchdogSec from the unit, in ms; 0 when the unit has no watchdog */
  readonly watchdogMs = Number(process.env.WATCHDOG_USEC ?? 0) / 1000;
  private fd = inheritedFd(process.env.EDGEFIT_NOTIFY_FD);
  private warned = false;

  notify(...states: string[]): void {
    if (!this.enabled) return;
    if (this.fd !== undefined) {
      try {
        // one write on a connected datagram socket is one message
        writeSync(this.fd, states.join('\n'));
        return;
      } catch (err) {
        // the socket is non-blocking: a full queue means systemd is behind, and the next message follows
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return;
        this.fd = undefined;
      }
    }
    if (!this.warned) {
      this.warned = true;
      process.emitWarning('systemd notifications go through systemd-notify, which systemd accepts only with NotifyAccess=all; start edgefit through bin/edgefit-notify-exec as deploy/systemd/edgefit.service does', { code: 'EDGEFIT_SD_NOTIFY' });
    }
    execFile('systemd-notify', [`--pid=${process.pid}`, ...states], () => undefined);
  }
}

function inheritedFd(v: string | undefined): number | undefined {
  const n = Number(v);
  return v !== undefined && v !== '' && Number.isInteger(n) && n > 2 ? n : undefined;
}
