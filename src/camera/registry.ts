import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { EdgefitError } from '../util/errors.js';
import { FfmpegSource } from './ffmpeg.js';
import { FolderSource } from './folder.js';
import { RpicamSource } from './rpicam.js';
import type { FrameSource, FrameSourceOptions } from './source.js';
import { SyntheticSource } from './synthetic.js';

export interface FrameSourceFactory {
  readonly name: string;
  /** does this factory handle the spec? (checked in registration order) */
  matches(spec: string): boolean | Promise<boolean>;
  create(spec: string, opts: FrameSourceOptions): FrameSource;
}

const factories: FrameSourceFactory[] = [];

export function registerFrameSource(f: FrameSourceFactory): void {
  if (factories.some((x) => x.name === f.name)) throw new Error(`frame source ${f.name} is already registered`);
  factories.push(f);
}

export function frameSourceNames(): string[] {
  return factories.map((f) => f.name);
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

registerFrameSource({ name: 'synthetic', matches: (s) => s === 'synthetic', create: (_s, o) => new SyntheticSource(o) });
registerFrameSource({ name: 'rpicam', matches: (s) => /^(rpicam|libcamera)(:|\?|$)/.test(s), create: (s, o) => new RpicamSource(s, o) });
registerFrameSource({
  name: 'folder',
  matches: (s) => s.startsWith('folder:') || (!s.includes('://') && isDirectory(s)),
  create: (s, o) => new FolderSource(s.startsWith('folder:') ? s.slice('folder:'.length) : s, o),
});
// last: ffmpeg reads everything else (devices, rtsp, http, lavfi, files) and reports what it cannot open
registerFrameSource({ name: 'ffmpeg', matches: () => true, create: (s, o) => new FfmpegSource(s, o) });

/**
 * Builds the source a spec names: `auto`, `synthetic`, `folder:<dir>` or a directory, `rpicam[:N]`,
 * `/dev/videoN`, `rtsp://...`, `http(s)://...`, `lavfi:<graph>`, `file:<path>` or a video file path.
 * Async because `auto` probes the devices. The source is not started.
 */
export async function createFrameSource(spec: string, opts: FrameSourceOptions): Promise<FrameSource> {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new EdgefitError('E_CAMERA_CONFIG', 'camera.source is empty: use auto, synthetic, /dev/videoN, rtsp://..., a video file or an image folder');
  }
  let s = spec.trim();
  if (s === 'auto') s = (await findCamera(systemProbe(opts.ffmpegPath ?? 'ffmpeg'))) ?? 'synthetic';
  for (const f of factories) if (await f.matches(s)) return f.create(s, opts);
  throw new EdgefitError('E_CAMERA_CONFIG', `no frame source handles ${spec}`);
}

export interface CameraProbe {
  devices(): Promise<string[]>;
  usable(device: string): Promise<boolean>;
}

/** The first /dev/video* that opens and is a capture device (USB cameras also expose metadata nodes). */
export async function findCamera(probe: CameraProbe = systemProbe('ffmpeg')): Promise<string | null> {
  for (const d of await probe.devices()) if (await probe.usable(d)) return d;
  return null;
}

/** The devices of /dev, each asked with `ffmpeg` (camera.ffmpegPath) whether it is a capture device. */
export const systemProbe = (ffmpeg: string): CameraProbe => ({
  async devices() {
    let names: string[];
    try {
      names = await readdir('/dev');
    } catch {
      return [];
    }
    return names
      .filter((n) => /^video\d+$/.test(n))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)))
      .map((n) => `/dev/${n}`);
  },
  async usable(device) {
    try {
      const fh = await open(device, constants.O_RDONLY | constants.O_NONBLOCK);
      await fh.close();
    } catch {
      return false;
    }
    // a node that opens may still be a metadata node: ask ffmpeg whether it lists capture formats
    return new Promise((resolve) => {
      execFile(ffmpeg, ['-hide_banner', '-f', 'v4l2', '-list_formats', 'all', '-i', device],
        { timeout: 5000 }, (_err, _stdout, stderr) => resolve(/\b(Raw|Compressed)\s*:/.test(String(stderr))));
    });
  },
});
