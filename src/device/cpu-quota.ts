import { posix } from 'node:path';
import type { FsRoot } from './fsroot.js';
import { ancestry, parseProcCgroup } from './cgroup.js';

/**
 * The CPUs a cgroup quota lets this process use (e.g. 1.5 for `docker run --cpus 1.5`, CPUQuota=150% in a unit),
 * the tightest from its cgroup up to the root; null when nothing limits it. /proc/cpuinfo and Node's
 * availableParallelism() list every core of the board either way: threads and parallel cameras planned from those
 * would contend for a fraction of them.
 */
export async function probeCpuQuota(fs: FsRoot): Promise<number | null> {
  const text = await fs.text('/proc/self/cgroup');
  if (!text) return null;
  const { v2, v1cpu: v1 } = parseProcCgroup(text);
  let tightest: number | null = null;
  const take = (cpus: number | null) => { if (cpus !== null && cpus > 0 && (tightest === null || cpus < tightest)) tightest = cpus; };
  if (v1 !== null) {
    // the v1 controller is mounted as cpu, or cpu,cpuacct (with cpu a link to it)
    for (const mount of ['/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
      if (!(await fs.exists(mount))) continue;
      for (const p of ancestry(v1)) {
        const dir = posix.join(mount, p);
        const quota = await fs.int(posix.join(dir, 'cpu.cfs_quota_us'));
        const period = await fs.int(posix.join(dir, 'cpu.cfs_period_us'));
        // -1: no quota
        if (quota !== null && quota > 0 && period !== null && period > 0) take(quota / period);
      }
      break;
    }
  }
  if (v2 !== null && tightest === null) {
    for (const p of ancestry(v2)) {
      // "max 100000" (no quota) or "150000 100000"
      const m = /^(\d+)\s+(\d+)$/.exec((await fs.line(posix.join('/sys/fs/cgroup', p, 'cpu.max'))) ?? '');
      if (m && Number(m[2]) > 0) take(Number(m[1]) / Number(m[2]));
    }
  }
  return tightest;
}
