import { posix } from 'node:path';

/**
 * The process's cgroup paths from /proc/self/cgroup: the v2 unified path ("0::/x") and the v1 path of the memory
 * ("4:memory:/x") and cpu ("3:cpu,cpuacct:/x") controllers.
 */
export function parseProcCgroup(text: string): { v2: string | null; v1memory: string | null; v1cpu: string | null } {
  let v2: string | null = null;
  let v1memory: string | null = null;
  let v1cpu: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const controllers = m[2]!.split(',');
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    if (controllers.includes('memory')) v1memory = m[3]!;
    if (controllers.includes('cpu')) v1cpu = m[3]!;
  }
  return { v2, v1memory, v1cpu };
}

/** The cgroup and its ancestors, deepest first: a parent's limit caps its children too. */
export function ancestry(path: string): string[] {
  const out: string[] = [];
  let p = posix.normalize(path.startsWith('/') ? path : `/${path}`);
  for (;;) {
    out.push(p);
    if (p === '/') return out;
    p = posix.dirname(p);
  }
}
