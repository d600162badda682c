import type { Candidate, Decision, Percentile } from './types.js';
import { compareStatic, fastestOk } from './policy.js';
import { accuracyOf } from './accuracy.js';

export interface PlotPoint {
  id: string;
  /** latency at the plot's percentile (ms); NaN when not measured or failed (listed, not drawn) */
  latencyMs: number;
  /** accuracy (0..1) or MACs, per PlotData.yKind */
  y: number;
  status: 'chosen' | 'fits' | 'rejected';
  /** short reason for rejected points, e.g. "too-slow" */
  reason?: string;
  /** where an accuracy y comes from: estimated points are drawn hollow */
  accuracyKind?: 'published' | 'estimated';
}

export interface PlotData {
  points: PlotPoint[];
  yKind: 'accuracy' | 'macs';
  percentile: Percentile;
  /** vertical budget line(s) in ms */
  budgets?: { ms: number; label: string }[];
  title?: string;
  width?: number;
  height?: number;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The chart draws whatever it is given (a device's retained model payload, a profile cache): the figures it
 * draws and its loops are bounded here, not by trusting its callers. A figure outside [0, MAX_FIGURE] is
 * listed under the chart instead of drawn; an axis spans at least MIN_SPAN (a 1e-323 accuracy would make a
 * tick step of 0); an axis has at most MAX_TICKS ticks, and at most MAX_POINTS points are drawn.
 */
const MAX_FIGURE = 1e15;
const MIN_SPAN = 1e-9;
const MAX_TICKS = 12;
const MAX_POINTS = 2000;
/** labels are placed (an overlap test against those placed) for this many points; the rest keep their hover text */
const MAX_LABELS = 200;

/** Round tick steps (1, 2, 5 x 10^k) covering [0, max]. */
function ticks(max: number, want = 6): number[] {
  const span = Number.isFinite(max) ? Math.min(MAX_FIGURE, Math.max(MIN_SPAN, max)) : 1;
  const raw = span / want;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw && Number.isFinite(s)) ?? span;
  const out: number[] = [];
  // i * step rather than a running sum: no drift, and the count bounds the loop whatever the arithmetic gives
  for (let i = 0; i <= MAX_TICKS; i++) {
    const v = Number((i * step).toPrecision(12));
    out.push(v);
    if (v >= span) break;
  }
  return out;
}

const drawable = (v: number) => Number.isFinite(v) && v >= 0 && v <= MAX_FIGURE;
const size = (v: number | undefined, fallback: number) => (v !== undefined && Number.isFinite(v) ? Math.min(4000, Math.max(200, v)) : fallback);

const fmtY = (kind: PlotData['yKind'], v: number) => (kind === 'accuracy' ? `${(v * 100).toFixed(0)}%` : `${(v / 1e6).toFixed(v >= 1e7 ? 0 : 1)}M`);

/**
 * An SVG chart (a string, no DOM): size (accuracy or MACs) against latency, the budget as a vertical line, the
 * chosen point highlighted and rejected points labelled with their reason. Used by `edgefit profile --plot` and
 * the dashboard.
 */
export function plotSvg(d: PlotData): string {
  const W = size(d.width, 760), H = size(d.height, 480);
  const m = { l: 70, r: 30, t: 40, b: 60 };
  const drawn: PlotPoint[] = [];
  const missing: PlotPoint[] = [];
  for (const p of d.points) (drawn.length < MAX_POINTS && drawable(p.latencyMs) && drawable(p.y) ? drawn : missing).push(p);
  const budgets = (d.budgets ?? []).filter((b) => drawable(b.ms));
  let xMax = 1e-3, yMaxRaw = drawn.length ? 0 : 1;
  for (const p of drawn) { xMax = Math.max(xMax, p.latencyMs); yMaxRaw = Math.max(yMaxRaw, p.y); }
  for (const b of budgets) xMax = Math.max(xMax, b.ms);
  xMax *= 1.08;
  const xt = ticks(xMax), yt = ticks(d.yKind === 'accuracy' ? Math.min(1, yMaxRaw * 1.1) : yMaxRaw * 1.1);
  const X1 = xt[xt.length - 1]!, Y1 = yt[yt.length - 1]!;
  const px = (v: number) => m.l + (v / X1) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - (v / Y1) * (H - m.t - m.b);
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  if (d.title) o.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(d.title)}</text>`);
  for (const t of xt) {
    o.push(`<line x1="${px(t).toFixed(1)}" y1="${m.t}" x2="${px(t).toFixed(1)}" y2="${H - m.b}" stroke="#eee"/>`);
    o.push(`<text x="${px(t).toFixed(1)}" y="${H - m.b + 16}" text-anchor="middle">${t}</text>`);
  }
  for (const t of yt) {
    o.push(`<line x1="${m.l}" y1="${py(t).toFixed(1)}" x2="${W - m.r}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    o.push(`<text x="${m.l - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${esc(fmtY(d.yKind, t))}</text>`);
  }
  o.push(`<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>`);
  o.push(`<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>`);
  o.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 20}" text-anchor="middle">${d.percentile} latency (ms)</text>`);
  o.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${d.yKind === 'accuracy' ? 'top-1 accuracy (filled: published, hollow: estimated)' : 'MACs'}</text>`);
  for (const b of budgets) {
    const x = px(b.ms).toFixed(1);
    o.push(`<line class="budget" x1="${x}" y1="${m.t}" x2="${x}" y2="${H - m.b}" stroke="#c00" stroke-dasharray="6 4"/>`);
    o.push(`<text x="${x}" y="${m.t - 4}" text-anchor="middle" fill="#c00">${esc(b.label)}</text>`);
  }
  // points first, labels after: labels are placed chosen first, then fitting, then rejected, and a label that
  // would overlap one already placed is left out (the point keeps its hover text), so crowded charts stay legible
  const placed: { x0: number; x1: number; y0: number; y1: number }[] = [];
  const rank = { chosen: 0, fits: 1, rejected: 2 } as const;
  const labels: string[] = [];
  let tried = 0;
  for (const p of [...drawn].sort((a, b) => (rank[a.status as keyof typeof rank] ?? 3) - (rank[b.status as keyof typeof rank] ?? 3))) {
    const x = px(p.latencyMs), y = py(p.y);
    const fill = p.status === 'chosen' ? '#1a7f37' : p.status === 'fits' ? '#0969da' : '#999';
    const r = p.status === 'chosen' ? 7 : 4.5;
    const est = p.accuracyKind === 'estimated';
    o.push(`<circle class="point ${p.status}" data-id="${esc(p.id)}"${p.accuracyKind ? ` data-accuracy="${p.accuracyKind}"` : ''} cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${est ? '#fff' : fill}"${p.status === 'chosen' ? ' stroke="#000" stroke-width="2"' : est ? ` stroke="${fill}" stroke-width="2"` : ''}><title>${esc(`${p.id}: ${p.latencyMs.toFixed(1)} ms${est ? ', accuracy estimated' : ''}${p.reason ? ` (${p.reason})` : ''}`)}</title></circle>`);
    const label = p.status === 'rejected' ? `${p.id} (${p.reason ?? 'rejected'})` : p.status === 'chosen' ? `${p.id} (chosen)` : p.id;
    // labels of points in the right third go to their left, so they stay inside the chart
    const left = x > W * 0.66;
    const width = label.length * 6.2;
    const lx = x + (left ? -9 : 9);
    const box = { x0: left ? lx - width : lx, x1: left ? lx : lx + width, y0: y - 8, y1: y + 6 };
    if (p.status !== 'chosen' && (++tried > MAX_LABELS || placed.some((b) => box.x0 < b.x1 && box.x1 > b.x0 && box.y0 < b.y1 && box.y1 > b.y0))) continue;
    placed.push(box);
    labels.push(`<text x="${lx.toFixed(1)}" y="${(y + 4).toFixed(1)}"${left ? ' text-anchor="end"' : ''} fill="${fill}"${p.status === 'chosen' ? ' font-weight="bold"' : ''}>${esc(label)}</text>`);
  }
  o.push(...labels);
  if (missing.length) {
    // as many as fit on the line; the rest are counted (every one is in the candidates table)
    const why = (p: PlotPoint) => (Number.isFinite(p.latencyMs) && Number.isFinite(p.y) ? (drawable(p.latencyMs) && drawable(p.y) ? 'over the chart\'s limit of points' : 'figures out of range') : p.reason ?? 'not measured');
    const all = missing.map((p) => `${p.id} (${why(p)})`);
    const room = Math.floor((W - m.l) / 6.2) - 40;
    let shown = 0;
    for (let len = 0; shown < all.length && (shown === 0 || len + 2 + all[shown]!.length <= room); shown++) len += (shown ? 2 : 0) + all[shown]!.length;
    const more = all.length - shown > 0 ? ` and ${all.length - shown} more` : '';
    // the hover text lists them all, up to the bound of points a chart draws
    o.push(`<text x="${m.l}" y="${H - 4}" fill="#999">${esc(`not drawn (no figures): ${all.slice(0, shown).join(', ')}${more}`)}<title>${esc(all.slice(0, MAX_POINTS).join('\n'))}${all.length > MAX_POINTS ? esc(`\nand ${all.length - MAX_POINTS} more`) : ''}</title></text>`);
  }
  o.push('</svg>');
  return o.join('\n') + '\n';
}

