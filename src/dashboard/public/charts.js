// Time-series line charts for the device view, built with DOM calls (createElementNS + textContent): nothing a
// device sends is ever parsed as markup. The selection scatter is not drawn here: the server renders it with
// src/select/plot.ts, the module `edgefit profile --plot` uses.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

const hhmmss = (t) => new Date(t).toTimeString().slice(0, 8);

/**
 * @param {HTMLElement} host
 * @param {{ t: number[], series: { name: string, color: string, values: number[] }[], hlines?: { y: number, label: string }[],
 *   markers?: { t: number, label: string }[], now: number, windowMs: number, unit: string }} d
 */
export function timeSeries(host, d) {
  const W = 520, H = 220, m = { l: 48, r: 30, t: 14, b: 34 };
  const t1 = d.now, t0 = Math.max(t1 - d.windowMs, d.t.length ? Math.min(d.t[0], t1 - 60_000) : t1 - 60_000);
  let yMax = 0;
  for (const s of d.series) for (const v of s.values) if (Number.isFinite(v) && v > yMax) yMax = v;
  for (const h of d.hlines ?? []) if (h.y > yMax) yMax = h.y;
  yMax = niceMax(yMax * 1.05);
  const px = (t) => m.l + ((t - t0) / (t1 - t0)) * (W - m.l - m.r);
  const py = (v) => H - m.b - (v / yMax) * (H - m.t - m.b);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, 'font-size': 10, 'font-family': 'sans-serif' });
  svg.append(el('rect', { width: W, height: H, fill: '#fff' }));
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4, y = py(v).toFixed(1);
    svg.append(el('line', { x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: '#eee' }));
    svg.append(el('text', { x: m.l - 4, y: Number(y) + 3, 'text-anchor': 'end' }, String(Number(v.toPrecision(3)))));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4, x = px(t).toFixed(1);
    svg.append(el('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, stroke: '#f3f3f3' }));
    svg.append(el('text', { x, y: H - m.b + 13, 'text-anchor': 'middle' }, hhmmss(t)));
  }
  svg.append(el('line', { x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b, stroke: '#333' }));
  svg.append(el('line', { x1: m.l, x2: m.l, y1: m.t, y2: H - m.b, stroke: '#333' }));
  for (const h of d.hlines ?? []) {
    const y = py(h.y).toFixed(1);
    svg.append(el('line', { class: 'budget', x1: m.l, x2: W - m.r, y1: y, y2: y, stroke: '#c00', 'stroke-dasharray': '6 4' }));
    svg.append(el('text', { x: W - m.r, y: Number(y) - 3, 'text-anchor': 'end', fill: '#c00' }, h.label));
  }
  for (const mk of d.markers ?? []) {
    if (mk.t < t0 || mk.t > t1) continue;
    const x = px(mk.t).toFixed(1);
    const g = el('g', { class: 'switch-marker' });
    g.append(el('line', { x1: x, x2: x, y1: m.t, y2: H - m.b, stroke: '#8250df', 'stroke-width': 2 }));
    g.append(el('title', {}, mk.label));
    svg.append(g);
  }
  d.series.forEach((s, k) => {
    let path = '';
    let pen = false;
    for (let i = 0; i < d.t.length; i++) {
      const v = s.values[i];
      if (!Number.isFinite(v) || d.t[i] < t0) { pen = false; continue; }
      path += `${pen ? 'L' : 'M'}${px(d.t[i]).toFixed(1)} ${py(v).toFixed(1)}`;
      pen = true;
    }
    if (path) svg.append(el('path', { class: 'series', d: path, fill: 'none', stroke: s.color, 'stroke-width': 1.6 }));
    svg.append(el('text', { x: m.l + 6 + k * 70, y: H - 6, fill: s.color }, `— ${s.name}`));
  });
  svg.append(el('text', { x: W - m.r, y: H - 6, 'text-anchor': 'end', fill: '#57606a' }, d.unit));
  host.replaceChildren(svg);
}
