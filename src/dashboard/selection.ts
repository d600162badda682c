import type { ModelPayload } from '../mqtt/payloads.js';
import { plotSvg, type PlotData, type PlotPoint } from '../select/plot.js';

/**
 * The selection picture of a device, drawn by the same chart code as `edgefit profile --plot` (src/select/plot.ts);
 * this file only maps the retained `model` payload onto that module's PlotData.
 *
 * The payload carries p90 per candidate (CandidateSummary.p90Ms), so the x axis is p90 whatever percentile the
 * budget uses; the budget line is labelled with its own percentile. Candidates that were never measured (pruned
 * by the search) have no latency: plot.ts lists them under the chart instead of drawing them.
 */
export function plotDataFromModel(m: ModelPayload, opts: { width?: number; height?: number } = {}): PlotData {
  // payloads before estimates carry referenceAccuracy only
  const acc = (c: ModelPayload['candidates'][number]) => c.accuracy ?? c.referenceAccuracy;
  const yKind = m.candidates.length > 0 && m.candidates.every((c) => acc(c) !== undefined) ? 'accuracy' : 'macs';
  const points: PlotPoint[] = m.candidates.map((c) => ({
    id: c.id,
    latencyMs: c.p90Ms ?? NaN,
    y: yKind === 'accuracy' ? acc(c)! : c.macs,
    ...(yKind === 'accuracy' ? { accuracyKind: c.accuracyKind ?? 'published' } : {}),
    status: c.chosen ? 'chosen' : c.reason === undefined || c.reason === 'dominated' ? 'fits' : 'rejected',
    // the short reason: plot.ts prints it beside the point and in its <title>; the page's table has the detail
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
  }));
  const b = m.budget;
  const budgets = b.latencyMs !== undefined ? [{ ms: b.latencyMs, label: `budget ${b.latencyMs} ms (${b.percentile ?? 'p90'})` }] : [];
  return {
    points, yKind, percentile: 'p90', budgets,
    title: `${m.deviceId} (${m.board}): ${m.variant.id} chosen, ${m.measured} of ${m.ladder} measured`,
    ...(opts.width ? { width: opts.width } : {}), ...(opts.height ? { height: opts.height } : {}),
  };
}

export function selectionSvg(m: ModelPayload, opts: { width?: number; height?: number } = {}): string {
  return plotSvg(plotDataFromModel(m, opts));
}
