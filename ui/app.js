// Ladle's web UI: one page over the coordinator's HTTP/JSON API (docs/SERVER.md).
// Every string from the server (names, specs, logs, params) reaches the page as a text
// node or attribute value, never as HTML: see el().
'use strict';

const ui = {
  token: sessionStorage.getItem('ladle.token') || '',
  aborts: [],    // AbortControllers of the page's open requests and streams
  timers: [],    // its intervals
  charts: [],    // its uPlot charts
  pageTokens: [],  // the experiments list's previous pages
  page: 0,         // counts pages shown: a late callback of a page left behind does nothing
};

// ---- DOM: build elements; strings become text, never markup. ----
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  append(e, children);
  return e;
}
function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
function main() { return document.getElementById('main'); }
// Tests and bench/ui_bench.py wait for this: the page has drawn what it loaded.
function markReady() {
  if (main().getAttribute('data-ready') === '1') return;
  main().setAttribute('data-ready', '1');
  window.ladleReadyMs = performance.now();
}
function setStatus(text) { document.getElementById('status').textContent = text; }

// ---- API ----
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
function headers() { return ui.token ? { Authorization: 'Bearer ' + ui.token } : {}; }
function signal() { const a = new AbortController(); ui.aborts.push(a); return a.signal; }

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) },
                                  signal: options.signal || signal() });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
  if (!res.ok) throw new ApiError(res.status, (body && body.message) || text || res.statusText);
  return body;
}

// Reads a streamed response as text chunks; resolves when it ends.
async function stream(path, onText) {
  const res = await fetch(path, { headers: headers(), signal: signal() });
  if (!res.ok) {
    let msg = await res.text();
    try { msg = JSON.parse(msg).message; } catch (e) { /* plain text */ }
    throw new ApiError(res.status, msg);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    onText(decoder.decode(value, { stream: true }));
  }
}

// Server-Sent Events over fetch (EventSource cannot send the Authorization header).
async function events(path, onEvent) {
  let buf = '';
  await stream(path, (text) => {
    buf += text;
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) onEvent(name, name === 'error' ? data.join('\n') : JSON.parse(data.join('\n')));
    }
  });
}

// ---- formatting ----
const shortState = (s) => (s || '').replace(/^(EXPERIMENT|JOB|SEARCH)_STATE_/, '').toLowerCase();
function badge(state) { const s = shortState(state); return el('span', { class: 'badge ' + s }, s); }
function when(ms) { ms = Number(ms); return ms ? new Date(ms).toLocaleString() : ''; }
function num(v, digits = 4) {
  if (v === null || v === undefined || v === '') return '';
  const n = Number(v);
  return Number.isFinite(n) ? (Math.abs(n) >= 1e4 || (n !== 0 && Math.abs(n) < 1e-3) ? n.toExponential(3) : +n.toFixed(digits)) : String(v);
}
function bytes(n) {
  n = Number(n);
  for (const u of ['B', 'KiB', 'MiB', 'GiB']) { if (n < 1024) return (+n.toFixed(1)) + ' ' + u; n /= 1024; }
  return (+n.toFixed(1)) + ' TiB';
}
function parseJson(text) { try { return text ? JSON.parse(text) : null; } catch (e) { return null; } }
function paramsText(json) {
  const p = parseJson(json);
  if (!p || typeof p !== 'object') return json || '';
  return Object.entries(p).map(([k, v]) => k + '=' + (typeof v === 'object' ? JSON.stringify(v) : v)).join('  ');
}
function progress(c) {
  c = c || {};
  const total = c.total || 0, done = (c.succeeded || 0) + (c.failed || 0) + (c.cancelled || 0);
  const pct = total ? Math.round(100 * done / total) : 0;
  return [el('span', { class: 'bar' }, el('span', { style: 'width:' + pct + '%' })), done + '/' + total,
          c.running ? ' · ' + c.running + ' running' : '', c.failed ? ' · ' + c.failed + ' failed' : ''];
}
function table(columns, rows, attrs = {}) {
  return el('table', attrs, el('thead', {}, el('tr', {}, columns.map((c) => el('th', {}, c)))),
            el('tbody', {}, rows));
}
function showError(where, err) {
  if (err && err.name === 'AbortError') return;
  if (err instanceof ApiError && err.status === 401) return tokenPage(err.message);
  append(where, [el('p', { class: 'error', 'data-test': 'error' }, String(err && err.message || err))]);
}

