import { posix } from 'node:path';
import type { CgroupMemory, MemoryInfo } from './types.js';
import type { FsRoot } from './fsroot.js';
import { ancestry, parseProcCgroup } from './cgroup.js';

const MB = 1024 * 1024;
/** cgroup v1 prints "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 on 4 KiB pages); anything this big is unlimited. */
const V1_UNLIMITED = 2 ** 60;

export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

interface Level { limit: number | null; usage: number | null }

/**
 * A cgroup's working set: its usage less the file cache it could drop at once (`inactive_file`; v1 counts the
 * hierarchy's as `total_inactive_file`), as kubelet and cAdvisor count it. Usage alone counts every page of every
 * file read (the models, their hashing at start, logs): a container near its limit with most of it reclaimable
 * would look full and refuse every model.
 */
async function workingSet(fs: FsRoot, dir: string, usageFile: string, inactiveKey: string): Promise<number | null> {
  const usage = await fs.int(posix.join(dir, usageFile));
  if (usage === null) return null;
  const stat = await fs.text(posix.join(dir, 'memory.stat'));
  const m = stat ? new RegExp(`^${inactiveKey} (\\d+)$`, 'm').exec(stat) : null;
  return Math.max(0, usage - (m ? Number(m[1]) : 0));
}

async function readLevels(fs: FsRoot, mount: string, path: string, limitFile: string, usageFile: string, inactiveKey: string): Promise<Level[] | null> {
  let levels: Level[] = [];
  // Walking up also covers a container with its own cgroup namespace, whose recorded path may not exist under the
  // mount: the mount root is then the container's own cgroup.
  for (const p of ancestry(path)) {
    const dir = posix.join(mount, p);
    if (!(await fs.exists(dir))) continue;
    const raw = await fs.line(posix.join(dir, limitFile));
    let limit: number | null = null;
    if (raw !== null && raw !== 'max' && /^\d+$/.test(raw)) {
      const n = Number(raw);
      limit = n >= V1_UNLIMITED ? null : n;
    }
    levels.push({ limit, usage: await workingSet(fs, dir, usageFile, inactiveKey) });
  }
  if (levels.length === 0) return null;
  levels = levels.filter((l) => l.limit !== null || l.usage !== null);
  return levels;
}

function pickTightest(version: 1 | 2, path: string, levels: Level[]): CgroupMemory {
  let best: Level | null = null;
  let bestHeadroom = Infinity;
  for (const l of levels) {
    if (l.limit === null) continue;
    const headroom = l.limit - (l.usage ?? 0);
    if (headroom < bestHeadroom) {
      bestHeadroom = headroom;
      best = l;
    }
  }
  const own = levels[0] ?? { limit: null, usage: null };
  const chosen = best ?? own;
  return {
    version,
    path,
    limitMb: chosen.limit === null ? null : chosen.limit / MB,
    usageMb: chosen.usage === null ? null : chosen.usage / MB,
  };
}

export async function probeCgroup(fs: FsRoot): Promise<CgroupMemory | null> {
  const text = await fs.text('/proc/self/cgroup');
  if (!text) return null;
  const { v2, v1memory } = parseProcCgroup(text);
  // A v1 memory controller wins when present: on hybrid systems the unified (v2) tree has no memory controller.
  if (v1memory !== null) {
    const levels = await readLevels(fs, '/sys/fs/cgroup/memory', v1memory, 'memory.limit_in_bytes', 'memory.usage_in_bytes', 'total_inactive_file');
    if (levels) return pickTightest(1, v1memory, levels);
  }
  if (v2 !== null) {
    const levels = await readLevels(fs, '/sys/fs/cgroup', v2, 'memory.max', 'memory.current', 'inactive_file');
    if (levels) return pickTightest(2, v2, levels);
  }
  return null;
}

export async function probeMemory(fs: FsRoot): Promise<MemoryInfo> {
  const info = parseMeminfo((await fs.text('/proc/meminfo')) ?? '');
  const totalMb = (info['MemTotal'] ?? 0) / 1024;
  // kernels before 3.14 lack MemAvailable; free + cache is the usual estimate there
  const availKb = info['MemAvailable'] ?? (info['MemFree'] ?? 0) + (info['Cached'] ?? 0) + (info['Buffers'] ?? 0);
  const availableMb = availKb / 1024;
  const cgroup = await probeCgroup(fs);
  let effectiveMb = availableMb;
  if (cgroup && cgroup.limitMb !== null) {
    effectiveMb = Math.min(availableMb, Math.max(0, cgroup.limitMb - (cgroup.usageMb ?? 0)));
  }
  return { totalMb: round1(totalMb), availableMb: round1(availableMb), cgroup: cgroup && {
    ...cgroup,
    limitMb: cgroup.limitMb === null ? null : round1(cgroup.limitMb),
    usageMb: cgroup.usageMb === null ? null : round1(cgroup.usageMb),
  }, effectiveMb: round1(effectiveMb) };
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}
