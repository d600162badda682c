import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileCache } from '../../src/profile/cache.js';
import { bestOf, makeMeasurer } from '../../src/profile/measure.js';
import type { Measurement } from '../../src/profile/types.js';
import { bruteForceSelect, searchAndSelect, specsFor } from '../../src/select/search.js';
import type { Budget, CandidateSpec } from '../../src/select/types.js';
import type { BenchContext, SectionResult } from './context.js';
import { removeDir } from './daemon.js';
import { fmt, table } from './stats.js';

/**
 * A budget in the middle of the ladder, placed in the widest relative gap between neighbouring p90s of the
 * middle third, so re-measuring noise does not flip which rung fits.
 */
export function midRangeBudget(p90s: number[]): number {
  const s = p90s.filter((x) => Number.isFinite(x) && x > 0).sort((a, b) => a - b);
  if (s.length < 2) throw new Error('a mid-range budget needs at least two measured candidates');
  const lo = Math.max(0, Math.floor(s.length / 3) - 1);
  const hi = Math.min(s.length - 2, Math.ceil((2 * s.length) / 3));
  let best = lo;
  for (let i = lo; i <= hi; i++) if (s[i + 1]! / s[i]! > s[best + 1]! / s[best]!) best = i;
  return Math.sqrt(s[best]! * s[best + 1]!);
}

/**
 * The daemon's selection (pruning search over the profiler in child processes) against measuring every candidate
 * (bruteForceSelect), each from an empty cache, for a mid-range latency budget: wall time, candidates measured,
 * and whether both pick the same rung.
 */
export async function selectionSection(ctx: BenchContext): Promise<SectionResult> {
  const ladder = await ctx.ladder();
  const specs = specsFor(ladder, ['cpu']);
  const profile = ctx.quick ? { minRuns: 3, minMs: 200, warmupRuns: 1 } : { minRuns: 10, minMs: 300, warmupRuns: 2 };
  const threads: number | 'auto' = ctx.quick ? 1 : 'auto';
  const tmp = mkdtempSync(join(tmpdir(), 'edgefit-bench-sel-'));
  try {
    const measurer = (file: string, counter: { n: number; children: number }) => {
      const m = makeMeasurer({ board: 'bench', cache: new ProfileCache(join(tmp, file)), threads, percentile: 'p90', profile });
      return async (s: CandidateSpec): Promise<Measurement[]> => {
        counter.n++;
        const r = (await m(s)).measurements; // no probe frames here: latency only
        counter.children += r.length;
        return r;
      };
    };
    // brute force first: its figures place the budget in the middle of this machine's ladder
    const bruteCount = { n: 0, children: 0 };
    const all = new Map<string, Measurement[]>();
    const bruteMeasure = measurer('brute.json', bruteCount);
    ctx.log(`selection: brute force over ${specs.length} candidates (threads ${threads})`);
    const tb0 = performance.now();
    for (const s of specs) all.set(s.variant.id, await bruteMeasure(s));
    const bruteMs = performance.now() - tb0;
    const budgetMs = midRangeBudget([...all.values()].map((ms) => bestOf(ms, 'p90')?.latencyMs.p90 ?? Number.NaN));
    const budget: Budget = { latencyMs: budgetMs, percentile: 'p90' };
    const brute = (await bruteForceSelect(specs, budget, async (s) => all.get(s.variant.id)!)).decision;
    // the search replayed on brute force's own figures: the algorithm alone, without re-measuring noise
    let replayCount = 0;
    const replay = (await searchAndSelect(specs, budget, async (s) => { replayCount++; return all.get(s.variant.id)!; })).decision;

    const searchCount = { n: 0, children: 0 };
    ctx.log(`selection: search with budget p90 <= ${budgetMs.toFixed(1)} ms`);
    const ts0 = performance.now();
    const search = (await searchAndSelect(specs, budget, measurer('search.json', searchCount))).decision;
    const searchMs = performance.now() - ts0;
    const same = (brute.chosen?.id ?? null) === (search.chosen?.id ?? null);
    const replaySame = (brute.chosen?.id ?? null) === (replay.chosen?.id ?? null);
    // where the live search's pick stands in brute force's figures, to tell noise from a wrong pick
    const p90In = (id: string | undefined) => { const ms = id ? all.get(id.replace(/@cpu$/, '')) : undefined; return ms ? bestOf(ms, 'p90')?.latencyMs.p90 : undefined; };
    const rows = [
      ['brute force (every candidate)', `${bruteCount.n}/${specs.length}`, `${bruteCount.children}`, fmt(bruteMs / 1000, 1), brute.chosen?.id ?? 'none'],
      ['search (edgefit run / profile)', `${searchCount.n}/${specs.length}`, `${searchCount.children}`, fmt(searchMs / 1000, 1), search.chosen?.id ?? 'none'],
      ['search replayed on brute force\'s figures', `${replayCount}/${specs.length}`, '0', '-', replay.chosen?.id ?? 'none'],
    ];
    const half = searchCount.n < specs.length / 2;
    return {
      name: 'selection',
      title: `Selection cost for a mid-range budget (p90 <= ${budgetMs.toFixed(1)} ms)`,
      table: table(['method', 'candidates measured', 'child processes', 'wall s', 'chosen'], rows),
      targets: [
        { what: 'candidates measured by the search', target: `< half of ${specs.length}`, measured: `${searchCount.n} (brute force ${bruteCount.n}); wall ${fmt(searchMs / 1000, 1)} s vs ${fmt(bruteMs / 1000, 1)} s`, met: half },
        { what: 'search and brute force choose the same rung', target: 'same', measured: same ? `both ${search.chosen?.id}` : `live: search ${search.chosen?.id ?? 'none'} vs brute ${brute.chosen?.id ?? 'none'}; replayed on the same figures: ${replaySame ? 'same' : `search ${replay.chosen?.id ?? 'none'}`}`, met: same },
      ],
      notes: [
        `Each measurement is a child process per thread count (${threads === 'auto' ? '1 and all cores' : '1 thread'}), ${profile.minRuns} runs / ${profile.minMs} ms at least; both start from an empty cache.`,
        'The two do not measure the same runs: near the budget, noise between the two measurements of a rung can flip a pick (the budget sits in the widest gap of the middle third to make that less likely). The replay row runs the search on brute force\'s figures: it must pick exactly what brute force picks.',
        ...(same ? [] : [`Brute force measured the live search's pick at p90 ${fmt(p90In(search.chosen?.id) ?? Number.NaN, 1)} ms and its own pick at ${fmt(p90In(brute.chosen?.id) ?? Number.NaN, 1)} ms (budget ${budgetMs.toFixed(1)} ms).`]),
      ],
      data: { budgetMs, profile, threads, brute: { ms: bruteMs, measured: bruteCount, chosen: brute.chosen?.id ?? null }, search: { ms: searchMs, measured: searchCount, chosen: search.chosen?.id ?? null, rejected: search.rejected }, replay: { measured: replayCount, chosen: replay.chosen?.id ?? null } },
    };
  } finally {
    removeDir(tmp);
  }
}