// ---- token (servers with --token_file): kept for this tab only, sent as a header ----
function tokenPage(message) {
  cleanup();
  const input = el('input', { type: 'password', id: 'token-input', size: 48, autocomplete: 'off',
                              placeholder: 'paste a user token' });
  const save = () => { ui.token = input.value.trim(); sessionStorage.setItem('ladle.token', ui.token); route(); };
  append(clear(main()), [
    el('div', { class: 'card token' },
       el('h1', {}, 'This server needs a token'),
       message ? el('p', { class: 'error', 'data-test': 'error' }, message) : null,
       el('p', { class: 'muted' }, 'It is sent as an Authorization header to this server only, and kept in this tab until it closes.'),
       el('form', { onsubmit: (e) => { e.preventDefault(); save(); } },
          input, ' ', el('button', { type: 'submit', id: 'token-save' }, 'Use token')))]);
  input.focus();
}

// ---- charts (uPlot when built in; else a table of last values) ----
const palette = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#be185d', '#65a30d',
                 '#7c3aed', '#0d9488', '#b45309', '#4b5563'];

// series: [{label, points: Map(step -> value)}]; draws into `box`.
function drawChart(box, title, series) {
  clear(box);
  const steps = [...new Set(series.flatMap((s) => [...s.points.keys()]))].sort((a, b) => a - b);
  box.setAttribute('data-points', String(series.reduce((n, s) => n + s.points.size, 0)));
  if (!window.uPlot) {
    append(box, [el('p', { class: 'muted' }, 'Charts are not built into this server (uPlot was not fetched); last values:'),
      table(['series', 'step', title], series.map((s) => {
        const last = [...s.points.entries()].sort((a, b) => a[0] - b[0]).pop() || ['', ''];
        return el('tr', {}, el('td', {}, s.label), el('td', { class: 'num' }, last[0]), el('td', { class: 'num' }, num(last[1])));
      }))]);
    return;
  }
  if (!steps.length) { append(box, [el('p', { class: 'muted' }, 'No points yet.')]); return; }
  const data = [steps, ...series.map((s) => steps.map((x) => (s.points.has(x) ? s.points.get(x) : null)))];
  const opts = {
    title, width: Math.max(400, box.clientWidth - 20), height: 320,
    legend: { show: series.length <= 24 },
    scales: { x: { time: false } },
    axes: [{ label: 'step' }, {}],
    series: [{ label: 'step' }, ...series.map((s, i) => ({
      label: s.label, stroke: palette[i % palette.length], width: 1.5, spanGaps: true, points: { show: false },
      dash: s.dash ? [6, 4] : undefined }))],
  };
  const chart = new window.uPlot(opts, data, box);
  ui.charts.push(chart);
}

// ---- pages ----
function cleanup() {
  for (const a of ui.aborts) a.abort();
  for (const t of ui.timers) clearInterval(t);
  for (const c of ui.charts) c.destroy();
  ui.aborts = []; ui.timers = []; ui.charts = [];
}

