import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { EdgefitError } from '../util/errors.js';
import { FfmpegSource } from './ffmpeg.js';
import { FolderSource } from './folder.js';
import { RpicamSource } from './rpicam.js';
import type { FrameSource, FrameSourceFactory, FrameSourceOptions } from './source.js';
import { SyntheticSource } from './synthetic.js';

/**
 * Frame sources by name and priority, the same style as the engines (src/engine/registry.ts): the interfaces
 * are in source.ts, each kind registers a factory here, and `createFrameSource` asks them highest priority
 * first which one handles a spec.
 */
interface Registration {
  name: string;
  factory: FrameSourceFactory;
  priority: number;
}

const factories: Registration[] = [];

export function registerFrameSource(name: string, factory: FrameSourceFactory, priority: number): void {
  if (factories.some((x) => x.name === name)) {
    if (factories.find((x) => x.name === name)!.factory === factory) return;
    throw new Error(`frame source ${name} is already registered`);
  }
  if (!Number.isFinite(priority)) throw new TypeError(`frame source ${name}: priority ${priority} is not a number`);
  // stable: among equal priorities the first registered is asked first
  const at = factories.findIndex((x) => x.priority < priority);
  factories.splice(at < 0 ? factories.length : at, 0, { name, factory, priority });
}

/** Names in the order they are asked. */
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

registerFrameSource('synthetic', { matches: (s) => s === 'synthetic', create: (_s, o) => new SyntheticSource(o) }, 30);
registerFrameSource('rpicam', { matches: (s) => /^(rpicam|libcamera)(:|\?|$)/.test(s), create: (s, o) => new RpicamSource(s, o) }, 20);
registerFrameSource('folder', {
  matches: (s) => s.startsWith('folder:') || (!s.includes('://') && isDirectory(s)),
  create: (s, o) => new FolderSource(s.startsWith('folder:') ? s.slice('folder:'.length) : s, o),
}, 10);
// last: ffmpeg reads everything else (devices, rtsp, http, lavfi, files) and reports what it cannot open
registerFrameSource('ffmpeg', { matches: () => true, create: (s, o) => new FfmpegSource(s, o) }, 0);

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
  for (const f of factories) if (await f.factory.matches(s)) return f.factory.create(s, opts);
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
