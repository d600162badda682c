import type { CpuFeature, CpuFeatureName, CpuInfo, Int8Assessment } from './types.js';
import { probeCpuQuota } from './cpu-quota.js';
import type { FsRoot } from './fsroot.js';

/** One processor block of /proc/cpuinfo as key -> value. */
export type CpuinfoBlock = Record<string, string>;

export function parseCpuinfo(text: string): { processors: CpuinfoBlock[]; global: CpuinfoBlock } {
  const processors: CpuinfoBlock[] = [];
  const global: CpuinfoBlock = {};
  for (const chunk of text.split(/\n\s*\n/)) {
    const block: CpuinfoBlock = {};
    for (const line of chunk.split('\n')) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      block[line.slice(0, i).trim()] = line.slice(i + 1).trim();
    }
    if ('processor' in block) processors.push(block);
    else Object.assign(global, block); // Pi kernels print Hardware/Revision/Serial/Model after the processors
  }
  return { processors, global };
}

/** ARM Ltd (implementer 0x41) core names by MIDR part number. */
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'Cortex-A53', '0xd04': 'Cortex-A35', '0xd05': 'Cortex-A55', '0xd07': 'Cortex-A57', '0xd08': 'Cortex-A72',
  '0xd09': 'Cortex-A73', '0xd0a': 'Cortex-A75', '0xd0b': 'Cortex-A76', '0xd0c': 'Neoverse-N1', '0xd0d': 'Cortex-A77',
  '0xd40': 'Neoverse-V1', '0xd41': 'Cortex-A78', '0xd42': 'Cortex-A78AE', '0xd44': 'Cortex-X1', '0xd46': 'Cortex-A510',
  '0xd47': 'Cortex-A710', '0xd48': 'Cortex-X2', '0xd49': 'Neoverse-N2', '0xd4b': 'Cortex-A78C', '0xd4d': 'Cortex-A715',
  '0xd4e': 'Cortex-X3', '0xd4f': 'Neoverse-V2', '0xd80': 'Cortex-A520', '0xd81': 'Cortex-A720', '0xd82': 'Cortex-X4',
};
/** NVIDIA (implementer 0x4e) cores: Denver 2 (TX2), Carmel (Xavier). */
const NVIDIA_PARTS: Record<string, string> = { '0x003': 'Denver 2', '0x004': 'Carmel' };

/**
 * Cores that implement the v8.2 dot-product instructions. onnxruntime (through pytorch-cpuinfo) picks its dotprod
 * kernels from the part number, not from the Features line (measured: /work/shared/notes/arm64-emulation.md).
 */
const DOTPROD_PARTS = new Set(['0xd05', '0xd0a', '0xd0b', '0xd0c', '0xd0d', '0xd40', '0xd41', '0xd42', '0xd44', '0xd46',
  '0xd47', '0xd48', '0xd49', '0xd4b', '0xd4d', '0xd4e', '0xd4f', '0xd80', '0xd81', '0xd82']);

export function armCoreName(implementer: string | null, part: string | null): string | null {
  if (!implementer || !part) return null;
  const p = part.toLowerCase();
  const table = implementer.toLowerCase() === '0x41' ? ARM_PARTS : implementer.toLowerCase() === '0x4e' ? NVIDIA_PARTS : {};
  return table[p] ?? null;
}

// Linux uapi asm/hwcap.h (arm64)
const AT_HWCAP = 16n;
const AT_HWCAP2 = 26n;
const HWCAP_ASIMD = 1n << 1n;
const HWCAP_ASIMDDP = 1n << 20n;
const HWCAP_SVE = 1n << 22n;
const HWCAP2_I8MM = 1n << 13n;

/** AT_HWCAP and AT_HWCAP2 from a 64-bit little-endian /proc/self/auxv. */
export function parseAuxv(buf: Uint8Array): { hwcap: bigint; hwcap2: bigint } | null {
  if (buf.byteLength < 16) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let hwcap: bigint | null = null;
  let hwcap2 = 0n;
  for (let off = 0; off + 16 <= buf.byteLength; off += 16) {
    const type = view.getBigUint64(off, true);
    const value = view.getBigUint64(off + 8, true);
    if (type === 0n) break; // AT_NULL
    if (type === AT_HWCAP) hwcap = value;
    else if (type === AT_HWCAP2) hwcap2 = value;
  }
  return hwcap === null ? null : { hwcap, hwcap2 };
}