function query() {
  const h = location.hash.replace(/^#/, '');
  const q = h.indexOf('?');
  return [q < 0 ? h : h.slice(0, q), new URLSearchParams(q < 0 ? '' : h.slice(q + 1))];
}

function route() {
  cleanup();
  ui.page += 1;
  setStatus('');
  const [path, params] = query();
  let m;
  if ((m = path.match(/^\/experiments\/([^/]+)$/))) return experimentPage(decodeURIComponent(m[1]));
  if ((m = path.match(/^\/jobs\/([^/]+)$/))) return jobPage(decodeURIComponent(m[1]));
  if (path === '/workers') return workersPage();
  if (path === '/compare') return comparePage(params);
  return listPage(params);
}

// The experiments list: filter by state and owner, page by page, refreshed every 5 s.
function listPage(params) {
  const state = params.get('state') || '', owner = params.get('owner') || '';
  const pageToken = params.get('page') || '';
  const pageSize = params.get('page_size') || '50';
  const stateSel = el('select', { id: 'filter-state' },
    ['', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => el('option', { value: s, selected: s === state }, s || 'any state')));
  const ownerIn = el('input', { id: 'filter-owner', value: owner, placeholder: 'owner', size: 14 });
  const apply = (token) => {
    const q = new URLSearchParams();
    if (stateSel.value) q.set('state', stateSel.value);
    if (ownerIn.value.trim()) q.set('owner', ownerIn.value.trim());
    if (token) q.set('page', token);
    if (pageSize !== '50') q.set('page_size', pageSize);
    location.hash = '#/?' + q.toString();
  };
  const body = el('div', { id: 'list' }, el('p', { class: 'muted' }, 'Loading…'));
  const compare = el('button', { id: 'compare', disabled: true, onclick: () => {
    const ids = [...body.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value);
    location.hash = '#/compare?ids=' + encodeURIComponent(ids.join(','));
  } }, 'Compare selected');
  append(clear(main()), [
    el('h1', {}, 'Experiments'),
    el('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); ui.pageTokens = []; apply(''); } },
       stateSel, ownerIn, el('button', { type: 'submit' }, 'Filter'), compare),
    body]);
  const load = async () => {
    const q = new URLSearchParams({ page_size: pageSize });
    if (state) q.set('state', state);
    if (owner) q.set('owner', owner);
    if (pageToken) q.set('page_token', pageToken);
    try {
      const r = await api('/api/v1/experiments?' + q);
      renderList(body, r, compare, pageToken, apply);
      markReady();
      setStatus('updated ' + new Date().toLocaleTimeString());
    } catch (err) { clear(body); showError(body, err); }
  };
  load();
  ui.timers.push(setInterval(load, 5000));
}

function renderList(body, r, compare, pageToken, apply) {
  const checked = new Set([...body.querySelectorAll('input[type=checkbox]:checked')].map((c) => c.value));
  const exps = r.experiments || [];
  const onCheck = () => { compare.disabled = body.querySelectorAll('input[type=checkbox]:checked').length < 2; };
  const rows = exps.map((e) => el('tr', { 'data-id': e.id },
    el('td', {}, el('input', { type: 'checkbox', value: e.id, checked: checked.has(e.id), onchange: onCheck })),
    el('td', {}, el('a', { href: '#/experiments/' + encodeURIComponent(e.id) }, e.id)),
    el('td', { class: 'name' }, e.name), el('td', {}, e.kind), el('td', {}, badge(e.state)),
    el('td', {}, e.owner), el('td', {}, progress(e.jobCounts)), el('td', {}, when(e.createdUnixMs))));
  clear(body);
  append(body, [
    exps.length ? table(['', 'id', 'name', 'kind', 'state', 'owner', 'progress', 'created'], rows, { id: 'experiments' })
                : el('p', { class: 'muted' }, 'No experiments match.'),
    el('div', { class: 'toolbar' },
       el('button', { id: 'prev', disabled: !pageToken, onclick: () => apply(ui.pageTokens.pop() || '') }, '← Newer'),
       el('button', { id: 'next', disabled: !r.nextPageToken, onclick: () => { ui.pageTokens.push(pageToken); apply(r.nextPageToken); } }, 'Older →'))]);
  onCheck();
}

// Keys of a job's params that tell repeats apart, not configurations.
const isSeedKey = (k) => /(^|\.)(seed|repeat|seeds)$/.test(k);
function configOf(job) {
  const p = parseJson(job.paramsJson) || {};
  return JSON.stringify(Object.fromEntries(Object.entries(p).filter(([k]) => !isSeedKey(k)).sort()));
}

// An experiment: its jobs live (Server-Sent Events), result tables, curves, spec, cancel.
function experimentPage(id) {
  const root = clear(main());
  const page = { id, jobs: new Map(), series: new Map(), experiment: null, metric: '', view: 'job' };
  const head = el('div', { id: 'exp-head' });
  const jobsBox = el('div', { id: 'jobs' });
  const tablesBox = el('div', { id: 'tables' });
  const chartBox = el('div', { class: 'chart', id: 'chart' });
  const metricSel = el('select', { id: 'metric', onchange: () => { page.metric = metricSel.value; loadCurves(page, chartBox); } });
  const viewSel = el('select', { id: 'view', onchange: () => { page.view = viewSel.value; redrawChart(page, chartBox); } },
    el('option', { value: 'job' }, 'per job'), el('option', { value: 'config' }, 'per configuration (mean over seeds)'));
  const specBox = el('pre', { class: 'spec', id: 'spec' });
  append(root, [head,
    el('h2', {}, 'Curves'), el('div', { class: 'toolbar' }, 'metric ', metricSel, ' ', viewSel), chartBox,
    el('h2', {}, 'Results'), tablesBox, el('h2', {}, 'Jobs'), jobsBox, el('h2', {}, 'Spec'), specBox]);
  Object.assign(page, { head, jobsBox, tablesBox, chartBox, metricSel, specBox });
  const shown = ui.page;
  loadExperiment(page).catch((err) => (retryable(err) ? reconnect('experiment', shown) : showError(root, err)));
}

async function loadExperiment(page) {
  const r = await api('/api/v1/experiments/' + encodeURIComponent(page.id) +
                      '/results?include_tables=true&include_metric_names=true');
  page.experiment = r.experiment;
  for (const j of r.jobs || []) page.jobs.set(j.job.id, j.job);
  renderHead(page);
  renderJobs(page);
  renderTables(page, r.tables || []);
  page.specBox.textContent = r.experiment.spec;
  setMetricNames(page, r.metricNames || []);
  await loadCurves(page, page.chartBox);
  markReady();
  if (shortState(r.experiment.state) === 'running') follow(page);
}

function setMetricNames(page, names) {
  const have = new Set([...page.metricSel.options].map((o) => o.value));
  for (const n of names) if (!have.has(n)) page.metricSel.appendChild(el('option', { value: n }, n));
  if (!page.metric && page.metricSel.options.length) {
    const preferred = ['val_accuracy', 'test_accuracy', 'loss', 'train_loss'].find((n) => names.includes(n));
    page.metric = preferred || page.metricSel.options[0].value;
    page.metricSel.value = page.metric;
  }
}

// The metric's curves, thinned so a 1,000-job experiment stays a few MB at most.
async function loadCurves(page, box) {
  page.series = new Map();
  if (!page.metric) { redrawChart(page, box); return; }
  const perSeries = Math.max(10, Math.min(1000, Math.floor(20000 / Math.max(1, page.jobs.size))));
  const r = await api('/api/v1/experiments/' + encodeURIComponent(page.id) +
                      '/results?include_metrics=true&metrics_as_series=true&metric_names=' +
                      encodeURIComponent(page.metric) + '&max_points_per_series=' + perSeries);
  for (const j of r.jobs || []) {
    for (const s of j.series || []) {
      const pts = new Map();
      s.steps.forEach((x, i) => pts.set(Number(x), s.values[i]));
      page.series.set(j.job.id, pts);
    }
  }
  redrawChart(page, box);
}

function addPoint(page, m) {
  if (!page.series.has(m.jobId)) page.series.set(m.jobId, new Map());
  page.series.get(m.jobId).set(Number(m.step), m.value);
}

function redrawChart(page, box) {
  const jobs = [...page.jobs.values()].sort((a, b) => a.index - b.index).filter((j) => page.series.has(j.id));
  let series;
  if (page.view === 'config') {
    const groups = new Map();
    for (const j of jobs) {
      const key = configOf(j);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(page.series.get(j.id));
    }
    series = [...groups.entries()].map(([key, list]) => {
      const sum = new Map(), count = new Map();
      for (const pts of list) for (const [x, y] of pts) { sum.set(x, (sum.get(x) || 0) + y); count.set(x, (count.get(x) || 0) + 1); }
      const points = new Map([...sum.entries()].map(([x, s]) => [x, s / count.get(x)]));
      return { label: (key === '{}' ? 'all' : paramsText(key)) + ' (n=' + list.length + ')', points };
    });
  } else {
    series = jobs.map((j) => ({ label: '#' + j.index + ' ' + paramsText(j.paramsJson), points: page.series.get(j.id),
                                dash: shortState(j.state) === 'failed' || shortState(j.state) === 'cancelled' }));
  }
  drawChart(box, page.metric, series);
}

function renderHead(page) {
  const e = page.experiment;
  const running = shortState(e.state) === 'running';
  const searchOpen = shortState(e.search) === 'open';
  const act = (verb) => async () => {
    if (!confirm(verb[0].toUpperCase() + verb.slice(1) + ' experiment ' + e.id + '?')) return;
    try {
      page.experiment = await api('/api/v1/experiments/' + encodeURIComponent(e.id) + ':' + verb, { method: 'POST' });
      renderHead(page);
    } catch (err) { showError(page.head, err); }
  };
  append(clear(page.head), [
    el('h1', { id: 'exp-name' }, e.name || e.id, ' ', badge(e.state)),
    el('dl', { class: 'meta' },
       el('dt', {}, 'id'), el('dd', {}, e.id), el('dt', {}, 'kind'), el('dd', {}, e.kind),
       el('dt', {}, 'owner'), el('dd', {}, e.owner), el('dt', {}, 'jobs'), el('dd', { id: 'exp-progress' }, progress(e.jobCounts)),
       el('dt', {}, 'created'), el('dd', {}, when(e.createdUnixMs)),
       Number(e.finishedUnixMs) ? [el('dt', {}, 'finished'), el('dd', {}, when(e.finishedUnixMs))] : null,
       e.search && shortState(e.search) !== 'unspecified' ? [el('dt', {}, 'search'), el('dd', {}, shortState(e.search))] : null,
       e.message ? [el('dt', {}, 'message'), el('dd', { id: 'exp-message' }, e.message)] : null),
    el('div', { class: 'toolbar' },
       running ? el('button', { class: 'danger', id: 'cancel', onclick: act('cancel') }, 'Cancel experiment') : null,
       running && searchOpen ? el('button', { id: 'close', onclick: act('close') }, 'Close search') : null,
       el('a', { href: '#/compare?ids=' + encodeURIComponent(e.id) }, 'Compare…'))]);
}

function jobRow(j) {
  const s = j.search && j.search.resultSeq !== undefined && Number(j.search.resultSeq) >= 0 ? num(j.search.value) : '';
  const summary = parseJson(j.summaryJson) || {};
  const result = summary.test_accuracy !== undefined ? num(summary.test_accuracy) : s;
  return el('tr', { 'data-job': j.id, 'data-state': shortState(j.state) },
    el('td', { class: 'num' }, j.index), el('td', {}, el('a', { href: '#/jobs/' + encodeURIComponent(j.id) }, j.id)),
    el('td', {}, j.kind), el('td', {}, badge(j.state)), el('td', { class: 'params' }, paramsText(j.paramsJson)),
    el('td', { class: 'num' }, result), el('td', { class: 'num' }, j.attempts), el('td', {}, j.workerId),
    el('td', { class: 'reason' }, j.reason));
}

// The header's job counts from the jobs the page holds (between re-reads of the experiment).
function updateCounts(page) {
  const c = { total: page.jobs.size };
  for (const j of page.jobs.values()) { const s = shortState(j.state); c[s] = (c[s] || 0) + 1; }
  const dd = document.getElementById('exp-progress');
  if (dd) append(clear(dd), [progress(c)]);
}

function renderJobs(page) {
  const jobs = [...page.jobs.values()].sort((a, b) => a.index - b.index);
  append(clear(page.jobsBox), [table(['#', 'job', 'kind', 'state', 'params', 'result', 'attempts', 'worker', 'reason'],
                                     jobs.map(jobRow), { id: 'jobs-table' })]);
}

function renderTables(page, tables) {
  clear(page.tablesBox);
  if (!tables.length) append(page.tablesBox, [el('p', { class: 'muted' }, 'No results yet.')]);
  for (const t of tables) {
    append(page.tablesBox, [el('h3', {}, t.title),
      table(t.columns, (t.rows || []).map((r) => el('tr', {}, (r.cells || []).map((c) => el('td', {}, c)))), { class: 'results' }),
      (t.notes || []).map((n) => el('p', { class: 'notes' }, n))]);
  }
}

// Live: job changes update their row; metric points extend the curves; result tables and
// counts are re-read (at most once a second) when a job ends.
function follow(page) {
  let tablesDue = false;
  const refresh = async () => {
    if (!tablesDue) return;
    tablesDue = false;
    try {
      const r = await api('/api/v1/experiments/' + encodeURIComponent(page.id) + '/results?include_tables=true');
      page.experiment = r.experiment;
      renderHead(page);
      renderTables(page, r.tables || []);
    } catch (err) { /* the next tick retries */ }
  };
  ui.timers.push(setInterval(refresh, 1000));
  let chartDue = false;
  ui.timers.push(setInterval(() => { if (chartDue) { chartDue = false; redrawChart(page, page.chartBox); } }, 1000));
  setStatus('live');
  const shown = ui.page;
  let finished = false;
  events('/api/v1/experiments/' + encodeURIComponent(page.id) + '/events?include_metrics=true', (name, ev) => {
    if (name === 'job') {
      const j = ev.job;
      const isNew = !page.jobs.has(j.id);
      page.jobs.set(j.id, j);
      const row = page.jobsBox.querySelector('tr[data-job="' + CSS.escape(j.id) + '"]');
      if (row && !isNew) row.replaceWith(jobRow(j)); else renderJobs(page);
      updateCounts(page);
      if (['succeeded', 'failed', 'cancelled'].includes(shortState(j.state))) tablesDue = true;
    } else if (name === 'metric') {
      const m = ev.metric;
      if (!page.metric) setMetricNames(page, [m.name]);
      else if (![...page.metricSel.options].some((o) => o.value === m.name)) setMetricNames(page, [m.name]);
      if (m.name === page.metric) { addPoint(page, m); chartDue = true; }
    } else if (name === 'finished') {
      finished = true;
      tablesDue = true;
      setStatus('finished: ' + shortState(ev.finished.state));
    } else if (name === 'error') {
      setStatus('stream error: ' + ev);
    }
  }).then(() => refresh(), (err) => { if (err.name !== 'AbortError') setStatus('stream ended: ' + err.message); })
    .then(() => { if (!finished) reconnect('experiment', shown); });
}

// The coordinator is away (restarting, unreachable): worth trying again.
function retryable(err) {
  return err.name !== 'AbortError' && (!(err instanceof ApiError) || err.status === 503);
}

// A stream that ended before its end (the coordinator restarted, the network dropped): the
// page is read again after a pause, if it is still the one shown.
function reconnect(what, page) {
  if (page !== ui.page) return;  // left already
  setStatus('reconnecting to the ' + what + '…');
  setTimeout(() => { if (page === ui.page) route(); }, 3000);
}

// A job: attempts, artifacts to download, logs following live.
function jobPage(id) {
  const root = clear(main());
  const shown = ui.page;
  const head = el('div', { id: 'job-head' });
  const attempts = el('div', { id: 'attempts' });
  const artifacts = el('div', { id: 'artifacts' });
  const log = el('pre', { id: 'log' });
  const logState = el('span', { class: 'muted', id: 'log-state' }, 'loading…');
  append(root, [head, el('h2', {}, 'Attempts'), attempts, el('h2', {}, 'Artifacts'), artifacts,
                el('h2', {}, 'Logs ', logState), log]);
  const load = async () => {
    const r = await api('/api/v1/jobs/' + encodeURIComponent(id));
    renderJob(r, head, attempts, artifacts);
    return r;
  };
  load().then((r) => {
    markReady();
    const ended = ['succeeded', 'failed', 'cancelled'].includes(shortState(r.job.state));
    if (!ended) ui.timers.push(setInterval(() => load().catch(() => {}), 2000));
    logState.textContent = ended ? '' : 'following…';
    const stick = () => log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
    return stream('/api/v1/jobs/' + encodeURIComponent(id) + '/logs?follow=true', (text) => {
      const atEnd = stick();
      log.appendChild(document.createTextNode(text));
      if (atEnd) log.scrollTop = log.scrollHeight;
    }).then(() => { logState.textContent = '(ended)'; load().catch(() => {}); });
  }).catch((err) => (retryable(err) ? reconnect('job', shown) : showError(root, err)));
}

function renderJob(r, head, attempts, artifacts) {
  const j = r.job;
  append(clear(head), [
    el('h1', {}, 'Job ', j.id, ' ', badge(j.state)),
    el('dl', { class: 'meta' },
       el('dt', {}, 'experiment'), el('dd', {}, el('a', { href: '#/experiments/' + encodeURIComponent(j.experimentId) }, j.experimentId)),
       el('dt', {}, 'kind'), el('dd', {}, j.kind), el('dt', {}, 'params'), el('dd', {}, paramsText(j.paramsJson)),
       el('dt', {}, 'worker'), el('dd', {}, j.workerId), el('dt', {}, 'reason'), el('dd', {}, j.reason)),
    j.summaryJson ? el('details', {}, el('summary', {}, 'Summary (summary.json)'),
                       el('pre', { class: 'spec' }, JSON.stringify(parseJson(j.summaryJson), null, 2))) : null]);
  append(clear(attempts), [(r.attempts || []).length
    ? table(['#', 'attempt id', 'rank', 'worker', 'outcome', 'started', 'ended', 'exit', 'reason'], r.attempts.map((a) => el('tr', {},
        el('td', { class: 'num' }, a.number), el('td', { class: 'num' }, a.id), el('td', { class: 'num' }, a.rank),
        el('td', {}, a.workerId), el('td', {}, a.outcome ? badge(a.outcome) : badge('running')),
        el('td', {}, when(a.startedUnixMs)), el('td', {}, when(a.endedUnixMs)), el('td', { class: 'num' }, a.outcome ? a.exitCode : ''),
        el('td', { class: 'reason' }, a.reason))))
    : el('p', { class: 'muted' }, 'Not started yet.')]);
  append(clear(artifacts), [(r.artifacts || []).length
    ? table(['name', 'size', 'sha256', ''], r.artifacts.map((a) => el('tr', {},
        el('td', {}, a.name), el('td', { class: 'num' }, bytes(a.sizeBytes)), el('td', { class: 'params' }, a.sha256.slice(0, 16) + '…'),
        el('td', {}, el('button', { 'data-artifact': a.name, onclick: () => download(j.id, a.name) }, 'Download')))))
    : el('p', { class: 'muted' }, 'None yet.')]);
}

// Downloads through fetch, so the token travels as a header (never in a URL or a cookie).
async function download(jobId, name) {
  try {
    const res = await fetch('/api/v1/jobs/' + encodeURIComponent(jobId) + '/artifacts/' + encodeURIComponent(name), { headers: headers() });
    if (!res.ok) throw new ApiError(res.status, (await res.json()).message);
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: name });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (err) { alert('Download failed: ' + err.message); }
}

