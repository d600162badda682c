/** What the device probe found out about the board edgefit runs on. Every field comes from a file or a proof. */

import type { ProviderName } from '../engine/engine.js';

export type BoardKind =
  | 'raspberry-pi-3'
  | 'raspberry-pi-4'
  | 'raspberry-pi-5'
  | 'raspberry-pi-zero-2'
  | 'raspberry-pi'
  | 'jetson-nano'
  | 'jetson-tx2'
  | 'jetson-xavier'
  | 'jetson-orin'
  | 'jetson'
  | 'generic-arm64'
  | 'generic-x64'
  | 'generic';

export interface OsInfo {
  /** os-release ID, e.g. 'debian', 'ubuntu' */
  id: string | null;
  versionId: string | null;
  codename: string | null;
  prettyName: string | null;
}

export interface JetsonRelease {
  /** L4T release from /etc/nv_tegra_release, e.g. 'R36.3.0' */
  l4t: string;
  l4tMajor: number;
  /** JetPack release the L4T version ships with, e.g. '6.0'; null when the L4T version is unknown to us */
  jetpack: string | null;
}

export interface BoardInfo {
  /** /proc/device-tree/model without the trailing NUL; null on machines without a device tree (most x86) */
  model: string | null;
  kind: BoardKind;
  jetson: JetsonRelease | null;
  os: OsInfo;
  /** 'arm64' | 'x64' | 'arm' | ... (Node's names) */
  arch: string;
  kernel: string | null;
  /** glibc version, e.g. '2.36'; onnxruntime-node's prebuilt binaries need >= 2.28 */
  glibc: string | null;
  /** where `glibc` came from: the running process, or inferred from the distribution release */
  glibcSource: 'runtime' | 'os-release' | null;
}

/** Instruction-set features that decide how int8 inference runs (speed) and whether it is exact (correctness). */
export type CpuFeatureName =
  | 'asimd'
  | 'asimddp'
  | 'i8mm'
  | 'sve'
  | 'avx2'
  | 'fma'
  | 'avx512f'
  | 'avx512bw'
  | 'avx512_vnni'
  | 'avx_vnni';

export interface CpuFeature {
  name: CpuFeatureName;
  present: boolean;
  /** cpuinfo: listed in /proc/cpuinfo; hwcap: set in AT_HWCAP(2) of this process; absent: neither */
  source: 'cpuinfo' | 'hwcap' | 'cpuinfo+hwcap' | 'absent';
  /** what having (or lacking) it means for int8 speed and correctness */
  meaning: string;
}

export interface Int8Assessment {
  /** which family of onnxruntime int8 kernels this CPU gets */
  kernel: 'arm-i8mm' | 'arm-dotprod' | 'arm-neon' | 'x86-vnni' | 'x86-avx512bw' | 'x86-avx2' | 'x86-sse' | 'unknown';
  /** false when int8 results can differ from an exact integer computation (x86 u8s8 without VNNI) */
  exact: boolean;
  summary: string;
}

export interface CpuInfo {
  /** 'Cortex-A76' on ARM (named from the part number), 'model name' on x86 */
  model: string;
  vendor: string | null;
  /** ARM MIDR fields as cpuinfo prints them, e.g. implementer '0x41', part '0xd0b' */
  implementer: string | null;
  part: string | null;
  /** the board's cores (/proc/cpuinfo) */
  cores: number;
  /**
   * the cores a cgroup CPU quota leaves this process (`docker run --cpus 1.5` -> 2), when below `cores`; absent when
   * nothing limits it (see usableCores)
   */
  quotaCores?: number;
  maxMhz: number | null;
  features: CpuFeature[];
  /** every flag /proc/cpuinfo listed (Features on ARM, flags on x86) */
  flags: string[];
  int8: Int8Assessment;
}

export interface CgroupMemory {
  version: 1 | 2;
  /** the process's cgroup path from /proc/self/cgroup */
  path: string;
  /** tightest limit found from the process's cgroup up to the root; null = unlimited ('max') */
  limitMb: number | null;
  /**
   * working set (usage less inactive file cache, which the kernel drops before it would kill) of the cgroup that
   * holds the tightest limit (or of the process's own cgroup when unlimited)
   */
  usageMb: number | null;
}

export interface MemoryInfo {
  totalMb: number;
  /** MemAvailable from /proc/meminfo */
  availableMb: number;
  cgroup: CgroupMemory | null;
  /** what edgefit may still allocate: min(available, cgroup limit - cgroup usage) */
  effectiveMb: number;
}

export interface ThermalZone {
  zone: string;
  type: string;
  tempC: number;
}

/** Decoded `vcgencmd get_throttled` (Raspberry Pi firmware). */
export interface PiThrottle {
  raw: string;
  value: number;
  now: { underVoltage: boolean; armFreqCapped: boolean; throttled: boolean; softTempLimit: boolean };
  sinceBoot: { underVoltage: boolean; armFreqCapped: boolean; throttled: boolean; softTempLimit: boolean };
}

export interface ThermalInfo {
  zones: ThermalZone[];
  /** hottest zone, null when the board exposes none */
  maxC: number | null;
  throttle: PiThrottle | null;
}

export interface ProviderCheck {
  name: string;
  /** listed by onnxruntime-node's listSupportedBackends() */
  listed: boolean;
  bundled: boolean | null;
  /** a session with only this provider (and CPU fallback disabled) was created and computed the right answer */
  works: boolean;
  /** how `works` was established, or why it was not */
  evidence: string;
  /** node placement from ORT's profiler, e.g. ['CPUExecutionProvider'] */
  placedOn: string[];
  error: string | null;
}

export interface ProvidersInfo {
  /** 'probed' on this machine; 'simulated' with a fake binding; 'skipped' (recorded tree); 'unavailable' (binding did not load) */
  status: 'probed' | 'simulated' | 'skipped' | 'unavailable';
  ortVersion: string | null;
  listed: Array<{ name: string; bundled: boolean }>;
  checks: ProviderCheck[];
  /** providers proven to work, in edgefit's preference order */
  usable: ProviderName[];
  error: string | null;
}

export interface DeviceInfo {
  board: BoardInfo;
  cpu: CpuInfo;
  memory: MemoryInfo;
  thermal: ThermalInfo;
  providers: ProvidersInfo;
  /** filesystem root the probe read ('/' on a live machine) */
  root: string;
}

/** The cores this process can keep busy: the board's, or fewer under a cgroup CPU quota. */
export function usableCores(cpu: Pick<CpuInfo, 'cores' | 'quotaCores'>): number {
  return Math.max(1, Math.min(cpu.cores, cpu.quotaCores ?? cpu.cores));
}
