/**
 * Checks of a Grafana dashboard JSON (the classic model, as Grafana exports and imports it) without Grafana,
 * which Debian does not package: the essentials of the model that the import needs, and the PromQL of its panels.
 */

interface Target { refId?: unknown; expr?: unknown; datasource?: unknown }
interface Panel { id?: unknown; type?: unknown; title?: unknown; gridPos?: Record<string, unknown>; datasource?: unknown; targets?: Target[]; panels?: Panel[] }
interface Variable { name?: unknown; type?: unknown; query?: unknown }
interface DashboardJson { uid?: unknown; title?: unknown; schemaVersion?: unknown; panels?: Panel[]; templating?: { list?: Variable[] }; time?: unknown }

const PANEL_TYPES = new Set(['row', 'stat', 'timeseries', 'table', 'bargauge', 'piechart', 'gauge', 'text', 'heatmap', 'barchart']);

/** Every panel, rows' children included. */
export function allPanels(d: DashboardJson): Panel[] {
  const out: Panel[] = [];
  for (const p of d.panels ?? []) { out.push(p); for (const c of p.panels ?? []) out.push(c); }
  return out;
}

/** What is wrong with the dashboard's structure; empty when nothing is. */
export function grafanaProblems(json: unknown): string[] {
  const d = json as DashboardJson;
  const bad: string[] = [];
  if (typeof d !== 'object' || d === null) return ['not an object'];
  if (typeof d.uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(d.uid)) bad.push('uid must be 1-40 of [A-Za-z0-9_-]');
  if (typeof d.title !== 'string' || d.title === '') bad.push('title missing');
  if (!Number.isInteger(d.schemaVersion) || (d.schemaVersion as number) < 27) bad.push('schemaVersion missing or older than Grafana 8 (27)');
  if (!Array.isArray(d.panels) || d.panels.length === 0) bad.push('no panels');
  const vars = new Map((d.templating?.list ?? []).map((v) => [v.name, v]));
  const ds = vars.get('datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== 'prometheus') bad.push('a "datasource" variable of type datasource (query prometheus) is missing');
  const ids = new Set<unknown>();
  for (const p of allPanels(d)) {
    const name = `panel ${String(p.id)} "${String(p.title)}"`;
    if (!Number.isInteger(p.id) || ids.has(p.id)) bad.push(`${name}: id missing or repeated`);
    ids.add(p.id);
    if (typeof p.type !== 'string' || !PANEL_TYPES.has(p.type)) bad.push(`${name}: unknown type ${String(p.type)}`);
    const g = p.gridPos;
    if (!g || ![g.h, g.w, g.x, g.y].every(Number.isInteger) || (g.x as number) + (g.w as number) > 24) bad.push(`${name}: gridPos must be integers h, w, x, y within 24 columns`);
    if (p.type === 'row') continue;
    if (!isPromDs(p.datasource)) bad.push(`${name}: datasource must be the prometheus variable`);
    if (!Array.isArray(p.targets) || p.targets.length === 0) { bad.push(`${name}: no targets`); continue; }
    const refs = new Set<unknown>();
    for (const t of p.targets) {
      if (typeof t.refId !== 'string' || refs.has(t.refId)) bad.push(`${name}: refId missing or repeated`);
      refs.add(t.refId);
      if (typeof t.expr !== 'string' || !t.expr.trim()) bad.push(`${name}: a target has no expr`);
      if (!isPromDs(t.datasource)) bad.push(`${name}: target ${String(t.refId)} datasource must be the prometheus variable`);
      for (const v of String(t.expr).matchAll(/\$(\w+)/g)) {
        if (!v[1]!.startsWith('__') && !vars.has(v[1]!)) bad.push(`${name}: uses $${v[1]}, which no variable defines`);
      }
    }
  }
  return bad;
}

function isPromDs(ds: unknown): boolean {
  const o = ds as { type?: unknown; uid?: unknown } | undefined;
  return o?.type === 'prometheus' && o.uid === '${datasource}';
}

/** The metric names an expression reads: identifiers that are neither functions, keywords, label names nor durations. */
export function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  // label matchers and grouping lists hold label names, not metrics
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const out = new Set<string>();
  for (const m of noLabels.matchAll(/(?<![\w$:])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    const w = m[1]!;
    if (/^(by|without|on|ignoring|group_left|group_right|and|or|unless|offset|bool|inf|nan)$/i.test(w)) continue;
    out.add(w);
  }
  return [...out];
}

/** Each non-row panel's expressions with the dashboard variables put in. */
export function grafanaExpressions(json: unknown, vars: Record<string, string>): { panel: string; exprs: string[] }[] {
  const d = json as DashboardJson;
  return allPanels(d).filter((p) => p.type !== 'row').map((p) => ({
    panel: String(p.title),
    exprs: (p.targets ?? []).map((t) => String(t.expr).replace(/\$(\w+)/g, (all, name: string) => vars[name] ?? all)),
  }));
}