function workersPage() {
  const root = clear(main());
  const body = el('div', {});
  append(root, [el('h1', {}, 'Workers'), body]);
  const load = async () => {
    try {
      const r = await api('/api/v1/workers');
      const ws = r.workers || [];
      append(clear(body), [ws.length ? table(['id', 'name', 'state', 'GPUs', 'CPU slots', 'running', 'labels', 'last seen'],
        ws.map((w) => el('tr', {}, el('td', {}, w.id), el('td', {}, w.name), el('td', {}, badge(w.state)),
          el('td', { class: 'num' }, w.gpus), el('td', { class: 'num' }, w.cpuSlots), el('td', { class: 'num' }, w.runningAttempts),
          el('td', { class: 'params' }, Object.entries(w.labels || {}).map(([k, v]) => k + '=' + v).join(' ')),
          el('td', {}, when(w.lastSeenUnixMs)))), { id: 'workers' }) : el('p', { class: 'muted' }, 'No workers have registered.')]);
      markReady();
    } catch (err) { clear(body); showError(body, err); }
  };
  load();
  ui.timers.push(setInterval(load, 5000));
}

// Two or more experiments on one metric: each experiment's mean curve over its jobs, and
// the mean ± std over jobs of each job's last value.
function comparePage(params) {
  const root = clear(main());
  const idsIn = el('input', { id: 'compare-ids', size: 60, value: params.get('ids') || '', placeholder: 'experiment ids, comma-separated' });
  const metricSel = el('select', { id: 'compare-metric' });
  const chartBox = el('div', { class: 'chart', id: 'compare-chart' });
  const summary = el('div', { id: 'compare-table' });
  append(root, [el('h1', {}, 'Compare experiments'),
    el('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault();
      const q = new URLSearchParams({ ids: idsIn.value.replace(/\s+/g, ''), metric: metricSel.value });
      location.hash = '#/compare?' + q; } },
      idsIn, 'metric ', metricSel, el('button', { type: 'submit' }, 'Compare')),
    chartBox, summary]);
  const ids = (params.get('ids') || '').split(',').filter(Boolean);
  if (!ids.length) { append(summary, [el('p', { class: 'muted' }, 'Pick experiments on the list, or type their ids.')]); return; }
  compare(ids, params.get('metric') || '', metricSel, chartBox, summary).catch((err) => showError(root, err));
}

