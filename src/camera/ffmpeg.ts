import type { Step } from './capture.js';
import { redactSource } from './diagnose.js';
import { ffmpegArgs, parseFfmpegSpec, type FfmpegInput } from './ffmpeg-args.js';
import { rtspTimeoutOption, type RtspTimeoutOption } from './ffmpeg-features.js';
import { ProcessFrameSource } from './process-source.js';
import type { FrameSize, FrameSourceOptions } from './source.js';
import type { Timers } from './watchdog.js';

export interface FfmpegSourceOptions extends FrameSourceOptions {
  /** read files at their native rate (-re); default true, so a file behaves like a camera */
  realtime?: boolean;
  timers?: Timers;
}

/**
 * Any input ffmpeg reads (V4L2 devices, RTSP, HTTP/MJPEG, files, lavfi test sources), cropped, scaled and
 * converted to rgb24 by ffmpeg itself and read raw from its stdout.
 */
export class FfmpegSource extends ProcessFrameSource {
  readonly name: string;
  protected readonly input: string;
  private readonly parsed: FfmpegInput;
  private readonly ffmpegPath: string;
  private readonly realtime: boolean;
  private rtspTimeout: RtspTimeoutOption | undefined;

  constructor(spec: string, opts: FfmpegSourceOptions) {
    super(opts, opts.timers);
    this.parsed = parseFfmpegSpec(spec);
    this.input = this.parsed.url;
    this.name = `ffmpeg:${redactSource(this.parsed.kind === 'lavfi' ? `lavfi:${this.parsed.url}` : this.parsed.url)}`;
    this.ffmpegPath = opts.ffmpegPath ?? 'ffmpeg';
    this.realtime = opts.realtime ?? true;
  }

  get kind(): FfmpegInput['kind'] {
    return this.parsed.kind;
  }

  protected override async startCapture(): Promise<void> {
    // asked before the first launch, so restarts (which run from timers, synchronously) need not ask again
    if (this.parsed.kind === 'rtsp' && this.rtspTimeout === undefined) {
      this.rtspTimeout = await rtspTimeoutOption(this.ffmpegPath);
      // stop() while ffmpeg was being asked: nothing may be launched after it
      if (!this.running) return;
    }
    await super.startCapture();
  }

  protected override async resizeCapture(): Promise<void> {
    // still asking ffmpeg before the first launch: nothing runs yet, and startCapture launches at the new size
    if (this.parsed.kind === 'rtsp' && this.rtspTimeout === undefined) return;
    await super.resizeCapture();
  }

  protected steps(size: FrameSize): Step[] {
    const args = ffmpegArgs(this.parsed, size, {
      fps: this.opts.fps,
      loop: this.opts.loop,
      realtime: this.realtime,
      // a network read that blocks longer than the watchdog is a stall anyway
      timeoutSeconds: Math.max(1, this.opts.watchdogSeconds),
      rtspTimeoutOption: this.rtspTimeout,
    });
    return [{ cmd: this.ffmpegPath, args }];
  }

  protected override endsOnCleanExit(): boolean {
    return this.parsed.kind === 'file' && !this.opts.loop;
  }
}
