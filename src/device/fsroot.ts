import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Reads files under a filesystem root: '/' on a live machine, a recorded tree (tests/fixtures/boards/*) otherwise.
 * Absent or unreadable files are `null`: boards differ in what they expose, and the probe reports what is there.
 */
export class FsRoot {
  constructor(readonly root: string) {}

  get live(): boolean {
    return this.root === '/';
  }

  path(abs: string): string {
    return join(this.root, abs);
  }

  async text(abs: string): Promise<string | null> {
    try {
      return await readFile(this.path(abs), 'utf8');
    } catch {
      return null;
    }
  }

  async bytes(abs: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(abs));
    } catch {
      return null;
    }
  }

  /** First line, trimmed; device-tree strings end with a NUL, which is dropped. */
  async line(abs: string): Promise<string | null> {
    const t = await this.text(abs);
    if (t === null) return null;
    const s = t.replace(/\0+$/g, '').split('\n')[0]!.trim();
    return s.length > 0 ? s : null;
  }

  async int(abs: string): Promise<number | null> {
    const l = await this.line(abs);
    if (l === null || !/^-?\d+$/.test(l)) return null;
    return Number(l);
  }

  async list(abs: string): Promise<string[]> {
    try {
      return (await readdir(this.path(abs))).sort();
    } catch {
      return [];
    }
  }

  async exists(abs: string): Promise<boolean> {
    try {
      await stat(this.path(abs));
      return true;
    } catch {
      return false;
    }
  }
}

/** KEY=value files (os-release); values may be double- or single-quoted. */
export function parseKeyValue(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(raw.trim());
    if (!m) continue;
    let v = m[2]!.trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}
