// The fleet page. No framework, no build step, nothing from the network but this server. Every value from a
// device reaches the DOM through textContent or setAttribute, never innerHTML.
import { timeSeries } from './charts.js';

const ROW_H = 28;
const OVERSCAN = 6;
const HOUR = 3600_000;

const COLUMNS = [
  { key: 'id', label: 'device', get: (r) => r.id, text: (r) => r.id },
  { key: 'state', label: 'status', get: (r) => (r.stale ? 'zz-stale' : r.state), text: (r) => `${r.stale ? 'stale' : r.state} · ${ago(r.since)}`, cls: 'state' },
  { key: 'board', label: 'board', get: (r) => r.board ?? '', text: (r) => r.board ?? '' },
  { key: 'variant', label: 'variant', get: (r) => r.variant ?? '', text: (r) => r.variant ?? '' },
  { key: 'provider', label: 'provider', get: (r) => r.provider ?? '', text: (r) => r.provider ?? '' },
  { key: 'p50', label: 'p50 ms', get: (r) => r.p50, text: (r) => fmt(r.p50, 1), num: true },
  { key: 'p90', label: 'p90 ms', get: (r) => r.p90, text: (r) => fmt(r.p90, 1), num: true },
  { key: 'fps', label: 'fps', get: (r) => r.fps, text: (r) => fmt(r.fps, 1), num: true },
  { key: 'dropped', label: 'drops', get: (r) => r.dropped, text: (r) => fmt(r.dropped, 0), num: true },
  { key: 'tempC', label: 'temp', get: (r) => r.tempC, text: (r) => (r.tempC == null ? '' : `${r.tempC.toFixed(0)} °C`) + (r.throttled && r.throttled.length ? ' ⚠' : ''), num: true },
  { key: 'outbox', label: 'outbox', get: (r) => r.outbox, text: (r) => fmt(r.outbox, 0), num: true },
  { key: 'result', label: 'last result', get: (r) => r.result?.label ?? '', text: (r) => (r.result?.camera ? `${r.result.camera}: ` : '') + resultText(r.result) },
];

/**
 * A camera's row under its device (a device with several cameras), in the same columns: its status, task, the
 * variant it runs, provider × threads, p90, results per second (the rate it is served at in the title), drops, result.
 */
const CAMERA_CELLS = {
  id: (c) => `↳ ${c.id}`,
  state: (c) => c.status ?? '',
  board: (c) => c.task ?? '',
  variant: (c) => c.variant ?? '',
  provider: (c) => (c.provider ? `${c.provider}${c.threads ? ` × ${c.threads}` : ''}` : ''),
  p90: (c) => fmt(c.p90, 1),
  fps: (c) => fmt(c.fps, 1),
  dropped: (c) => fmt(c.dropped, 0),
  result: (c) => resultText(c.result),
};

const state = {
  rows: new Map(),
  order: [],
  sortKey: 'id',
  sortDir: 1,
  filter: '',
  stateFilter: '',
  clockSkew: 0,
  orderDirty: true,
  focus: undefined,
  device: undefined,
};

const $ = (id) => document.getElementById(id);
const fmt = (v, digits) => (v == null || !Number.isFinite(v) ? '' : v.toFixed(digits));
const now = () => Date.now() + state.clockSkew;

/** a classifier's "tabby (87%)"; a detector's counts "person ×2, car (best 91%)" (the store sums them up in `label`) */
function resultText(res) {
  if (!res) return '';
  if (res.counts) return Object.keys(res.counts).length === 0 ? res.label : `${res.label} (best ${(res.score * 100).toFixed(0)}%)`;
  return `${res.label} (${(res.score * 100).toFixed(0)}%)`;
}