async function compare(ids, metric, metricSel, chartBox, summary) {
  const probe = await Promise.all(ids.map((id) => api('/api/v1/experiments/' + encodeURIComponent(id) + '/results?include_metric_names=true')));
  const names = [...new Set(probe.flatMap((r) => r.metricNames || []))].sort();
  metric = metric || ['val_accuracy', 'test_accuracy', 'loss'].find((n) => names.includes(n)) || names[0] || '';
  const r0Jobs = probe.reduce((n, r) => n + (r.jobs || []).length, 0);
  for (const n of names) metricSel.appendChild(el('option', { value: n, selected: n === metric }, n));
  const results = await Promise.all(ids.map((id) => api('/api/v1/experiments/' + encodeURIComponent(id) +
    '/results?include_metrics=true&metrics_as_series=true&max_points_per_series=' +
    Math.max(20, Math.min(500, Math.floor(20000 / Math.max(1, r0Jobs)))) + '&metric_names=' + encodeURIComponent(metric))));
  const series = [], rows = [];
  for (const r of results) {
    const sum = new Map(), count = new Map(), lasts = [];
    for (const j of r.jobs || []) {
      for (const s of (j.series || []).filter((x) => x.name === metric)) {
        s.steps.forEach((step, i) => { const x = Number(step); sum.set(x, (sum.get(x) || 0) + s.values[i]); count.set(x, (count.get(x) || 0) + 1); });
        if (s.values.length) lasts.push(s.values[s.values.length - 1]);
      }
    }
    const e = r.experiment;
    series.push({ label: (e.name || e.id) + ' (' + e.id + ')', points: new Map([...sum.entries()].map(([x, s]) => [x, s / count.get(x)])) });
    const mean = lasts.reduce((a, b) => a + b, 0) / (lasts.length || 1);
    const std = lasts.length > 1 ? Math.sqrt(lasts.reduce((a, b) => a + (b - mean) ** 2, 0) / (lasts.length - 1)) : 0;
    rows.push(el('tr', {}, el('td', {}, el('a', { href: '#/experiments/' + encodeURIComponent(e.id) }, e.id)), el('td', {}, e.name),
      el('td', {}, e.kind), el('td', {}, badge(e.state)), el('td', { class: 'num' }, lasts.length),
      el('td', { class: 'num' }, lasts.length ? num(mean) + ' ± ' + num(std) : '')));
  }
  drawChart(chartBox, metric + ' (mean over each experiment\'s jobs)', series);
  append(clear(summary), [table(['experiment', 'name', 'kind', 'state', 'jobs with ' + metric, 'last ' + metric + ' (mean ± std)'], rows)]);
  markReady();
}

document.getElementById('token-button').addEventListener('click', () => tokenPage(''));
window.addEventListener('hashchange', () => { main().removeAttribute('data-ready'); window.ladleReadyMs = undefined; route(); });
route();