/** The int8-relevant arm64 features the kernel grants this process. */
export function armHwcapFeatures(hwcap: bigint, hwcap2: bigint): Set<CpuFeatureName> {
  const s = new Set<CpuFeatureName>();
  if (hwcap & HWCAP_ASIMD) s.add('asimd');
  if (hwcap & HWCAP_ASIMDDP) s.add('asimddp');
  if (hwcap & HWCAP_SVE) s.add('sve');
  if (hwcap2 & HWCAP2_I8MM) s.add('i8mm');
  return s;
}

const MEANING: Record<CpuFeatureName, { yes: string; no: string }> = {
  asimd: {
    yes: 'NEON SIMD: baseline of every arm64 int8 kernel; int8 sums accumulate in 32 bits, so results are exact',
    no: 'no NEON: onnxruntime has no fast int8 or fp32 kernels for this CPU',
  },
  asimddp: {
    yes: 'dot product (SDOT/UDOT): 4 int8 products summed into each 32-bit lane per instruction; onnxruntime\'s fast arm64 int8 kernels (Cortex-A76 Pi 5, A78AE Orin); exact',
    no: 'no dot product (e.g. Cortex-A53/A72, Pi 3/4): int8 uses plain NEON widening multiplies, a smaller gain over fp32; still exact',
  },
  i8mm: {
    yes: 'int8 matrix multiply (SMMLA/UMMLA): an 8x8 int8 block per instruction, the fastest arm64 int8 GEMM onnxruntime has; exact',
    no: 'no int8 matrix multiply (no Pi nor Jetson up to Orin has it): dot-product or NEON kernels are used',
  },
  sve: {
    yes: 'scalable vectors: few onnxruntime kernels use them; int8 speed is set by asimddp/i8mm',
    no: 'no SVE: irrelevant for onnxruntime int8 (its arm64 int8 kernels are NEON)',
  },
  avx2: {
    yes: '256-bit integer SIMD: onnxruntime\'s AVX2 int8 kernels',
    no: 'no AVX2: int8 falls back to SSE kernels, slow',
  },
  fma: {
    yes: 'fused multiply-add: fast fp32 kernels (the fp32 reference and unquantized layers); no effect on int8',
    no: 'no FMA: fp32 kernels are slower; no effect on int8',
  },
  avx512f: {
    yes: '512-bit vectors: wider fp32 kernels (int8 also needs avx512bw)',
    no: 'no AVX-512: 256-bit kernels',
  },
  avx512bw: {
    yes: '512-bit byte/word ops: 512-bit int8 kernels (still saturating in int16 unless VNNI is present)',
    no: 'no AVX-512BW: no 512-bit int8 kernels',
  },
  avx512_vnni: {
    yes: 'AVX-512 VNNI (VPDPBUSD): u8 x s8 products accumulate straight into int32: fast and exact int8',
    no: 'no AVX-512 VNNI',
  },
  avx_vnni: {
    yes: 'AVX-VNNI (VPDPBUSD on 256 bits): u8 x s8 products accumulate straight into int32: fast and exact int8',
    no: 'no AVX-VNNI',
  },
};

const ARM_FEATURES: CpuFeatureName[] = ['asimd', 'asimddp', 'i8mm', 'sve'];
const X86_FEATURES: CpuFeatureName[] = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni'];

export function featureMeaning(name: CpuFeatureName, present: boolean): string {
  return present ? MEANING[name].yes : MEANING[name].no;
}

export function assessInt8(arch: string, has: (f: CpuFeatureName) => boolean): Int8Assessment {
  if (arch === 'arm64') {
    const exact = 'results match an exact integer computation (measured bit-exact on Cortex-A53/A57/A72/A76)';
    if (has('i8mm')) return { kernel: 'arm-i8mm', exact: true, summary: `int8 matrix-multiply kernels (i8mm); ${exact}` };
    if (has('asimddp')) return { kernel: 'arm-dotprod', exact: true, summary: `int8 dot-product kernels (asimddp), the fast int8 path on arm64; ${exact}` };
    return { kernel: 'arm-neon', exact: true, summary: `int8 on plain NEON (no dot product): int8 gains less over fp32 than on dotprod cores; ${exact}` };
  }
  if (arch === 'x64') {
    if (has('avx512_vnni') || has('avx_vnni')) {
      return { kernel: 'x86-vnni', exact: true, summary: 'int8 VNNI kernels: u8 x s8 products accumulate in int32, fast and exact' };
    }
    const kernel = has('avx512bw') ? 'x86-avx512bw' : has('avx2') ? 'x86-avx2' : 'x86-sse';
    return {
      kernel,
      exact: false,
      summary: 'no VNNI: onnxruntime\'s u8s8 int8 kernels add pairs of u8 x s8 products in int16 with saturation '
        + '(VPMADDUBSW), so full-range 8-bit weights can clip: quantize weights to 7 bits (reduce_range) or verify '
        + 'fidelity against fp32; not a valid int8 reference for arm64 boards',
    };
  }
  return { kernel: 'unknown', exact: false, summary: `no int8 kernel knowledge for architecture ${arch}: verify fidelity against fp32` };
}

