import { EdgefitError } from '../util/errors.js';
import { BaseFrameSource } from './base.js';
import { Capture, type CaptureExit, type Step } from './capture.js';
import { diagnose, redactUrlsIn } from './diagnose.js';
import type { FrameSize, FrameSourceOptions } from './source.js';
import { Backoff, Watchdog, type Timers } from './watchdog.js';

/**
 * A source whose frames come from child processes writing raw rgb24 frames on stdout (ffmpeg, or a camera
 * tool piped into ffmpeg). The bytes are read straight into the ring's preallocated buffers; the watchdog
 * restarts the pipeline with backoff when it stalls or exits, and the daemon never sees a throw.
 */
export abstract class ProcessFrameSource extends BaseFrameSource {
  protected readonly watchdog: Watchdog;
  private capture: Capture | null = null;
  /** bumped whenever a capture is abandoned, so its late data and exit are ignored */
  private generation = 0;
  private offset = 0;
  private readonly scratch = new Uint8Array(65536);
  private retiring = new Set<Promise<void>>();
  /** the restart delay scheduled last, for diagnostics */
  lastRetryDelayMs: number | null = null;

  constructor(opts: FrameSourceOptions, timers?: Timers) {
    super(opts);
    this.watchdog = new Watchdog(
      { stallMs: opts.watchdogSeconds * 1000, backoff: new Backoff(opts.backoff), timers },
      {
        stalled: (s) => this.onStall(s),
        restart: () => {
          this.counters.restarts++;
          this.launch();
        },
        scheduled: (ms, attempt) => {
          this.lastRetryDelayMs = ms;
          this.emit('retry', ms, attempt);
        },
      },
    );
  }

  /** The user's input, for messages (redacted before display). */
  protected abstract readonly input: string;
  /** The pipeline to run for the current size; throws an EdgefitError if it cannot be built (e.g. tool missing). */
  protected abstract steps(size: FrameSize): Step[];
  /** true when a clean exit means "end of input" (a file played once) rather than a fault */
  protected endsOnCleanExit(): boolean {
    return false;
  }

  override pids(): number[] {
    return this.capture?.pids ?? [];
  }

  protected async startCapture(): Promise<void> {
    this.launch();
  }

  protected async stopCapture(): Promise<void> {
    this.watchdog.cancel();
    this.retire();
    await Promise.all([...this.retiring]);
  }

  protected async resizeCapture(): Promise<void> {
    // not a fault: no restart counted, backoff untouched; the consumer keeps its object and next() waiters
    this.retire();
    this.launch();
  }

  private launch(): void {
    // two launches with no retire between them (a start that outlived its stop, then another start): the older
    // capture would run on, unseen by pids() and stop()
    if (this.capture) this.retire();
    const gen = ++this.generation;
    this.offset = 0;
    this.watchdog.begin();
    let steps: Step[];
    try {
      steps = this.steps({ width: this.ring.width, height: this.ring.height, fit: this.fit });
    } catch (err) {
      this.fault(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // frame bytes land in the ring's slot being written; a retired capture's late bytes land in a scratch buffer
    const sink = {
      buffer: () => (gen === this.generation ? this.ring.writable().subarray(this.offset) : this.scratch),
      received: (n: number) => { if (gen === this.generation) this.onBytes(n); },
    };
    let cap: Capture;
    try {
      cap = new Capture(steps, sink);
    } catch (err) {
      // spawn() throws synchronously on some argument errors; this may run in a timer, so never let it escape
      this.fault(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.capture = cap;
    void cap.exited.then((exit) => {
      if (gen !== this.generation) return;
      // abandoned like a retired one: frames still in the dead pipeline's pipe must not bring the source back
      // online (and hand out stale frames) before the restart
      this.generation++;
      this.capture = null;
      this.onExit(exit);
    });
  }

  /** Abandons the running capture (its exit is expected) and reaps it in the background of stop(). */
  private retire(): void {
    this.generation++;
    const cap = this.capture;
    this.capture = null;
    if (!cap) return;
    const p = cap.close().finally(() => this.retiring.delete(p));
    this.retiring.add(p);
  }

  private onBytes(n: number): void {
    this.offset += n;
    if (this.offset < this.ring.frameBytes) return;
    this.offset = 0;
    this.publish();
    this.watchdog.frame();
  }

  private onExit(exit: CaptureExit): void {
    if (exit.code === 0 && !exit.spawnError && this.endsOnCleanExit()) {
      this.watchdog.cancel();
      this.markEnded();
      return;
    }
    this.fault(new EdgefitError('E_CAMERA', this.describeExit(exit)));
  }

  protected describeExit(exit: CaptureExit): string {
    if (exit.spawnError?.code === 'ENOENT') return `${exit.cmd} is not installed or not on PATH: ${installHint(exit.cmd)}`;
    if (exit.spawnError) return `cannot start ${exit.cmd}: ${exit.spawnError.message}`;
    return diagnose(this.input, exit.stderr, exit);
  }

  private fault(err: Error): void {
    const msg = `${redactUrlsIn(this.name)}: ${err.message}; retrying with backoff`;
    this.setOffline(msg);
    this.reportError(new EdgefitError('E_CAMERA', msg, { cause: err }));
    this.watchdog.fault();
  }

  private onStall(seconds: number): void {
    this.counters.stalls++;
    // a capture that hangs (an RTSP server that accepts but never streams) may have said why on stderr
    const said = this.capture?.stderrLines() ?? [];
    const why = said.length > 0 ? `: ${diagnose(this.input, said, { code: null, signal: null })}` : '';
    const msg = `${redactUrlsIn(this.name)}: no frame for ${seconds.toFixed(1)} s (watchdog ${this.opts.watchdogSeconds} s)${why}; restarting the capture`;
    this.setOffline(msg);
    this.emit('stall', seconds);
    this.retire();
  }
}

function installHint(cmd: string): string {
  if (cmd.endsWith('ffmpeg')) return 'install ffmpeg (sudo apt install ffmpeg)';
  if (/rpicam|libcamera/.test(cmd)) return 'install rpicam-apps (sudo apt install rpicam-apps)';
  return `install ${cmd}`;
}
