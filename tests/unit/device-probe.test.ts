import { describe, it, expect } from 'vitest';
import { cp, mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';
import { probeDevice, boardFingerprint } from '../../src/device/probe.js';
import { decodeThrottled } from '../../src/device/thermal.js';
import { armHwcapFeatures, parseAuxv } from '../../src/device/cpu.js';
import { parseTegraRelease } from '../../src/device/board.js';
import { usableCores, type DeviceInfo } from '../../src/device/types.js';

const boards = join(projectRoot, 'tests/fixtures/boards');
const feature = (d: DeviceInfo, name: string) => d.cpu.features.find((f) => f.name === name)!;

async function withTree(files: Record<string, string>, fn: (root: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'edgefit-board-'));
  try {
    for (const [p, content] of Object.entries(files)) {
      await mkdir(join(root, p, '..'), { recursive: true });
      await writeFile(join(root, p), content);
    }
    await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

describe('probeDevice on recorded boards', () => {
  it('Raspberry Pi 4: Cortex-A72 without dot product, 512 MB systemd cgroup limit, past under-voltage', async () => {
    const d = await probeDevice({ root: join(boards, 'pi4') });
    expect(d.board).toMatchObject({ model: 'Raspberry Pi 4 Model B Rev 1.4', kind: 'raspberry-pi-4', arch: 'arm64', kernel: '6.6.51+rpt-rpi-v8', jetson: null });
    expect(d.board.os).toMatchObject({ id: 'debian', versionId: '12', codename: 'bookworm' });
    expect(d.board.glibc).toBe('2.36');
    expect(d.cpu).toMatchObject({ model: 'Cortex-A72', implementer: '0x41', part: '0xd08', cores: 4, maxMhz: 1800 });
    expect(d.cpu.flags).toEqual(['fp', 'asimd', 'evtstrm', 'crc32', 'cpuid']);
    expect(feature(d, 'asimd').present).toBe(true);
    expect(feature(d, 'asimddp')).toMatchObject({ present: false, source: 'absent' });
    expect(feature(d, 'asimddp').meaning).toMatch(/no dot product.*still exact/);
    expect(d.cpu.int8).toMatchObject({ kernel: 'arm-neon', exact: true });
    expect(d.memory.totalMb).toBeCloseTo(3885244 / 1024, 0);
    expect(d.memory.availableMb).toBeCloseTo(3301928 / 1024, 0);
    expect(d.memory.cgroup).toEqual({ version: 2, path: '/system.slice/edgefit.service', limitMb: 512, usageMb: 140 });
    expect(d.memory.effectiveMb).toBe(372);
    expect(d.thermal.zones).toEqual([{ zone: 'thermal_zone0', type: 'cpu-thermal', tempC: 61.8 }]);
    expect(d.thermal.throttle).toMatchObject({
      raw: '0x50000',
      now: { underVoltage: false, armFreqCapped: false, throttled: false, softTempLimit: false },
      sinceBoot: { underVoltage: true, armFreqCapped: false, throttled: true, softTempLimit: false },
    });
    expect(d.providers.status).toBe('skipped');
  });

  it('Raspberry Pi 5: Cortex-A76 with asimddp, no cgroup limit, never throttled', async () => {
    const d = await probeDevice({ root: join(boards, 'pi5') });
    expect(d.board.kind).toBe('raspberry-pi-5');
    expect(d.cpu).toMatchObject({ model: 'Cortex-A76', part: '0xd0b', cores: 4, maxMhz: 2400 });
    expect(feature(d, 'asimddp')).toMatchObject({ present: true, source: 'cpuinfo' });
    expect(feature(d, 'asimddp').meaning).toMatch(/4 int8 products/);
    expect(feature(d, 'i8mm').present).toBe(false);
    expect(d.cpu.int8).toMatchObject({ kernel: 'arm-dotprod', exact: true });
    expect(d.memory.cgroup).toMatchObject({ version: 2, limitMb: null });
    expect(d.memory.effectiveMb).toBe(d.memory.availableMb);
    expect(d.thermal.throttle?.value).toBe(0);
  });

  it('Jetson Orin Nano: JetPack 6.0 from nv_tegra_release, A78AE named from the part despite a generic model name', async () => {
    const calls: string[] = [];
    const d = await probeDevice({ root: join(boards, 'jetson-orin'), runCommand: async (c) => { calls.push(c); return null; } });
    expect(d.board).toMatchObject({ model: 'NVIDIA Jetson Orin Nano Developer Kit', kind: 'jetson-orin', kernel: '5.15.136-tegra', glibc: '2.35' });
    expect(d.board.jetson).toEqual({ l4t: 'R36.3.0', l4tMajor: 36, jetpack: '6.0' });
    expect(d.cpu).toMatchObject({ model: 'Cortex-A78AE', part: '0xd42', cores: 6, maxMhz: 1510 });
    expect(d.cpu.int8.kernel).toBe('arm-dotprod');
    expect(d.thermal.zones.map((z) => z.type)).toContain('gpu-thermal');
    expect(d.thermal.zones).toHaveLength(9);
    expect(d.thermal.maxC).toBe(45.5);
    expect(d.thermal.throttle).toBeNull();
    expect(calls).toEqual([]); // vcgencmd is a Raspberry Pi tool
  });

  it('x86 in Docker: AVX2 without VNNI is flagged inexact; cgroup v1 limit read at the namespaced mount root', async () => {
    const d = await probeDevice({ root: join(boards, 'x86') });
    expect(d.board).toMatchObject({ model: null, kind: 'generic-x64', arch: 'x64' });
    expect(d.cpu).toMatchObject({ model: 'Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz', cores: 12, maxMhz: 4600 });
    expect(feature(d, 'avx2').present).toBe(true);
    expect(feature(d, 'fma').present).toBe(true);
    expect(feature(d, 'avx512_vnni').present).toBe(false);
    expect(feature(d, 'avx_vnni').present).toBe(false);
    expect(d.cpu.int8).toMatchObject({ kernel: 'x86-avx2', exact: false });
    expect(d.cpu.int8.summary).toMatch(/saturation.*7 bits/);
    expect(d.memory.cgroup).toMatchObject({ version: 1, limitMb: 2048, usageMb: 300 });
    expect(d.memory.effectiveMb).toBe(1748);
    expect(d.thermal.zones.map((z) => [z.type, z.tempC])).toEqual([['acpitz', 27.8], ['x86_pkg_temp', 52]]);
  });

  it('fingerprints differ between boards and ignore what changes between boots', async () => {
    const pi4 = await probeDevice({ root: join(boards, 'pi4') });
    const pi5 = await probeDevice({ root: join(boards, 'pi5') });
    expect(boardFingerprint(pi4)).toBe('raspberry-pi-4_cortex-a72-x4_asimd_ort-none');
    expect(boardFingerprint(pi5)).toBe('raspberry-pi-5_cortex-a76-x4_asimd.asimddp_ort-none');
    const hot = { ...pi5, thermal: { ...pi5.thermal, maxC: 90 }, memory: { ...pi5.memory, availableMb: 1 } };
    expect(boardFingerprint(hot)).toBe(boardFingerprint(pi5));
    const otherOrt = { ...pi5, providers: { ...pi5.providers, ortVersion: '1.31.0' } };
    expect(boardFingerprint(otherOrt)).toBe('raspberry-pi-5_cortex-a76-x4_asimd.asimddp_ort-1.31.0');
  });

  it('takes the tightest cgroup v2 limit up the hierarchy and treats "max" as unlimited', async () => {
    await withTree({
      'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '0::/a.slice/b.service\n',
      'sys/fs/cgroup/a.slice/memory.max': String(300 * 1024 * 1024),
      'sys/fs/cgroup/a.slice/memory.current': String(100 * 1024 * 1024),
      'sys/fs/cgroup/a.slice/b.service/memory.max': 'max',
      'sys/fs/cgroup/a.slice/b.service/memory.current': String(50 * 1024 * 1024),
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.memory.cgroup).toEqual({ version: 2, path: '/a.slice/b.service', limitMb: 300, usageMb: 100 });
      expect(d.memory.effectiveMb).toBe(200);
    });
  });

  it('counts a cgroup\'s working set: file cache it can drop at once is not used memory (v2 and v1)', async () => {
    // 512 MB limit, 500 MB charged, 400 MB of it inactive file cache (the models just read and hashed)
    const MiB = 1024 * 1024;
    await withTree({
      'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '0::/edgefit.service\n',
      'sys/fs/cgroup/edgefit.service/memory.max': String(512 * MiB),
      'sys/fs/cgroup/edgefit.service/memory.current': String(500 * MiB),
      'sys/fs/cgroup/edgefit.service/memory.stat': `anon ${90 * MiB}\nfile ${410 * MiB}\nactive_file ${10 * MiB}\ninactive_file ${400 * MiB}\n`,
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.memory.cgroup).toEqual({ version: 2, path: '/edgefit.service', limitMb: 512, usageMb: 100 });
      expect(d.memory.effectiveMb).toBe(412);
    });
    await withTree({
      'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '4:memory:/docker/abc\n0::/\n',
      'sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': String(512 * MiB),
      'sys/fs/cgroup/memory/docker/abc/memory.usage_in_bytes': String(505 * MiB),
      // v1: the hierarchy's total, not the cgroup's own inactive_file
      'sys/fs/cgroup/memory/docker/abc/memory.stat': `inactive_file ${1 * MiB}\ntotal_inactive_file ${400 * MiB}\n`,
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.memory.cgroup).toEqual({ version: 1, path: '/docker/abc', limitMb: 512, usageMb: 105 });
      expect(d.memory.effectiveMb).toBe(407);
    });
  });

  it('a cgroup CPU quota (docker --cpus, CPUQuota=) leaves fewer cores than the board has: said, planned for and fingerprinted', async () => {
    const cpuinfo = Array.from({ length: 4 }, (_, i) => `processor\t: ${i}\nmodel name\t: Test CPU\nflags\t\t: avx2\n`).join('\n');
    // v2: 150000/100000 = 1.5 CPUs at a parent -> 2 cores; the process's own cgroup has no quota
    await withTree({
      'proc/cpuinfo': cpuinfo, 'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '0::/docker/abc\n',
      'sys/fs/cgroup/docker/cpu.max': '150000 100000\n',
      'sys/fs/cgroup/docker/abc/cpu.max': 'max 100000\n',
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.cpu.cores).toBe(4);
      expect(d.cpu.quotaCores).toBe(2);
      expect(usableCores(d.cpu)).toBe(2);
      expect(boardFingerprint(d)).toMatch(/_test-cpu-x4q2_/);
    });
    // v1: cfs quota 100000 / period 100000 = 1 CPU under cpu,cpuacct
    await withTree({
      'proc/cpuinfo': cpuinfo, 'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '5:cpu,cpuacct:/svc\n4:memory:/svc\n0::/\n',
      'sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_quota_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/svc/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.cpu.quotaCores).toBe(1);
      expect(usableCores(d.cpu)).toBe(1);
    });
    // no quota, or one above the board's cores: nothing said, the fingerprint as before
    await withTree({
      'proc/cpuinfo': cpuinfo, 'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 3000000 kB\n',
      'proc/self/cgroup': '0::/x\n', 'sys/fs/cgroup/x/cpu.max': '800000 100000\n',
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.cpu.quotaCores).toBeUndefined();
      expect(usableCores(d.cpu)).toBe(4);
      expect(boardFingerprint(d)).toMatch(/_test-cpu-x4_/);
    });
  });

  it('reads cgroup v1 under the process path and treats the v1 "no limit" sentinel as unlimited', async () => {
    await withTree({
      'proc/meminfo': 'MemTotal: 4000000 kB\nMemAvailable: 1000000 kB\n',
      'proc/self/cgroup': '4:memory:/svc\n0::/\n',
      'sys/fs/cgroup/memory/memory.limit_in_bytes': '9223372036854771712',
      'sys/fs/cgroup/memory/svc/memory.limit_in_bytes': '9223372036854771712',
      'sys/fs/cgroup/memory/svc/memory.usage_in_bytes': '1048576',
    }, async (root) => {
      const d = await probeDevice({ root });
      expect(d.memory.cgroup).toEqual({ version: 1, path: '/svc', limitMb: null, usageMb: 1 });
      expect(d.memory.effectiveMb).toBeCloseTo(1000000 / 1024, 0);
    });
  });

  it('on a copy of the Pi 4 tree, a throttled-now recording and a hotter zone change only what they should', async () => {
    const root = await mkdtemp(join(tmpdir(), 'edgefit-pi4-'));
    try {
      await cp(join(boards, 'pi4'), root, { recursive: true });
      await writeFile(join(root, 'commands/vcgencmd_get_throttled.txt'), 'throttled=0xe000e\n');
      await writeFile(join(root, 'sys/class/thermal/thermal_zone0/temp'), '84312\n');
      const d = await probeDevice({ root });
      expect(d.thermal.maxC).toBe(84.3);
      expect(d.thermal.throttle?.now).toEqual({ underVoltage: false, armFreqCapped: true, throttled: true, softTempLimit: true });
      expect(d.thermal.throttle?.sinceBoot).toEqual({ underVoltage: false, armFreqCapped: true, throttled: true, softTempLimit: true });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses a root that is not a directory, naming the flag', async () => {
    await expect(probeDevice({ root: join(boards, 'no-such-board') })).rejects.toThrow(/--root/);
  });
});