/** Chart data for a decision: accuracy (published or estimated) on y when every candidate has one, else MACs. */
export function plotDataFromDecision(candidates: Candidate[], decision: Decision, title?: string): PlotData {
  const p = decision.budget.percentile;
  const yKind = candidates.length > 0 && candidates.every((c) => accuracyOf(c.variant) !== undefined) ? 'accuracy' : 'macs';
  const rejected = new Map(decision.rejected.map((r) => [r.id, r]));
  const points: PlotPoint[] = [...candidates].sort(compareStatic).map((c) => {
    const r = rejected.get(c.id);
    const chosen = decision.chosen?.id === c.id;
    const m = chosen ? decision.chosenMeasurement : fastestOk(c, p);
    return {
      id: c.id,
      latencyMs: m ? m.latencyMs[p] : NaN,
      y: yKind === 'accuracy' ? accuracyOf(c.variant)!.value : c.variant.macs,
      status: chosen ? 'chosen' : r?.reason === 'dominated' ? 'fits' : 'rejected',
      ...(r ? { reason: r.reason } : {}),
      ...(yKind === 'accuracy' ? { accuracyKind: accuracyOf(c.variant)!.kind } : {}),
    };
  });
  const budgets = decision.budget.latencyMs !== undefined ? [{ ms: decision.budget.latencyMs, label: `budget ${decision.budget.latencyMs.toFixed(1)} ms` }] : [];
  return { points, yKind, percentile: p, budgets, ...(title ? { title } : {}) };
}
