import { posix, resolve } from 'node:path';
import { FsRoot } from './fsroot.js';

/** What the doctor looks for on disk beyond the probe: tools, camera devices, GPU libraries and device nodes. */
export interface Findings {
  tools: Record<ToolName, string | null>;
  videoDevices: Array<{ path: string; name: string | null }>;
  gpuLibs: Record<GpuLib, string | null>;
  /** a CUDA-capable GPU device node (/dev/nvidia0 on desktops, /dev/nvgpu or /dev/nvhost-* on Jetsons) */
  gpuDevice: string | null;
  /** directories searched for the GPU libraries */
  libraryDirs: string[];
}

export type ToolName = 'ffmpeg' | 'rpicam-vid' | 'libcamera-vid' | 'mosquitto' | 'vcgencmd';
export type GpuLib = 'cudart' | 'cudnn' | 'nvinfer';

const TOOLS: ToolName[] = ['ffmpeg', 'rpicam-vid', 'libcamera-vid', 'mosquitto', 'vcgencmd'];
const STANDARD_PATH = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
const STANDARD_LIBS = [
  '/usr/local/cuda/lib64', '/usr/local/cuda/targets/aarch64-linux/lib', '/usr/local/cuda/targets/x86_64-linux/lib',
  '/usr/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu/nvidia', '/usr/lib/aarch64-linux-gnu/tegra',
  '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/aarch64-linux-gnu', '/lib/x86_64-linux-gnu',
];
const GPU_NODES = ['/dev/nvidia0', '/dev/nvgpu', '/dev/nvhost-ctrl-gpu', '/dev/nvhost-gpu'];

export interface FindingsOptions {
  /** PATH directories; default: $PATH (+ sbin dirs) on '/', the standard directories on a recorded tree */
  pathDirs?: string[];
  /** extra library directories (LD_LIBRARY_PATH); default: $LD_LIBRARY_PATH on '/', none on a recorded tree */
  libraryPath?: string[];
  /** the ffmpeg the camera runs (camera.ffmpegPath): a name looked up on PATH, or a path; default 'ffmpeg' */
  ffmpegPath?: string;
}

/** Directories named in /etc/ld.so.conf.d/*.conf (how JetPack registers /usr/local/cuda/lib64). */
async function ldSoConfDirs(fs: FsRoot): Promise<string[]> {
  const dirs: string[] = [];
  for (const f of await fs.list('/etc/ld.so.conf.d')) {
    if (!f.endsWith('.conf')) continue;
    for (const line of ((await fs.text(`/etc/ld.so.conf.d/${f}`)) ?? '').split('\n')) {
      const l = line.trim();
      if (l.startsWith('/')) dirs.push(l);
    }
  }
  return dirs;
}

export async function gatherFindings(root: string, opts: FindingsOptions = {}): Promise<Findings> {
  const fs = new FsRoot(root);
  const envPath = (process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  const pathDirs = opts.pathDirs ?? (fs.live ? [...new Set([...envPath, ...STANDARD_PATH])] : STANDARD_PATH);

  const tools = {} as Record<ToolName, string | null>;
  for (const t of TOOLS) {
    // ffmpeg is the program the camera runs: camera.ffmpegPath, found the way the camera finds it
    const program = t === 'ffmpeg' ? opts.ffmpegPath ?? 'ffmpeg' : t;
    tools[t] = null;
    if (program.includes('/')) {
      // as the camera runs it: a relative path from here on this machine, from the root in a recorded tree
      const p = fs.live ? resolve(program) : posix.resolve('/', program);
      if (await fs.exists(p)) tools[t] = p;
      continue;
    }
    for (const d of pathDirs) {
      const p = posix.join(d, program);
      if (await fs.exists(p)) {
        tools[t] = p;
        break;
      }
    }
  }

  const videoDevices: Findings['videoDevices'] = [];
  const vids = (await fs.list('/dev')).filter((d) => /^video\d+$/.test(d));
  vids.sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  for (const v of vids) videoDevices.push({ path: `/dev/${v}`, name: await fs.line(`/sys/class/video4linux/${v}/name`) });

  const envLibs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  const extra = opts.libraryPath ?? (fs.live ? envLibs : []);
  const libraryDirs = [...new Set([...extra, ...(await ldSoConfDirs(fs)), ...STANDARD_LIBS])];
  const gpuLibs: Record<GpuLib, string | null> = { cudart: null, cudnn: null, nvinfer: null };
  for (const lib of Object.keys(gpuLibs) as GpuLib[]) {
    for (const d of libraryDirs) {
      // the longest name carries the full version (libcudart.so.12.2.140 rather than libcudart.so.12)
      const hit = (await fs.list(d)).filter((f) => f.startsWith(`lib${lib}.so`)).sort((a, b) => b.length - a.length)[0];
      if (hit) {
        gpuLibs[lib] = posix.join(d, hit);
        break;
      }
    }
  }

  let gpuDevice: string | null = null;
  for (const n of GPU_NODES) {
    if (await fs.exists(n)) {
      gpuDevice = n;
      break;
    }
  }
  return { tools, videoDevices, gpuLibs, gpuDevice, libraryDirs };
}
