import type { EventEmitter } from 'node:events';

/**
 * One camera frame at the model's resolution: uint8 RGB, HWC, `width * height * 3` bytes.
 *
 * Frames live in a small ring of preallocated buffers owned by the source (no frame-sized allocation per
 * frame). Validity rules, which every consumer must follow:
 * - a frame returned by `take()` or `next()` is *held*: its bytes stay unchanged until the consumer calls
 *   `release()`, or the next `take()`/`next()` (which releases the previous one), or `reconfigure()`/`stop()`
 *   hand it back. The pipeline pattern is: take, run inference (the engine copies the frame first), take again.
 * - a frame returned by `latest()` is only a peek: its bytes are valid until the next frame arrives. Copy it
 *   or take it if you need it for longer.
 * A frame object is reused with its buffer: do not keep references to frames you no longer hold.
 */
export interface Frame {
  /** RGB HWC, width*height*3 bytes; a view into the source's ring, see the validity rules above */
  data: Uint8Array;
  width: number;
  height: number;
  /** ms since the epoch when the frame arrived (never decreasing, even if the wall clock steps back) */
  ts: number;
  /** 1 for the first frame the source ever delivered, +1 per arrived frame (across restarts and resizes) */
  seq: number;
}

/**
 * How a frame of another shape becomes the model's input: 'crop' = centre-crop to the output's aspect ratio, then
 * scale (classifiers, as their published figures were measured); 'stretch' = the whole frame scaled (squashed) to
 * the output (detectors: nothing at the edges is lost, boxes map back to the whole frame).
 */
export type FrameFit = 'crop' | 'stretch';

export interface FrameSize {
  width: number;
  height: number;
  /** default 'crop'; on reconfigure(), absent = keep the current fit */
  fit?: FrameFit;
}

export interface FrameSourceStats {
  /** frames that arrived complete */
  framesIn: number;
  /** frames that arrived but were superseded by a newer one before anybody took them */
  dropped: number;
  /** times the watchdog saw no frame for `watchdogSeconds` */
  stalls: number;
  /** times the source restarted its capture after a fault (not counting reconfigure) */
  restarts: number;
  online: boolean;
  /** ts of the last frame, 0 before the first */
  lastFrameAt: number;
  /** the last fault, phrased for the user (device missing, permission denied, ...); null while healthy */
  lastError: string | null;
  /** the resolution frames are delivered at now */
  width: number;
  height: number;
  /** bytes held by the frame ring: constant for a given resolution, whatever the consumer does */
  bufferBytes: number;
  /** the source reached the end of a non-looping input and will deliver no more frames */
  ended: boolean;
}

export interface FrameSourceEvents {
  /** frames flow (again) */
  online: [];
  /** frames stopped flowing after they had flowed; the reason is also in stats().lastError */
  offline: [reason: string];
  /** the watchdog saw no frame for watchdogSeconds */
  stall: [seconds: number];
  /**
   * A fault with a user-facing message. Emitted only when somebody listens: an unreachable camera must not
   * crash the daemon through EventEmitter's "unhandled 'error' throws" rule. Always mirrored in lastError.
   */
  error: [err: Error];
  /** a restart after a fault or stall is scheduled in delayMs (attempt counts from 0 since frames last flowed) */
  retry: [delayMs: number, attempt: number];
  /** a non-looping input (file, folder played once) has no more frames */
  end: [];
}

/**
 * A camera, or anything that looks like one, with latest-frame semantics: the consumer always gets the
 * newest frame and never an unbounded queue; superseded frames are counted in `dropped`.
 *
 * Lifecycle: the constructor only assigns; `start()` and `stop()` are idempotent. `start()` rejects only for
 * invalid configuration; an unreachable camera is a runtime fault: the source goes on retrying with backoff
 * and reports it in the 'error' event and `stats().lastError`.
 */
export interface FrameSource extends Pick<EventEmitter, 'on' | 'off' | 'once' | 'removeListener' | 'listenerCount'> {
  /** what it captures, with credentials removed from URLs */
  readonly name: string;
  start(): Promise<void>;
  /** stops capture, releases child processes and rejects pending next() calls */
  stop(): Promise<void>;
  /** peek at the newest frame (taken or not); null before the first */
  latest(): Frame | null;
  /** the newest frame not taken yet, now held by the caller (releasing the one held before); null if none */
  take(): Frame | null;
  /**
   * like take(), but waits for a frame newer than the last taken one; rejects on abort, stop or end. It waits
   * across faults and restarts (a camera may come back): pass a signal to bound the wait.
   */
  next(signal?: AbortSignal): Promise<Frame>;
  /** gives the held frame back early (optional: the next take() does it anyway) */
  release(): void;
  /** switches the delivered resolution in place (the selector changed model); the consumer keeps its object */
  reconfigure(size: FrameSize): Promise<void>;
  stats(): FrameSourceStats;
  /** ids of the child processes capturing now (empty for in-process sources): diagnostics and tests */
  pids(): number[];
}

export interface FrameSourceOptions {
  width: number;
  height: number;
  /** how frames are fitted to width x height (default 'crop') */
  fit?: FrameFit;
  /** the playback rate for files, folders and synthetic; the requested rate for cameras */
  fps: number;
  /** no frame for this long => stall: offline, restart with backoff */
  watchdogSeconds: number;
  /** loop files and folders instead of ending */
  loop: boolean;
  /** the ffmpeg program (camera.ffmpegPath); default `ffmpeg` on PATH */
  ffmpegPath?: string;
  /** restart backoff (full jitter); tests inject `random` and small delays */
  backoff?: BackoffOptions;
  /** injected for tests; defaults to Date.now */
  now?: () => number;
}

export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  random?: () => number;
}

/** Builds the sources of one kind; registered by name and priority in src/camera/registry.ts. */
export interface FrameSourceFactory {
  /** does this factory handle the spec? (factories are asked by priority, highest first) */
  matches(spec: string): boolean | Promise<boolean>;
  create(spec: string, opts: FrameSourceOptions): FrameSource;
}
