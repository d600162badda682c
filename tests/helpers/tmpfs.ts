import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, writeSync, closeSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounts a tmpfs with the given options (e.g. 'size=64k') on dir; false where mounting is impossible (not root). */
export function mountTmpfs(dir: string, opts: string): boolean {
  try { execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' }); return true; } catch { return false; }
}

export function umount(dir: string): void {
  try { execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); } catch { /* not mounted */ }
}

/** Whether this process can mount a tmpfs (CI runs as root); tried once on a scratch directory. */
export function canMountTmpfs(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'edgefit-mnt-probe-'));
  const ok = mountTmpfs(probe, 'size=64k');
  umount(probe);
  try { rmdirSync(probe); } catch { /* still busy: left in tmp */ }
  return ok;
}

/**
 * Fills the filesystem holding path (a new file) until ENOSPC, down to the last bytes. On tmpfs another file's
 * partly used last page stays writable, so its next append that crosses a page boundary is a short write.
 */
export function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    try { for (;;) writeSync(fd, chunk); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err; }
    try { for (;;) writeSync(fd, chunk, 0, 512); } catch { /* full */ }
  } finally {
    closeSync(fd);
  }
}
