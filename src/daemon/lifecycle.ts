import type { Logger } from '../util/log.js';
import { Systemd } from './systemd.js';
import type { ServiceList } from './service.js';
import type { DaemonOptions } from './options.js';

/**
 * What both daemons (one camera, several) do the same way around their services: systemd's READY and STOPPING,
 * PM2's wait_ready, the abort of work in progress, and the stop of the service list in reverse.
 */
export class DaemonLifecycle {
  readonly systemd = new Systemd();
  /** aborted by stop(): kills a pull-model's child process and a re-selection's measurement */
  readonly stopping = new AbortController();
  stopped = false;
  services: ServiceList | undefined;

  constructor(private readonly log: Logger) {}

  /** The models run: systemd's READY, and PM2 with wait_ready (deploy/ecosystem: wait_ready, listen_timeout). */
  ready(status: string): void {
    this.systemd.notify('READY=1', `STATUS=running ${status}`);
    if (process.send) process.send('ready');
  }

  /**
   * Clean shutdown: a pull in progress is killed (its child and the child's own), and so is a re-selection's
   * measurement; re-selections still queued refuse to run, so only the switch in progress is waited for; then the
   * services in reverse (src/daemon/service.ts).
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.systemd.notify('STOPPING=1');
    this.stopping.abort();
    await this.services?.stop();
    this.log.info('stopped');
  }
}

/** Where a daemon prints a line to the user (how to watch the topics): the caller's, else stderr. */
export function sayOf(o: Pick<DaemonOptions, 'say'>): (line: string) => void {
  return o.say ?? ((x: string) => { process.stderr.write(x + '\n'); });
}
