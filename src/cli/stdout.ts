/**
 * `edgefit … | head`: when the reader goes away, the next write to stdout fails with EPIPE, which Node reports
 * as an 'error' event on process.stdout; unhandled, it prints a stack trace and kills the process wherever it
 * is (a daemon mid-write to its outbox). A CLI whose output nobody reads any more has nothing left to do: it ends
 * quietly with exit 0. `run` replaces that with a clean stop of the daemon (onStdoutClosed).
 *
 * Any other stdout error (EIO on a lost terminal, ENOSPC on a redirect to a full disk) is reported in one line
 * and ends with exit 1. A closed stderr is ignored: there is no one left to tell.
 */
export type StdoutClosed = (err: NodeJS.ErrnoException) => void;

let onClosed: StdoutClosed = (err) => {
  if (err.code !== 'EPIPE') process.stderr.write(`edgefit: cannot write to stdout (${err.message})\n`);
  process.exit(err.code === 'EPIPE' ? 0 : 1);
};

/** Who handles the first stdout error from now on (the daemon: stop cleanly, then exit). */
export function onStdoutClosed(fn: StdoutClosed): void {
  onClosed = fn;
}

/** Installs the handlers once, before any command writes. */
export function watchStdio(): void {
  let seen = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    // a destroyed stream reports every later write too: only the first error means anything
    if (seen) return;
    seen = true;
    onClosed(err);
  });
  process.stderr.on('error', () => undefined);
}
