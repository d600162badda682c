import { gatherFindings, type Findings, type FindingsOptions } from './findings.js';
import { boardFingerprint } from './probe.js';
import { throttleFlags } from './thermal.js';
import type { ProviderName } from '../engine/engine.js';
import { unusableConfigured } from './unproven.js';
import type { DeviceInfo, ProviderCheck } from './types.js';

export type AdviceArea = 'runtime' | 'int8' | 'gpu' | 'camera' | 'broker' | 'memory' | 'thermal' | 'power';
export type AdviceLevel = 'ok' | 'info' | 'warn';

export interface Advice {
  area: AdviceArea;
  level: AdviceLevel;
  text: string;
}

export interface DoctorReport {
  device: DeviceInfo;
  findings: Findings;
  fingerprint: string;
  advice: Advice[];
}

const isPi = (d: DeviceInfo): boolean => d.board.kind.startsWith('raspberry-pi');
const isJetson = (d: DeviceInfo): boolean => d.board.kind.startsWith('jetson');

function versionAtLeast(v: string, min: string): boolean {
  const a = v.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

function runtimeAdvice(d: DeviceInfo): Advice[] {
  const out: Advice[] = [];
  const { glibc } = d.board;
  if (glibc && !versionAtLeast(glibc, '2.28')) {
    out.push({ area: 'runtime', level: 'warn', text: `glibc ${glibc} is older than 2.28, which onnxruntime-node's prebuilt binaries need: use the tfjs-wasm engine, build onnxruntime from source, or upgrade the OS` });
  }
  const p = d.providers;
  if (p.status === 'skipped') {
    out.push({ area: 'runtime', level: 'info', text: 'providers not probed: a recorded tree describes another machine; run `edgefit doctor` on the board itself to prove them' });
  } else if (p.status === 'unavailable') {
    out.push({ area: 'runtime', level: 'warn', text: `onnxruntime-node did not load (${p.error ?? 'unknown error'}): edgefit can still run models on the tfjs-wasm engine` });
  } else {
    const sim = p.status === 'simulated' ? ' (simulated binding)' : '';
    const ortUsable = p.usable.filter((u) => !u.startsWith('tfjs-'));
    const usable = ortUsable.length > 0 ? ortUsable.join(', ') : 'none';
    out.push({ area: 'runtime', level: ortUsable.length > 0 ? 'ok' : 'warn', text: `onnxruntime ${p.ortVersion ?? '?'}${sim}: providers proven by a session: ${usable}` });
  }
  return out;
}

/** Each configured provider (engine.providers) this board cannot use, and what the daemon runs on instead. */
function configuredProviderAdvice(d: DeviceInfo, configured: readonly ProviderName[] | undefined): Advice[] {
  if (!configured || d.providers.status === 'skipped') return [];
  const out: Advice[] = [];
  const tfjs = d.providers.checks.filter((c) => c.name.startsWith('tfjs-'));
  if (tfjs.length > 0) {
    out.push({ area: 'runtime', level: tfjs.some((c) => c.works) ? 'ok' : 'warn', text: `TensorFlow.js providers: ${tfjs.map((c) => `${c.name} ${c.works ? 'proven' : `not usable (${c.evidence})`}`).join('; ')}` });
  }
  const bad = unusableConfigured(d, configured);
  if (bad.length === 0) return out;
  const usable = new Set(d.providers.usable);
  const chain = configured.filter((p) => usable.has(p));
  const instead = chain.length > 0 ? chain.join(', ') : (d.providers.usable[0] ?? 'cpu');
  for (const b of bad) out.push({ area: 'runtime', level: 'warn', text: `${b.provider} configured (engine.providers) but not available on this board: ${b.reason}; the daemon uses ${instead}` });
  return out;
}

function int8Advice(d: DeviceInfo): Advice[] {
  return [{ area: 'int8', level: d.cpu.int8.exact ? 'ok' : 'warn', text: d.cpu.int8.summary }];
}

function libVersion(path: string | null, lib: string): string | null {
  if (!path) return null;
  const m = new RegExp(`lib${lib}\\.so\\.([\\d.]+)$`).exec(path);
  return m ? m[1]! : null;
}

function notListed(names: string[], jetson: boolean): Advice {
  const why = jetson
    ? 'the npm linux-arm64 package is CPU-only: build onnxruntime on the board with `./build.sh --config Release --build_shared_lib --build_nodejs --use_cuda --cuda_home /usr/local/cuda --cudnn_home /usr/lib/aarch64-linux-gnu --use_tensorrt --tensorrt_home /usr/lib/aarch64-linux-gnu` and install its js/node package'
    : 'this onnxruntime-node build does not include it';
  return { area: 'gpu', level: 'warn', text: `the onnxruntime binding exposes no ${names.join(' or ')} provider: ${why}` };
}

function providerLine(c: ProviderCheck | undefined, name: string, jetson: boolean): Advice {
  if (!c || !c.listed) return notListed([name], jetson);
  if (!c.works) {
    const hint = !jetson && c.bundled === false
      ? '; the x64 package fetches its CUDA provider libraries only when installed with ONNXRUNTIME_NODE_INSTALL=cuda12'
      : '';
    return { area: 'gpu', level: 'warn', text: `${name} is listed but a session with it failed: ${c.error ?? c.evidence}${hint}` };
  }
  return { area: 'gpu', level: 'ok', text: `${name} proven: ${c.evidence}` };
}

function gpuAdvice(d: DeviceInfo, f: Findings): Advice[] {
  const jetson = isJetson(d);
  if (!jetson && !f.gpuDevice) return [];
  const out: Advice[] = [];
  const j = d.board.jetson;
  if (jetson) {
    if (!j) {
      out.push({ area: 'gpu', level: 'warn', text: 'no /etc/nv_tegra_release: this Jetson has no L4T/JetPack userspace; flash JetPack with NVIDIA SDK Manager' });
    } else if (j.l4tMajor < 34) {
      out.push({ area: 'gpu', level: 'warn', text: `JetPack ${j.jetpack ?? '4.x'} (L4T ${j.l4t}, Ubuntu 18.04, glibc 2.27) is too old for onnxruntime-node's binaries (glibc 2.28); Xavier and Orin can move to JetPack 5/6; Nano and TX2 end at JetPack 4: use the tfjs-wasm engine or build onnxruntime from source on the board` });
    } else if (j.l4tMajor < 36) {
      out.push({ area: 'gpu', level: 'info', text: `JetPack ${j.jetpack ?? '5.x'} (L4T ${j.l4t}) ships CUDA 11.4, while prebuilt onnxruntime GPU packages since 1.19 target CUDA 12: build onnxruntime against CUDA 11.4 (an Orin can move to JetPack 6 instead)` });
    } else {
      out.push({ area: 'gpu', level: 'ok', text: `JetPack ${j.jetpack ?? '6.x'} (L4T ${j.l4t}): CUDA 12 generation` });
    }
    out.push({ area: 'memory', level: 'info', text: `the GPU shares the ${Math.round(d.memory.totalMb)} MB of RAM with the CPU: a model on cuda/tensorrt counts against the same memory` });
  }
  if (!f.gpuDevice) {
    out.push({ area: 'gpu', level: 'warn', text: 'no GPU device node (/dev/nvgpu, /dev/nvhost-ctrl-gpu, /dev/nvidia0): the GPU driver is not loaded, or this container was started without --runtime nvidia' });
  }
  const cudart = libVersion(f.gpuLibs.cudart, 'cudart');
  const nvinfer = libVersion(f.gpuLibs.nvinfer, 'nvinfer');
  const cudnn = libVersion(f.gpuLibs.cudnn, 'cudnn');
  const install = jetson ? '`sudo apt install nvidia-jetpack`' : 'the CUDA toolkit, cuDNN and TensorRT from NVIDIA';
  if (!f.gpuLibs.cudart) out.push({ area: 'gpu', level: 'warn', text: `libcudart (CUDA runtime) not found in the library path: install ${install}` });
  if (!f.gpuLibs.cudnn) out.push({ area: 'gpu', level: 'warn', text: `libcudnn not found: onnxruntime's cuda provider needs cuDNN: install ${install}` });
  if (!f.gpuLibs.nvinfer) out.push({ area: 'gpu', level: 'warn', text: `libnvinfer (TensorRT) not found: the tensorrt provider cannot work without it: install ${install}` });
  if (f.gpuLibs.cudart && f.gpuLibs.cudnn && f.gpuLibs.nvinfer) {
    out.push({ area: 'gpu', level: 'ok', text: `GPU libraries found: CUDA runtime ${cudart ?? '?'}, cuDNN ${cudnn ?? '?'}, TensorRT ${nvinfer ?? '?'}` });
  }
  if (d.providers.status === 'probed' || d.providers.status === 'simulated') {
    const gpuEps = ['cuda', 'tensorrt'];
    const missing = gpuEps.filter((n) => !d.providers.checks.some((c) => c.name === n && c.listed));
    if (missing.length === gpuEps.length) out.push(notListed(missing, jetson));
    else for (const name of gpuEps) out.push(providerLine(d.providers.checks.find((c) => c.name === name), name, jetson));
  }
  return out;
}

/** V4L2 nodes that belong to the SoC (codecs, ISP, CSI receivers used through libcamera), not to a camera. */
const SOC_VIDEO = /^(bcm2835-(codec|isp)|rpi-hevc|pispbe|rp1-cfe|unicam|bcm2835-unicam)/;

function cameraAdvice(d: DeviceInfo, f: Findings, ffmpegPath: string): Advice[] {
  const out: Advice[] = [];
  const cams = f.videoDevices.filter((v) => !v.name || !SOC_VIDEO.test(v.name));
  if (cams.length > 0) {
    const list = cams.map((v) => (v.name ? `${v.path} (${v.name})` : v.path)).join(', ');
    out.push({ area: 'camera', level: 'ok', text: `V4L2 camera devices: ${list}` });
  }
  if (cams.some((v) => v.name?.startsWith('vi-output'))) {
    out.push({ area: 'camera', level: 'info', text: 'vi-output nodes are CSI sensors that give raw Bayer over V4L2; debayered frames come through the Argus ISP (GStreamer nvarguscamerasrc)' });
  }
  if (f.tools.ffmpeg) {
    out.push({ area: 'camera', level: 'ok', text: `ffmpeg found (${f.tools.ffmpeg}): USB (V4L2) and RTSP cameras work` });
  } else if (ffmpegPath !== 'ffmpeg') {
    out.push({ area: 'camera', level: 'warn', text: `ffmpeg not found at ${ffmpegPath} (camera.ffmpegPath): USB (V4L2) and RTSP cameras need it: fix camera.ffmpegPath, or install ffmpeg (\`sudo apt install ffmpeg\`) and leave it at ffmpeg` });
  } else {
    out.push({ area: 'camera', level: 'warn', text: 'ffmpeg not found: USB (V4L2) and RTSP cameras need it: `sudo apt install ffmpeg`' });
  }
  if (isPi(d)) {
    const cam = f.tools['rpicam-vid'] ?? f.tools['libcamera-vid'];
    if (cam) out.push({ area: 'camera', level: 'ok', text: `CSI camera modules: ${cam} found (libcamera)` });
    else out.push({ area: 'camera', level: 'warn', text: 'CSI camera modules need rpicam-apps (libcamera): `sudo apt install rpicam-apps`' });
  } else if (cams.length === 0) {
    out.push({ area: 'camera', level: 'info', text: 'no /dev/video* camera: plug in a USB camera, or use an RTSP URL or an image folder as the source' });
  }
  return out;
}

function brokerAdvice(f: Findings): Advice[] {
  if (f.tools.mosquitto) return [{ area: 'broker', level: 'ok', text: `mosquitto found (${f.tools.mosquitto})` }];
  return [{ area: 'broker', level: 'info', text: 'no mosquitto: `sudo apt install mosquitto`, or let edgefit start its embedded broker (aedes)' }];
}

function memoryAdvice(d: DeviceInfo): Advice[] {
  const out: Advice[] = [];
  const m = d.memory;
  if (m.cgroup && m.cgroup.limitMb !== null) {
    out.push({ area: 'memory', level: 'info', text: `cgroup v${m.cgroup.version} caps this process at ${Math.round(m.cgroup.limitMb)} MB (${Math.round(m.cgroup.usageMb ?? 0)} MB used): models are sized to ${Math.round(m.effectiveMb)} MB, not to the ${Math.round(m.availableMb)} MB the system has free` });
  }
  if (m.effectiveMb < 256) {
    out.push({ area: 'memory', level: 'warn', text: `only ${Math.round(m.effectiveMb)} MB free for edgefit: only the smallest variants fit; stop other services or raise the memory limit` });
  }
  return out;
}

function thermalAdvice(d: DeviceInfo, f: Findings): Advice[] {
  const out: Advice[] = [];
  const t = d.thermal;
  if (t.maxC !== null && t.maxC >= 80) {
    const z = t.zones.find((x) => x.tempC === t.maxC)!;
    out.push({ area: 'thermal', level: 'warn', text: `${z.type} at ${z.tempC} °C: close to thermal throttling; add a heatsink or fan before profiling` });
  }
  const th = t.throttle;
  if (th) {
    const now = throttleFlags(th.now);
    if (now.length > 0) out.push({ area: 'thermal', level: 'warn', text: `firmware reports now: ${now.join(', ')} (throttled=${th.raw}): measurements taken now are pessimistic` });
    if (th.now.underVoltage || th.sinceBoot.underVoltage) {
      const psu = d.board.kind === 'raspberry-pi-5' ? '5.1 V 5 A' : d.board.kind === 'raspberry-pi-4' ? '5.1 V 3 A' : 'the official';
      out.push({ area: 'power', level: 'warn', text: `under-voltage ${th.now.underVoltage ? 'now' : 'since boot'} (throttled=${th.raw}): use a ${psu} power supply and a short cable` });
    }
    const past = throttleFlags({ ...th.sinceBoot, underVoltage: false });
    if (past.length > 0 && now.length === 0) out.push({ area: 'thermal', level: 'info', text: `since boot: ${past.join(', ')} (throttled=${th.raw}); not now` });
    if (th.value === 0) out.push({ area: 'thermal', level: 'ok', text: 'no under-voltage or throttling since boot (throttled=0x0)' });
  } else if (isPi(d)) {
    const why = f.tools.vcgencmd ? 'vcgencmd get_throttled gave no answer' : 'vcgencmd not found (`sudo apt install raspi-utils`)';
    out.push({ area: 'thermal', level: 'info', text: `throttling not checked: ${why}` });
  }
  return out;
}

/** Everything the doctor concludes from a probe plus what it finds on disk. */
export async function diagnose(device: DeviceInfo, opts: FindingsOptions & { configuredProviders?: readonly ProviderName[] } = {}): Promise<DoctorReport> {
  const findings = await gatherFindings(device.root, opts);
  const advice = [
    ...runtimeAdvice(device),
    ...configuredProviderAdvice(device, opts.configuredProviders),
    ...int8Advice(device),
    ...gpuAdvice(device, findings),
    ...cameraAdvice(device, findings, opts.ffmpegPath ?? 'ffmpeg'),
    ...brokerAdvice(findings),
    ...memoryAdvice(device),
    ...thermalAdvice(device, findings),
  ];
  return { device, findings, fingerprint: boardFingerprint(device), advice };
}