describe('decoders', () => {
  it('decodes every vcgencmd get_throttled bit and rejects garbage', () => {
    const t = decodeThrottled('throttled=0x80008\n')!;
    expect(t.now).toEqual({ underVoltage: false, armFreqCapped: false, throttled: false, softTempLimit: true });
    expect(t.sinceBoot).toEqual({ underVoltage: false, armFreqCapped: false, throttled: false, softTempLimit: true });
    expect(decodeThrottled('throttled=0x1')!.now.underVoltage).toBe(true);
    expect(decodeThrottled('throttled=0x2')!.now.armFreqCapped).toBe(true);
    expect(decodeThrottled('throttled=0x20000')!.sinceBoot.armFreqCapped).toBe(true);
    expect(decodeThrottled('error=1 error_msg="Command not registered"')).toBeNull();
  });

  it('reads AT_HWCAP/AT_HWCAP2 from a 64-bit auxv and maps the arm64 int8 bits', () => {
    const buf = new ArrayBuffer(16 * 4);
    const v = new DataView(buf);
    const put = (i: number, type: bigint, value: bigint): void => {
      v.setBigUint64(i * 16, type, true);
      v.setBigUint64(i * 16 + 8, value, true);
    };
    put(0, 16n, (1n << 1n) | (1n << 20n)); // AT_HWCAP: ASIMD | ASIMDDP
    put(1, 26n, 1n << 13n); // AT_HWCAP2: I8MM
    put(2, 6n, 4096n); // AT_PAGESZ, ignored
    put(3, 0n, 0n); // AT_NULL
    const caps = parseAuxv(new Uint8Array(buf))!;
    expect([...armHwcapFeatures(caps.hwcap, caps.hwcap2)].sort()).toEqual(['asimd', 'asimddp', 'i8mm']);
    expect(parseAuxv(new Uint8Array(8))).toBeNull();
  });

  it('maps L4T releases to JetPack', () => {
    expect(parseTegraRelease('# R32 (release), REVISION: 7.4, GCID: 33514132, BOARD: t210ref')).toMatchObject({ l4t: 'R32.7.4', l4tMajor: 32, jetpack: '4.6.4' });
    expect(parseTegraRelease('# R35 (release), REVISION: 4.1, GCID: 33958178')).toMatchObject({ l4t: 'R35.4.1', jetpack: '5.1.2' });
    expect(parseTegraRelease('# R36 (release), REVISION: 9.0')).toMatchObject({ l4tMajor: 36, jetpack: '6.x' });
    expect(parseTegraRelease('not a release file')).toBeNull();
  });
});

describe('probeDevice on this machine', () => {
  it('reports structural facts and proves only the providers that really run here', async () => {
    const d = await probeDevice({ quietOrt: true });
    expect(d.root).toBe('/');
    expect(d.board.arch).toBe(process.arch);
    expect(d.cpu.cores).toBeGreaterThan(0);
    expect(d.cpu.features.length).toBeGreaterThan(0);
    expect(d.memory.totalMb).toBeGreaterThan(0);
    expect(d.memory.effectiveMb).toBeLessThanOrEqual(d.memory.availableMb);
    expect(d.providers.status).toBe('probed');
    expect(d.providers.listed.map((b) => b.name)).toContain('cpu');
    expect(d.providers.usable).toContain('cpu');
    // no NVIDIA GPU here: whatever the binding lists, cuda and tensorrt must not be reported usable
    expect(d.providers.usable).not.toContain('cuda');
    expect(d.providers.usable).not.toContain('tensorrt');
    expect(d.providers.checks.find((c) => c.name === 'cpu')!.placedOn).toEqual(['CPUExecutionProvider']);
    expect(boardFingerprint(d)).toMatch(/^[a-z0-9._-]+$/);
  });
});
