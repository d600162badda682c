/** Reading V8 .cpuprofile files (node --cpu-prof): self time per function. */

export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; hitCount?: number; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface SelfTime {
  fn: string;
  /** file:line (1-based), relative to the project where possible */
  where: string;
  ms: number;
  share: number;
}

/**
 * Self time per function (same name and location merged), from `skipMs` after the profile started; shares are
 * of the time sampled after that point.
 */
export function selfTimes(p: CpuProfile, skipMs = 0, root = ''): { total: number; top: SelfTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const acc = new Map<string, SelfTime>();
  let t = 0;
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    // a sample's delta is the time since the previous one: attribute it to this sample
    const d = (deltas[i] ?? 0) / 1000;
    t += d;
    if (t < skipMs) continue;
    const n = byId.get(samples[i]!);
    if (!n) continue;
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '').replace(root ? `${root}/` : '\u0000', '');
    const where = url ? `${url}:${cf.lineNumber + 1}` : '';
    const fn = cf.functionName || '(anonymous)';
    const key = `${fn}@${where}`;
    const e = acc.get(key) ?? { fn, where, ms: 0, share: 0 };
    e.ms += d;
    acc.set(key, e);
    total += d;
  }
  const top = [...acc.values()].sort((a, b) => b.ms - a.ms);
  for (const e of top) e.share = total > 0 ? e.ms / total : 0;
  return { total, top };
}
