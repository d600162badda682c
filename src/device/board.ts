import { release } from 'node:os';
import type { BoardInfo, BoardKind, JetsonRelease, OsInfo } from './types.js';
import { parseKeyValue, type FsRoot } from './fsroot.js';

/** L4T (Linux for Tegra) release -> JetPack release, from NVIDIA's JetPack archive. */
const JETPACK_BY_L4T: Array<[string, string]> = [
  ['R32.4.3', '4.4'], ['R32.4.4', '4.4.1'], ['R32.5', '4.5'], ['R32.5.1', '4.5.1'], ['R32.6.1', '4.6'],
  ['R32.7.1', '4.6.1'], ['R32.7.2', '4.6.2'], ['R32.7.3', '4.6.3'], ['R32.7.4', '4.6.4'], ['R32.7.5', '4.6.5'],
  ['R32.7.6', '4.6.6'],
  ['R35.1.0', '5.0.2'], ['R35.2.1', '5.1'], ['R35.3.1', '5.1.1'], ['R35.4.1', '5.1.2'], ['R35.5.0', '5.1.3'],
  ['R35.6.0', '5.1.4'], ['R35.6.1', '5.1.5'],
  ['R36.2.0', '6.0 DP'], ['R36.3.0', '6.0'], ['R36.4.0', '6.1'], ['R36.4.3', '6.2'], ['R36.4.4', '6.2.1'],
];

/** Parses `# R36 (release), REVISION: 3.0, GCID: ...` from /etc/nv_tegra_release. */
export function parseTegraRelease(text: string): JetsonRelease | null {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)/.exec(text);
  if (!m) return null;
  const major = Number(m[1]);
  const rev = m[2]!.split('.');
  const l4t = `R${major}.${rev[0] ?? '0'}.${rev[1] ?? '0'}`;
  const exact = JETPACK_BY_L4T.find(([k]) => k === l4t || `${k}.0` === l4t);
  const family = major === 32 ? '4.x' : major === 34 || major === 35 ? '5.x' : major === 36 ? '6.x' : null;
  return { l4t, l4tMajor: major, jetpack: exact ? exact[1] : family };
}

/** glibc each distribution release ships; used only for recorded trees (a live probe asks the running process). */
const GLIBC_BY_OS: Record<string, string> = {
  'ubuntu:18.04': '2.27', 'ubuntu:20.04': '2.31', 'ubuntu:22.04': '2.35', 'ubuntu:24.04': '2.39',
  'debian:10': '2.28', 'debian:11': '2.31', 'debian:12': '2.36', 'debian:13': '2.41',
  'raspbian:10': '2.28', 'raspbian:11': '2.31', 'raspbian:12': '2.36',
};

export function kindFromModel(model: string | null, arch: string, tegra: JetsonRelease | null, cpuPart: string | null): BoardKind {
  const m = model ?? '';
  if (/Raspberry Pi 5|Compute Module 5/i.test(m)) return 'raspberry-pi-5';
  if (/Raspberry Pi 4|Compute Module 4|Raspberry Pi 400/i.test(m)) return 'raspberry-pi-4';
  if (/Raspberry Pi Zero 2/i.test(m)) return 'raspberry-pi-zero-2';
  if (/Raspberry Pi 3|Compute Module 3/i.test(m)) return 'raspberry-pi-3';
  if (/Raspberry Pi/i.test(m)) return 'raspberry-pi';
  const isJetson = tegra !== null || /Jetson|NVIDIA/i.test(m);
  if (isJetson) {
    // the model string names the module; the core only decides when the model is missing or unfamiliar
    if (/Orin/i.test(m)) return 'jetson-orin';
    if (/Xavier/i.test(m)) return 'jetson-xavier';
    if (/TX2/i.test(m)) return 'jetson-tx2';
    if (/Nano/i.test(m)) return 'jetson-nano';
    if (cpuPart === '0xd42') return 'jetson-orin';
    if (cpuPart === '0x004') return 'jetson-xavier';
    return 'jetson';
  }
  if (arch === 'arm64') return 'generic-arm64';
  if (arch === 'x64') return 'generic-x64';
  return 'generic';
}

function glibcRuntime(): string | null {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime ?? null;
}

export async function probeBoard(fs: FsRoot, arch: string, cpuPart: string | null): Promise<BoardInfo> {
  const model = (await fs.line('/proc/device-tree/model')) ?? (await fs.line('/sys/firmware/devicetree/base/model'));
  const tegraText = await fs.text('/etc/nv_tegra_release');
  const jetson = tegraText ? parseTegraRelease(tegraText) : null;

  const osText = (await fs.text('/etc/os-release')) ?? (await fs.text('/usr/lib/os-release'));
  const kv = osText ? parseKeyValue(osText) : {};
  const os: OsInfo = {
    id: kv['ID'] ?? null,
    versionId: kv['VERSION_ID'] ?? null,
    codename: kv['VERSION_CODENAME'] ?? null,
    prettyName: kv['PRETTY_NAME'] ?? null,
  };

  const kernel = (await fs.line('/proc/sys/kernel/osrelease')) ?? (fs.live ? release() : null);

  let glibc: string | null = null;
  let glibcSource: BoardInfo['glibcSource'] = null;
  if (fs.live) {
    glibc = glibcRuntime();
    if (glibc) glibcSource = 'runtime';
  }
  if (!glibc && os.id && os.versionId) {
    // Ubuntu point releases (22.04.4) share their base's glibc
    const v = os.id === 'ubuntu' ? os.versionId.split('.').slice(0, 2).join('.') : os.versionId.split('.')[0]!;
    glibc = GLIBC_BY_OS[`${os.id}:${v}`] ?? null;
    if (glibc) glibcSource = 'os-release';
  }

  return { model, kind: kindFromModel(model, arch, jetson, cpuPart), jetson, os, arch, kernel, glibc, glibcSource };
}