function ago(t) {
  if (!t) return '';
  const s = Math.max(0, Math.round((now() - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

// ---------- fleet table (virtualised: only the visible rows exist in the DOM) ----------

function buildHead() {
  const head = $('table-head');
  for (const c of COLUMNS) {
    const s = document.createElement('span');
    s.textContent = c.label;
    s.dataset.key = c.key;
    s.setAttribute('role', 'columnheader');
    if (c.num) s.className = 'num';
    s.addEventListener('click', () => {
      state.sortDir = state.sortKey === c.key ? -state.sortDir : 1;
      state.sortKey = c.key;
      state.orderDirty = true;
      schedule();
    });
    head.append(s);
  }
}

function matches(r) {
  if (state.stateFilter) {
    if (state.stateFilter === 'stale' ? !r.stale : r.state !== state.stateFilter || r.stale) return false;
  }
  if (!state.filter) return true;
  const f = state.filter;
  return [r.id, r.board, r.variant, r.provider, r.state, ...(r.cameras ?? []).flatMap((c) => [c.id, c.variant])].some((v) => v && v.toLowerCase().includes(f));
}

function reorder() {
  const col = COLUMNS.find((c) => c.key === state.sortKey) ?? COLUMNS[0];
  const dir = state.sortDir;
  const list = [];
  for (const r of state.rows.values()) if (matches(r)) list.push(r);
  list.sort((a, b) => {
    const x = col.get(a), y = col.get(b);
    const xm = x == null || x === '', ym = y == null || y === '';
    if (xm !== ym) return xm ? 1 : -1; // empty values last, whatever the direction
    if (x < y) return -dir;
    if (x > y) return dir;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  // a device's cameras follow it as rows of their own: every line of the table is one row high, as virtualised
  state.order = [];
  for (const r of list) {
    state.order.push([r.id, -1]);
    (r.cameras ?? []).forEach((_, k) => state.order.push([r.id, k]));
  }
  state.orderDirty = false;
  $('spacer').style.height = `${state.order.length * ROW_H}px`;
  $('shown').textContent = `${list.length} shown`;
  for (const s of $('table-head').children) {
    s.setAttribute('aria-sort', s.dataset.key === state.sortKey ? (dir > 0 ? 'ascending' : 'descending') : 'none');
  }
}

const pool = [];
function rowElement(i) {
  let e = pool[i];
  if (!e) {
    e = document.createElement('div');
    e.className = 'row';
    e.setAttribute('role', 'row');
    for (const c of COLUMNS) {
      const s = document.createElement('span');
      s.setAttribute('role', 'cell');
      s.className = [c.cls, c.num ? 'num' : '', `c-${c.key}`].filter(Boolean).join(' ');
      e.append(s);
    }
    e.addEventListener('click', () => { location.hash = `#/device/${encodeURIComponent(e.dataset.deviceId)}`; });
    pool[i] = e;
    $('spacer').append(e);
  }
  return e;
}

function renderTable() {
  if (state.orderDirty) reorder();
  const vp = $('viewport');
  const first = Math.max(0, Math.floor(vp.scrollTop / ROW_H) - OVERSCAN);
  const count = Math.min(state.order.length - first, Math.ceil(vp.clientHeight / ROW_H) + 2 * OVERSCAN);
  for (let k = 0; k < Math.max(count, 0); k++) {
    const [id, camIndex] = state.order[first + k];
    const r = state.rows.get(id);
    const e = rowElement(k);
    e.hidden = false;
    e.style.transform = `translateY(${(first + k) * ROW_H}px)`;
    e.dataset.deviceId = r.id;
    e.classList.toggle('stale', !!r.stale);
    const cam = camIndex >= 0 ? r.cameras?.[camIndex] : undefined;
    e.classList.toggle('camera', cam !== undefined);
    const cells = e.children;
    if (camIndex >= 0) {
      // (a row update can drop a camera before the order is rebuilt: an empty line for one frame)
      e.dataset.camera = cam?.id ?? '';
      COLUMNS.forEach((c, j) => {
        const t = cam && CAMERA_CELLS[c.key] ? CAMERA_CELLS[c.key](cam) : '';
        if (cells[j].textContent !== t) cells[j].textContent = t;
      });
      cells[1].dataset.state = !cam?.status ? 'unknown' : cam.status === 'running' ? 'online' : 'offline';
      cells[1].title = cam?.reason ? `chosen: ${cam.reason}` : '';
      cells[7].title = cam?.targetFps != null ? `served at ${cam.targetFps} fps` : '';
      cells[9].classList.remove('hot');
      cells[9].removeAttribute('title');
      continue;
    }
    delete e.dataset.camera;
    cells[7].removeAttribute('title');
    COLUMNS.forEach((c, j) => {
      const t = c.text(r);
      if (cells[j].textContent !== t) cells[j].textContent = t;
    });
    cells[1].dataset.state = r.stale ? 'stale' : r.state;
    cells[1].title = `${r.state} since ${r.since ? new Date(r.since).toLocaleString() : '?'}${r.warning ? ` — ${r.warning}` : ''}`;
    cells[9].classList.toggle('hot', !!(r.throttled && r.throttled.length));
    if (r.throttled && r.throttled.length) cells[9].title = `throttled: ${r.throttled.join(', ')}`; else cells[9].removeAttribute('title');
  }
  for (let k = Math.max(count, 0); k < pool.length; k++) pool[k].hidden = true;
  // the server's verdict (src/dashboard/presence.ts), the same one the per-board counts use
  let online = 0;
  for (const r of state.rows.values()) if (r.online) online++;
  $('counts').textContent = `${state.rows.size} devices, ${online} online`;
}

function renderBoards(boards) {
  const body = $('boards').tBodies[0];
  body.replaceChildren(...boards.map((b) => {
    const tr = document.createElement('tr');
    tr.dataset.board = b.board;
    const cells = [b.board, String(b.devices), String(b.online), b.p50Ms == null ? '' : `${b.p50Ms.toFixed(1)} ms`, b.p90Ms == null ? '' : `${b.p90Ms.toFixed(1)} ms`,
      b.variants.slice(0, 4).map((v) => `${v.variant} (${v.devices})`).join(', ') + (b.variants.length > 4 ? ', …' : '')];
    cells.forEach((t, i) => { const td = document.createElement('td'); td.textContent = t; if (i > 0 && i < 5) td.className = 'num'; tr.append(td); });
    return tr;
  }));
}

let frameRequested = false;
function schedule() {
  if (frameRequested) return;
  frameRequested = true;
  requestAnimationFrame(() => {
    frameRequested = false;
    if (!state.focus) renderTable();
  });
}

// ---------- device view ----------

function fact(dl, name, value) {
  const dt = document.createElement('dt'); dt.textContent = name;
  const dd = document.createElement('dd'); dd.textContent = value ?? '';
  dl.append(dt, dd);
}

function renderFacts() {
  const d = state.device;
  if (!d) return;
  const r = d.row, m = d.model;
  $('dev-title').textContent = r.id;
  const dl = $('dev-facts');
  dl.replaceChildren();
  fact(dl, 'status', `${r.stale ? 'stale (no telemetry)' : r.state} for ${ago(r.since)}`);
  dl.lastChild.dataset.state = r.stale ? 'stale' : r.state;
  dl.lastChild.id = 'dev-state';
  fact(dl, 'board', r.board);
  fact(dl, 'variant', r.variant);
  fact(dl, 'provider', m ? `${r.provider} × ${m.threads} thread(s)` : r.provider);
  fact(dl, 'latency', r.p50 == null ? '' : `p50 ${fmt(r.p50, 1)} ms, p90 ${fmt(r.p90, 1)} ms`);
  fact(dl, 'fps', fmt(r.fps, 1));
  fact(dl, 'why', m ? m.reason : '');
  fact(dl, 'budget', m ? Object.entries(m.budget).map(([k, v]) => `${k} ${v}`).join(', ') : '');
  fact(dl, 'temperature', r.tempC == null ? 'n/a' : `${r.tempC.toFixed(0)} °C${r.throttled && r.throttled.length ? ` (throttled: ${r.throttled.join(', ')})` : ''}`);
  fact(dl, 'outbox', r.outbox == null ? '' : `${r.outbox} waiting`);
  fact(dl, 'last result', r.result ? `${resultText(r.result)} ${ago(r.result.at)} ago` : '');
  const w = $('dev-warning');
  w.hidden = !r.warning;
  w.textContent = r.warning ?? '';
}

function renderCharts() {
  const d = state.device;
  if (!d) return;
  const h = d.history, t = h.map((p) => p[0]);
  const markers = d.events.filter((e) => e.type === 'switch').map((e) => ({ t: e.at, label: `${new Date(e.at).toLocaleTimeString()}: ${e.message}` }));
  const budget = d.model?.budget?.latencyMs;
  timeSeries($('latency-chart'), {
    t, now: now(), windowMs: HOUR, unit: 'ms',
    series: [{ name: 'p50', color: '#0969da', values: h.map((p) => p[1]) }, { name: 'p90', color: '#bc4c00', values: h.map((p) => p[2]) }],
    hlines: budget ? [{ y: budget, label: `budget ${budget} ms` }] : [], markers,
  });
  timeSeries($('fps-chart'), { t, now: now(), windowMs: HOUR, unit: 'frames/s', series: [{ name: 'fps', color: '#1a7f37', values: h.map((p) => p[3]) }], markers });
  const ol = $('events');
  ol.replaceChildren(...[...d.events].reverse().map((e) => {
    const li = document.createElement('li');
    li.dataset.type = e.type;
    const time = document.createElement('time');
    time.textContent = new Date(e.at).toLocaleTimeString();
    li.append(time, document.createTextNode(`${e.type}: ${e.message}`));
    return li;
  }));
  if (d.events.length === 0) { const li = document.createElement('li'); li.textContent = 'none in this session'; ol.append(li); }
}

/** The selection SVG comes from this server (plot.ts escapes every string); it is parsed as XML, stripped of anything active, then adopted. */
async function loadSelection(id) {
  const host = $('selection');
  const res = await fetch(`/api/device/${encodeURIComponent(id)}/selection.svg`);
  if (state.focus !== id) return;
  if (!res.ok) { host.textContent = res.status === 404 ? 'no model published yet' : `chart unavailable (${res.status})`; return; }
  const doc = new DOMParser().parseFromString(await res.text(), 'image/svg+xml');
  const svg = doc.documentElement;
  if (svg.nodeName !== 'svg') { host.textContent = 'chart unavailable'; return; }
  for (const bad of svg.querySelectorAll('script, foreignObject, iframe, a, use, image')) bad.remove();
  for (const node of svg.querySelectorAll('*')) for (const a of [...node.attributes]) if (/^on/i.test(a.name) || /^\s*javascript:/i.test(a.value)) node.removeAttribute(a.name);
  if (state.focus !== id) return;
  host.replaceChildren(document.importNode(svg, true));
  host.dataset.device = id;
}

function renderCandidates() {
  const m = state.device?.model;
  const body = $('candidates').tBodies[0];
  body.replaceChildren(...(m?.candidates ?? []).map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    tr.className = c.chosen ? 'chosen' : c.reason && c.reason !== 'dominated' ? 'rejected' : '';
    const acc = c.accuracy ?? c.referenceAccuracy;
    const cells = [c.id, fmt(c.p90Ms, 2), fmt(c.peakMb, 1), acc == null ? '' : `${(acc * 100).toFixed(1)}%${c.accuracyKind === 'estimated' ? ' est.' : ''}`, (c.macs / 1e6).toFixed(1),
      c.chosen ? 'chosen' : c.reason ?? 'fits', c.detail ?? c.demoted ?? ''];
    cells.forEach((t, i) => { const td = document.createElement('td'); td.textContent = t; if (i > 0 && i < 5) td.className = 'num'; tr.append(td); });
    return tr;
  }));
}

async function openDevice(id) {
  state.focus = id;
  $('fleet-view').hidden = true;
  $('device-view').hidden = false;
  $('snapshot-img').hidden = true;
  $('snapshot-boxes').replaceChildren();
  $('snapshot-boxes').hidden = true;
  $('snapshot-msg').textContent = '';
  $('snapshot-camera').replaceChildren();
  $('snapshot-camera').hidden = true;
  $('dev-title').textContent = id;
  // nothing of the previously open device may linger while this one loads
  state.device = undefined;
  for (const h of ['selection', 'latency-chart', 'fps-chart', 'events', 'dev-facts']) $(h).replaceChildren();
  $('selection').removeAttribute('data-device');
  $('candidates').tBodies[0].replaceChildren();
  $('dev-warning').hidden = true;
  connect();
  $('cameras-panel').hidden = true;
  $('cameras').tBodies[0].replaceChildren();
  const res = await fetch(`/api/device/${encodeURIComponent(id)}`);
  if (state.focus !== id) return;
  if (!res.ok) { $('dev-facts').replaceChildren(); $('dev-warning').hidden = false; $('dev-warning').textContent = `no device "${id}" has been seen (yet)`; return; }
  state.device = await res.json();
  renderFacts();
  renderCameras();
  renderCandidates();
  renderCharts();
  await loadSelection(id);
}

function onDeviceUpdate(u) {
  const d = state.device;
  if (!d || u.id !== state.focus) return;
  d.row = u.row;
  d.events = u.events;
  if (u.point) {
    const last = d.history[d.history.length - 1];
    if (last && last[0] === u.point[0]) d.history[d.history.length - 1] = u.point; else d.history.push(u.point);
    const cut = now() - HOUR;
    while (d.history.length && d.history[0][0] < cut) d.history.shift();
  }
  if ('model' in u && u.modelSeq !== d.modelSeq) {
    d.model = u.model ?? undefined;
    d.modelSeq = u.modelSeq;
    renderCandidates();
    loadSelection(u.id);
  }
  renderFacts();
  renderCameras();
  renderCharts();
}

/** A device with several cameras: one line per camera, the joint choice (model) beside what it does (telemetry). */
function renderCameras() {
  const cams = state.device?.row?.cameras ?? [];
  $('cameras-panel').hidden = cams.length === 0;
  // the snapshot of which camera: the choice survives updates while that camera exists
  const pick = $('snapshot-camera');
  const ids = cams.map((c) => c.id);
  if ([...pick.options].map((o) => o.value).join('\n') !== ids.join('\n')) {
    const was = pick.value;
    pick.replaceChildren(...ids.map((id) => { const o = document.createElement('option'); o.value = id; o.textContent = id; return o; }));
    if (ids.includes(was)) pick.value = was;
  }
  pick.hidden = ids.length === 0;
  $('cameras').tBodies[0].replaceChildren(...cams.map((c) => {
    const tr = document.createElement('tr');
    tr.dataset.camera = c.id;
    tr.dataset.status = c.status ?? 'unknown';
    const cells = [c.id, c.status ?? '', c.task ?? '', c.variant ?? '', CAMERA_CELLS.provider(c), fmt(c.fps, 1), fmt(c.targetFps, 0), fmt(c.p90, 1), fmt(c.dropped, 0),
      c.result ? `${resultText(c.result)} ${ago(c.result.at)} ago` : '', c.reason ?? ''];
    cells.forEach((t, i) => { const td = document.createElement('td'); td.textContent = t; if (i >= 5 && i <= 8) td.className = 'num'; tr.append(td); });
    return tr;
  }));
}

const SVG = 'http://www.w3.org/2000/svg';
const BOX_COLOURS = ['#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#af52de', '#ff9500'];

/**
 * The boxes of the device's newest result over the snapshot, in the snapshot's own pixels (a detector's boxes are
 * fractions of the whole frame, which is what the snapshot shows). Labels go in as text nodes, never markup.
 */
function drawBoxes(img, result) {
  const svg = $('snapshot-boxes');
  const ds = result?.detections ?? [];
  const w = img.naturalWidth, h = img.naturalHeight;
  svg.replaceChildren();
  svg.hidden = ds.length === 0 || !w || !h;
  if (svg.hidden) return;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  const colourOf = new Map();
  for (const d of ds) {
    if (!colourOf.has(d.label)) colourOf.set(d.label, BOX_COLOURS[colourOf.size % BOX_COLOURS.length]);
    const [y0, x0, y1, x1] = d.box;
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('class', 'box');
    rect.setAttribute('x', String(x0 * w));
    rect.setAttribute('y', String(y0 * h));
    rect.setAttribute('width', String(Math.max(0, x1 - x0) * w));
    rect.setAttribute('height', String(Math.max(0, y1 - y0) * h));
    rect.setAttribute('stroke', colourOf.get(d.label));
    const text = document.createElementNS(SVG, 'text');
    text.setAttribute('x', String(x0 * w + 2));
    text.setAttribute('y', String(Math.max(12, y0 * h - 3)));
    text.textContent = `${d.label} ${(d.score * 100).toFixed(0)}%`;
    svg.append(rect, text);
  }
}

async function takeSnapshot() {
  const id = state.focus;
  const btn = $('snapshot-btn'), msg = $('snapshot-msg'), img = $('snapshot-img');
  // a device with several cameras: the chosen camera's frame, with that camera's result
  const pick = $('snapshot-camera');
  const camera = pick.hidden ? undefined : pick.value || undefined;
  btn.disabled = true;
  msg.textContent = 'asking the device…';
  try {
    const query = camera ? `?camera=${encodeURIComponent(camera)}` : '';
    const res = await fetch(`/api/device/${encodeURIComponent(id)}/snapshot${query}`, { method: 'POST', headers: { 'X-Edgefit': '1' } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      msg.textContent = `snapshot failed: ${body.error ?? res.status}`;
      return;
    }
    const blob = await res.blob();
    if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
    // the boxes of the newest result when the snapshot came: the frame and the result are a few ms apart
    const row = state.device?.row;
    const result = camera ? row?.cameras?.find((c) => c.id === camera)?.result : row?.result;
    img.onload = () => { if (state.focus === id) drawBoxes(img, result); };
    img.src = URL.createObjectURL(blob);
    img.hidden = false;
    msg.textContent = `taken${camera ? ` from ${camera}` : ''} ${new Date().toLocaleTimeString()} (${blob.size} bytes)${result?.detections?.length ? `, boxes of the result at ${new Date(result.at).toLocaleTimeString()}` : ''}`;
  } catch (err) {
    msg.textContent = `snapshot failed: ${err.message}`;
  } finally {
    btn.disabled = false;
  }
}

// ---------- routing and the event stream ----------

let source;
function connect() {
  if (source) source.close();
  source = new EventSource(state.focus ? `/events?focus=${encodeURIComponent(state.focus)}` : '/events');
  source.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn up'; };
  source.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn down'; };
  source.addEventListener('hello', (ev) => {
    const m = JSON.parse(ev.data);
    state.clockSkew = m.now - Date.now();
    state.rows = new Map(m.rows.map((r) => [r.id, r]));
    state.orderDirty = true;
    renderBoards(m.boards);
    schedule();
  });
  source.addEventListener('rows', (ev) => {
    const m = JSON.parse(ev.data);
    state.clockSkew = m.now - Date.now();
    for (const r of m.rows) state.rows.set(r.id, r);
    // devices the server forgot (every retained topic of theirs cleared, no fresh telemetry)
    for (const id of m.removed ?? []) state.rows.delete(id);
    // a changed value may move a row: re-sort (a thousand rows sort in well under a millisecond)
    state.orderDirty = true;
    schedule();
  });
  source.addEventListener('boards', (ev) => renderBoards(JSON.parse(ev.data).boards));
  source.addEventListener('device', (ev) => onDeviceUpdate(JSON.parse(ev.data)));
}

function route() {
  const m = /^#\/device\/(.+)$/.exec(location.hash);
  if (m) {
    openDevice(decodeURIComponent(m[1]));
  } else {
    const wasFocused = state.focus !== undefined;
    state.focus = undefined;
    state.device = undefined;
    $('device-view').hidden = true;
    $('fleet-view').hidden = false;
    if (wasFocused || !source) connect();
    state.orderDirty = true;
    schedule();
  }
}

buildHead();
$('viewport').addEventListener('scroll', () => schedule(), { passive: true });
window.addEventListener('resize', () => schedule());
$('filter').addEventListener('input', (e) => { state.filter = e.target.value.trim().toLowerCase(); state.orderDirty = true; schedule(); });
$('state-filter').addEventListener('change', (e) => { state.stateFilter = e.target.value; state.orderDirty = true; schedule(); });
$('snapshot-btn').addEventListener('click', () => takeSnapshot());
window.addEventListener('hashchange', route);
// relative times ("12s") age even when nothing arrives
setInterval(() => { if (state.focus) { renderFacts(); renderCameras(); } else schedule(); }, 1000);
route();
