import { readFileSync } from 'node:fs';

/** Resident memory of a process from /proc/<pid>/status, in kB (Linux). */
export interface ProcMemory {
  rssKb: number;
  /** peak resident set since start or since the last reset through clear_refs */
  hwmKb: number;
}

/** Reads VmRSS and VmHWM; undefined where /proc is missing (non-Linux) or the process is gone. */
export function readProcMemory(pid: number | 'self' = 'self'): ProcMemory | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rss = field(text, 'VmRSS');
  const hwm = field(text, 'VmHWM');
  if (rss === undefined) return undefined;
  return { rssKb: rss, hwmKb: hwm ?? rss };
}

function field(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}