export function archFromCpuinfo(processors: CpuinfoBlock[]): string | null {
  const p = processors[0];
  if (!p) return null;
  if ('CPU implementer' in p || 'Features' in p) {
    const a = p['CPU architecture'];
    return a === '7' ? 'arm' : 'arm64';
  }
  if ('flags' in p || 'vendor_id' in p) return 'x64';
  return null;
}

/** Highest cpuinfo_max_freq over all CPUs (big.LITTLE boards differ per cluster), in MHz. */
async function maxMhz(fs: FsRoot): Promise<number | null> {
  let best: number | null = null;
  for (const d of await fs.list('/sys/devices/system/cpu')) {
    if (!/^cpu\d+$/.test(d)) continue;
    const khz = await fs.int(`/sys/devices/system/cpu/${d}/cpufreq/cpuinfo_max_freq`);
    if (khz !== null && khz > 0) best = Math.max(best ?? 0, Math.round(khz / 1000));
  }
  return best;
}

export async function probeCpu(fs: FsRoot, arch: string): Promise<CpuInfo> {
  const text = (await fs.text('/proc/cpuinfo')) ?? '';
  const { processors } = parseCpuinfo(text);
  const quota = await probeCpuQuota(fs);
  const first = processors[0] ?? {};
  const flags = (first['Features'] ?? first['flags'] ?? '').split(/\s+/).filter(Boolean);
  const flagSet = new Set(flags);

  let hw: Set<CpuFeatureName> | null = null;
  // AT_HWCAP describes the running process, so it only applies to a live probe on arm64
  if (fs.live && arch === 'arm64') {
    const auxv = await fs.bytes('/proc/self/auxv');
    const caps = auxv ? parseAuxv(auxv) : null;
    if (caps) hw = armHwcapFeatures(caps.hwcap, caps.hwcap2);
  }

  const implementer = first['CPU implementer'] ?? null;
  const parts = [...new Set(processors.map((p) => p['CPU part']).filter((x): x is string => !!x))];
  const names = parts.map((p) => armCoreName(implementer, p) ?? `ARM part ${p}`);
  // ARM kernels (L4T among them) may print a generic 'model name: ARMv8 Processor rev 1 (v8l)': the part names the core
  const known = parts.map((p) => armCoreName(implementer, p)).filter((x): x is string => x !== null);
  const model = (known.length > 0 ? names.join(' + ') : null) ?? first['model name'] ?? first['Processor']
    ?? (names.length > 0 ? names.join(' + ') : 'unknown CPU');
  const dotprodByPart = parts.some((p) => DOTPROD_PARTS.has(p.toLowerCase())) && implementer?.toLowerCase() === '0x41';

  const names_ = arch === 'arm64' ? ARM_FEATURES : arch === 'x64' ? X86_FEATURES : [];
  const features: CpuFeature[] = names_.map((name) => {
    const inInfo = flagSet.has(name);
    const inHw = hw?.has(name) ?? false;
    const present = inInfo || inHw;
    const source = inInfo && inHw ? 'cpuinfo+hwcap' : inInfo ? 'cpuinfo' : inHw ? 'hwcap' : 'absent';
    let meaning = featureMeaning(name, present);
    if (name === 'asimddp' && !present && dotprodByPart) {
      meaning += `; but the core (${names.join(', ')}) implements it and onnxruntime picks kernels by part number, so dotprod kernels run anyway`;
    }
    return { name, present, source, meaning };
  });
  const has = (f: CpuFeatureName): boolean => features.some((x) => x.name === f && x.present);

  return {
    model,
    vendor: first['vendor_id'] ?? (implementer?.toLowerCase() === '0x41' ? 'ARM' : implementer?.toLowerCase() === '0x4e' ? 'NVIDIA' : null),
    implementer,
    part: parts.length > 0 ? parts.join(',') : null,
    cores: processors.length,
    ...(quota !== null && Math.ceil(quota) < processors.length ? { quotaCores: Math.max(1, Math.ceil(quota)) } : {}),
    maxMhz: await maxMhz(fs),
    features,
    flags,
    int8: assessInt8(arch, has),
  };
}
