export interface TopKEntry {
  index: number;
  label: string;
  score: number;
}

/**
 * The k best scores, best first, optionally only those >= threshold. One pass with an insertion into a
 * k-long buffer: no sort of the whole array and no allocation besides the returned entries (hot path).
 * NaN scores never rank. Ties keep the lower index first. `allowed` (1 = may rank) restricts the classes
 * considered (a label filter), so the k best of those are found, not the allowed among the k best.
 */
export function topK(scores: Float32Array, k: number, labels?: readonly string[], threshold = -Infinity, allowed?: Uint8Array): TopKEntry[] {
  const n = Math.max(0, Math.min(Math.floor(k), scores.length));
  const out: TopKEntry[] = [];
  if (n === 0) return out;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i]!;
    if (!(s >= threshold)) continue; // also drops NaN
    if (allowed && allowed[i] !== 1) continue;
    if (out.length === n && s <= out[n - 1]!.score) continue;
    let j = out.length < n ? out.length : n - 1;
    const entry = out.length < n ? { index: i, label: '', score: s } : out[n - 1]!;
    entry.index = i;
    entry.score = s;
    if (out.length < n) out.push(entry);
    while (j > 0 && out[j - 1]!.score < s) {
      out[j] = out[j - 1]!;
      j--;
    }
    out[j] = entry;
  }
  for (const e of out) e.label = labels?.[e.index] ?? String(e.index);
  return out;
}
