import { EdgefitError } from '../util/errors.js';
import type { RtspTimeoutOption } from './ffmpeg-features.js';
import type { FrameSize } from './source.js';

export type FfmpegInputKind = 'v4l2' | 'rtsp' | 'http' | 'file' | 'lavfi' | 'pipe';

export interface FfmpegInput {
  kind: FfmpegInputKind;
  /** what goes after -i */
  url: string;
  /** demuxer options before -i (v4l2 query parameters, raw pipe formats) */
  extra: string[];
}

const STILL_IMAGE = /\.(jpe?g|png|bmp|webp|tiff?)$/i;

const V4L2_KEYS: Record<string, RegExp> = {
  input_format: /^[a-z0-9_]{1,32}$/i,
  video_size: /^\d{1,5}x\d{1,5}$/,
  framerate: /^\d{1,4}(\/\d{1,4})?$/,
};

/**
 * Classifies an ffmpeg source spec:
 * /dev/videoN[?input_format=mjpeg&video_size=1280x720&framerate=30] (V4L2), rtsp(s)://, http(s):// (MJPEG
 * or any stream ffmpeg reads), lavfi:<filtergraph> (ffmpeg's test sources), file:<path> or a plain path.
 */
export function parseFfmpegSpec(spec: string): FfmpegInput {
  if (typeof spec !== 'string' || spec.trim() === '') throw new EdgefitError('E_CAMERA_CONFIG', 'camera source is empty');
  let s = spec.trim();
  if (s.startsWith('ffmpeg:')) s = s.slice('ffmpeg:'.length);
  if (s.startsWith('lavfi:')) {
    const graph = s.slice('lavfi:'.length);
    if (!graph) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: give a filtergraph, e.g. lavfi:testsrc2=size=640x480:rate=30`);
    return { kind: 'lavfi', url: graph, extra: [] };
  }
  if (/^rtsps?:\/\//i.test(s)) return { kind: 'rtsp', url: s, extra: [] };
  if (/^https?:\/\//i.test(s)) return { kind: 'http', url: s, extra: [] };
  if (s.startsWith('/dev/video')) {
    const [dev, query] = s.split('?', 2) as [string, string | undefined];
    if (!/^\/dev\/video\d+$/.test(dev)) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: expected /dev/videoN`);
    const extra: string[] = [];
    for (const [k, v] of new URLSearchParams(query ?? '')) {
      const re = V4L2_KEYS[k];
      if (!re) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: unknown option ${k} (known: ${Object.keys(V4L2_KEYS).join(', ')})`);
      if (!re.test(v)) throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: bad value for ${k}: ${v}`);
      extra.push(`-${k}`, v);
    }
    return { kind: 'v4l2', url: dev, extra };
  }
  if (s.startsWith('file:')) s = s.slice('file:'.length);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    throw new EdgefitError('E_CAMERA_CONFIG', `camera source ${spec}: unsupported scheme; use rtsp://, http(s)://, /dev/videoN, lavfi:..., a file or a folder`);
  }
  return { kind: 'file', url: s, extra: [] };
}

export interface FfmpegArgsOptions {
  fps: number;
  loop: boolean;
  /** read files at their native rate (-re) like a camera would deliver them */
  realtime: boolean;
  /** stall and socket timeout for network inputs */
  timeoutSeconds: number;
  /** what this ffmpeg calls the RTSP socket timeout (rtspTimeoutOption()); default the name of ffmpeg 5 and later */
  rtspTimeoutOption?: RtspTimeoutOption;
}

/**
 * The filter: centre-crop to the output's aspect ratio (a square for the models), scale, rgb24 — ffmpeg does
 * all pixel work, so no JavaScript touches pixels. With `fit: 'stretch'` (detectors) the whole frame is scaled
 * to the output, squashed, with no crop (bilinear, as the detectors' reference preprocessing).
 */
export function cropScaleFilter(size: FrameSize): string {
  if (size.fit === 'stretch') return `scale=${size.width}:${size.height}:flags=bilinear,format=rgb24`;
  const g = gcd(size.width, size.height);
  const aw = size.width / g;
  const ah = size.height / g;
  return `crop=w='min(iw,ih*${aw}/${ah})':h='min(ih,iw*${ah}/${aw})',scale=${size.width}:${size.height}:flags=bicubic,format=rgb24`;
}

export function ffmpegArgs(input: FfmpegInput, size: FrameSize, o: FfmpegArgsOptions): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  const us = String(Math.round(o.timeoutSeconds * 1e6));
  const filters = [cropScaleFilter(size)];
  switch (input.kind) {
    case 'v4l2':
      if (!input.extra.includes('-framerate')) args.push('-framerate', String(o.fps));
      args.push('-f', 'v4l2', ...input.extra);
      break;
    case 'rtsp':
      // TCP: UDP loses packets on Wi-Fi and shows up as smeared frames. The socket timeout (us) is -timeout from
      // ffmpeg 5 on, -stimeout before: there -timeout would make ffmpeg listen for a camera instead of calling it
      args.push('-rtsp_transport', 'tcp', `-${o.rtspTimeoutOption ?? 'timeout'}`, us, '-fflags', 'nobuffer', '-flags', 'low_delay');
      break;
    case 'http':
      args.push('-rw_timeout', us, '-fflags', 'nobuffer');
      break;
    case 'file':
      if (o.realtime) args.push('-re');
      if (STILL_IMAGE.test(input.url)) {
        // a still image has one timestamp, so -stream_loop would repeat it at t=0 and fps= would wait forever
        if (o.loop) args.push('-loop', '1');
        args.push('-framerate', String(o.fps));
      } else {
        if (o.loop) args.push('-stream_loop', '-1');
        // a video plays at the configured rate, like the folder source
        filters.unshift(`fps=${o.fps}`);
      }
      break;
    case 'lavfi':
      // without -re a test source renders as fast as the CPU allows
      args.push('-re', '-f', 'lavfi');
      break;
    case 'pipe':
      args.push(...input.extra);
      break;
  }
  args.push('-i', input.url, '-an', '-sn', '-dn', '-vf', filters.join(','));
  // passthrough: never duplicate frames to fill a constant rate (-vsync works from ffmpeg 4 to 7)
  args.push('-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
