import { compareRanked, fastestOk, memoryOf } from './policy.js';
import { accuracyOf, demotion } from './accuracy.js';
import type { Candidate, Decision } from './types.js';
import { missCauses } from './misses.js';

const num = (x: number | undefined, d = 1) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

/**
 * A plain-text table in ranking order (accuracy, published or estimated, demoted rungs below; else MACs), with
 * where each accuracy figure comes from, the measured agreement of reduced-resolution rungs with their native
 * model, the choice and each loser's reason.
 */
export function decisionTable(candidates: Candidate[], d: Decision): string {
  const p = d.budget.percentile;
  const rejected = new Map(d.rejected.map((r) => [r.id, r]));
  const rows = [...candidates].sort((a, b) => compareRanked(a, b, d.budget.minAgreement)).map((c) => {
    const chosen = d.chosen?.id === c.id;
    const m = chosen ? d.chosenMeasurement ?? undefined : fastestOk(c, p);
    const r = rejected.get(c.id);
    const acc = accuracyOf(c.variant);
    const a = c.agreement;
    const demoted = chosen ? demotion(c, d.budget.minAgreement) : undefined;
    return [
      chosen ? '*' : ' ',
      c.id,
      c.variant.precision,
      num(c.variant.macs / 1e6),
      acc ? `${(acc.value * 100).toFixed(1)}%` : '?',
      acc ? (acc.kind === 'published' ? 'pub' : 'est') : '-',
      a ? (a.ok ? `${a.agreeing}/${a.frames}` : 'failed') : '-',
      num(m?.latencyMs.p50), num(m?.latencyMs.p90), num(m?.latencyMs.p99),
      num(m ? memoryOf(m) : undefined),
      m ? String(m.threads) : '-',
      chosen ? `CHOSEN${demoted ? ` (${demoted}; nothing ranked above it fits)` : ''}` : r ? `${r.reason}: ${r.detail}` : '',
    ];
  });
  const head = [' ', 'candidate', 'prec', 'MMACs', 'top-1', 'kind', 'agree', 'p50 ms', 'p90 ms', 'p99 ms', 'MB', 'thr', 'verdict'];
  const all = [head, ...rows];
  const widths = head.map((_, i) => (i === head.length - 1 ? 0 : Math.max(...all.map((r) => r[i]!.length))));
  const right = new Set([3, 4, 6, 7, 8, 9, 10, 11]);
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const budget = [
    d.budget.latencyMs !== undefined ? `${p} <= ${d.budget.latencyMs.toFixed(1)} ms` : undefined,
    d.budget.memoryMb !== undefined ? `memory <= ${d.budget.memoryMb.toFixed(0)} MB` : undefined,
    d.budget.minAccuracy !== undefined ? `top-1 >= ${(d.budget.minAccuracy * 100).toFixed(1)}%` : undefined,
  ].filter(Boolean).join(', ') || 'none';
  const legend = `top-1: pub = published, est = estimated from the published drop between resolutions (src/catalog/published-accuracy.ts); agree: probe frames whose top-1 matches the native-resolution model${d.budget.minAgreement > 0 ? `, below ${(d.budget.minAgreement * 100).toFixed(0)}% demoted` : ''}`;
  const summary = d.chosen
    ? `chosen: ${d.chosen.id} (${d.chosenMeasurement!.threads} thread(s)); budget ${budget}; measured ${d.measured} of ${d.ladder}`
    : `nothing fits the budget (${budget}); measured ${d.measured} of ${d.ladder}\nwhy: ${missCauses(d)}`;
  return [line(head), ...rows.map(line), '', summary, legend].join('\n') + '\n';
}
