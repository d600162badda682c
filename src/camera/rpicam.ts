import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { EdgefitError } from '../util/errors.js';
import type { Step } from './capture.js';
import { ffmpegArgs } from './ffmpeg-args.js';
import { ProcessFrameSource } from './process-source.js';
import type { FrameSize, FrameSourceOptions } from './source.js';
import type { Timers } from './watchdog.js';

export type RpicamCodec = 'yuv420' | 'mjpeg';

export interface RpicamSpec {
  camera: number;
  codec: RpicamCodec;
  /** capture size asked of the camera; null = derived from the output size */
  capture: FrameSize | null;
}

export interface RpicamSourceOptions extends FrameSourceOptions {
  /** where to look for rpicam-vid / libcamera-vid; default $PATH */
  searchPath?: string;
  timers?: Timers;
}

const BINARIES = ['rpicam-vid', 'libcamera-vid'];

/**
 * rpicam[:N][?codec=yuv420|mjpeg&capture=WxH] (also libcamera[:N]...).
 * Why two codecs: yuv420 costs nothing to encode or decode (best on a Pi 4/5 CPU budget) but is raw, so the
 * pipe carries 1.5 bytes per pixel; mjpeg is ~10x smaller on the pipe but costs a JPEG encode (hardware on a
 * Pi 4, software on a Pi 5) and a decode in ffmpeg. yuv420 is the default; rows are only unpadded when the
 * capture width is a multiple of 64, so yuv420 insists on such widths.
 */
export function parseRpicamSpec(spec: string): RpicamSpec {
  const m = /^(?:rpicam|libcamera)(?::(\d+))?(?:\?(.*))?$/.exec(spec.trim());
  if (!m) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: expected rpicam[:N][?codec=yuv420|mjpeg&capture=WxH]`);
  const out: RpicamSpec = { camera: m[1] ? Number(m[1]) : 0, codec: 'yuv420', capture: null };
  for (const [k, v] of new URLSearchParams(m[2] ?? '')) {
    if (k === 'codec') {
      if (v !== 'yuv420' && v !== 'mjpeg') throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: codec must be yuv420 or mjpeg`);
      out.codec = v;
    } else if (k === 'capture') {
      const s = /^(\d{2,4})x(\d{2,4})$/.exec(v);
      if (!s) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: capture must look like 1280x960`);
      out.capture = { width: Number(s[1]), height: Number(s[2]) };
    } else {
      throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: unknown option ${k} (codec, capture)`);
    }
  }
  if (out.codec === 'yuv420' && out.capture && out.capture.width % 64 !== 0) {
    throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: with yuv420 the capture width must be a multiple of 64 (rows are padded otherwise); pick another width or codec=mjpeg`);
  }
  return out;
}

/** A 4:3 capture size (the sensors' native aspect) that covers the output, widths a multiple of 64. */
export function defaultCaptureSize(out: FrameSize): FrameSize {
  const k = Math.max(1, Math.ceil(Math.max(out.width / 640, out.height / 480)));
  return { width: 640 * k, height: 480 * k };
}

export function findExecutable(names: string[], searchPath: string): string | null {
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    for (const n of names) {
      const p = join(dir, n);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch { /* not here */ }
    }
  }
  return null;
}

/** The Raspberry Pi camera stack: rpicam-vid (or legacy libcamera-vid) piped into ffmpeg for crop/scale/rgb24. */
export class RpicamSource extends ProcessFrameSource {
  readonly name: string;
  protected readonly input: string;
  private readonly spec: RpicamSpec;
  private readonly searchPath: string;
  private readonly ffmpegPath: string;

  constructor(spec: string, opts: RpicamSourceOptions) {
    super(opts, opts.timers);
    this.spec = parseRpicamSpec(spec);
    this.name = `rpicam:${this.spec.camera}`;
    this.input = `Pi camera ${this.spec.camera}`;
    this.searchPath = opts.searchPath ?? process.env.PATH ?? '';
    this.ffmpegPath = opts.ffmpegPath ?? 'ffmpeg';
  }

  protected steps(size: FrameSize): Step[] {
    const bin = findExecutable(BINARIES, this.searchPath);
    if (!bin) {
      throw new EdgefitError('E_CAMERA_MISSING', 'rpicam-vid (or libcamera-vid) is not installed: install rpicam-apps (sudo apt install rpicam-apps), or use a /dev/video* or ffmpeg source');
    }
    const cap = this.spec.capture ?? defaultCaptureSize(size);
    const fps = String(this.opts.fps);
    const camArgs = ['-t', '0', '-n', '--flush', '--camera', String(this.spec.camera), '--codec', this.spec.codec,
      '--width', String(cap.width), '--height', String(cap.height), '--framerate', fps, '-o', '-'];
    const demux = this.spec.codec === 'yuv420'
      ? ['-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${cap.width}x${cap.height}`, '-framerate', fps]
      : ['-f', 'mjpeg', '-framerate', fps];
    const args = ffmpegArgs({ kind: 'pipe', url: 'pipe:0', extra: demux }, size, {
      fps: this.opts.fps, loop: false, realtime: false, timeoutSeconds: this.opts.watchdogSeconds,
    });
    return [{ cmd: bin, args: camArgs }, { cmd: this.ffmpegPath, args }];
  }
}
