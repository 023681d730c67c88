// search-ctl serve: the page. It asks the server for JSON and builds the
// views with DOM calls; every name, parameter and message is set as text.
'use strict';

const POLL_MS = 2000;
const STATE_COLORS = {
  COMPLETED: '#1f77b4', RUNNING: '#17becf', FAILED: '#d62728',
  EARLY_STOPPED: '#ff7f0e', PAUSED: '#9467bd', STOPPED: '#7f7f7f', WAITING: '#bbbbbb',
};
const STATES = Object.keys(STATE_COLORS);

const view = {
  task: null,        // the task shown (null: the list)
  data: null,        // its last /api/task answer, curves merged
  sort: { key: 'id', dir: 1 },
  filter: '',
  metric: null,      // the metric of the learning curves
  selected: null,    // the trial shown in the detail panel
  importanceFor: null,
  timer: null,
  renders: 0,
};

const $ = id => document.getElementById(id);

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'onclick' || key === 'onchange') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function seconds(value) {
  if (value === null || value === undefined) return '–';
  if (value < 60) return value.toFixed(1) + ' s';
  const m = Math.floor(value / 60), s = Math.round(value % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function stateCell(state) {
  return h('td', { class: 'state state-' + state }, state);
}

function stamped(text) {
  $('updated').textContent = text + ' ' + new Date().toLocaleTimeString();
}

// -- the task list -----------------------------------------------------------
async function showList() {
  const answer = await getJSON('/api/tasks');
  $('root').textContent = answer.only ? answer.root + ' (one task)' : answer.root;
  if (answer.only && view.task === null && answer.tasks.length === 1 && !location.hash) {
    location.hash = '#task=' + encodeURIComponent(answer.only);
    return;
  }
  const rows = answer.tasks.map(t => h('tr', { 'data-task': t.name },
    h('td', {}, h('a', { href: '#task=' + encodeURIComponent(t.name), class: 'task-link' }, t.name)),
    stateCell(t.state),
    h('td', { class: 'num' }, String(t.total ?? '–')),
    h('td', { class: 'num' }, String(t.done ?? '–')),
    h('td', { class: 'num' }, String(t.running ?? '–')),
    h('td', { class: 'num' }, String(t.failed ?? '–')),
    h('td', { class: 'num best' }, Charts.fmt(t.best ?? null)),
    h('td', { class: 'num' }, t.best_trial === null || t.best_trial === undefined ? '–' : String(t.best_trial)),
    h('td', { class: 'num' }, seconds(t.elapsed)),
    h('td', {}, t.error || t.stop_reason || '')));
  const table = h('table', { id: 'task-list' },
    h('thead', {}, h('tr', {}, ...['task', 'state', 'trials', 'done', 'running', 'failed',
      'best', 'best trial', 'elapsed', 'note'].map(c => h('th', {}, c)))),
    h('tbody', {}, ...rows));
  const main = $('main');
  main.replaceChildren(h('h1', {}, 'Tasks'),
    rows.length ? table : h('p', { class: 'note' }, 'no tasks in this root yet'));
  stamped('updated');
  finishedRender();
}

// -- one task ----------------------------------------------------------------
async function showTask(fresh) {
  const name = view.task;
  let url = '/api/task?name=' + encodeURIComponent(name);
  if (!fresh && view.data) {
    url += '&stamp=' + encodeURIComponent(view.data.stamp) + '&after=' + view.data.last_metric_row;
  }
  const answer = await getJSON(url);
  if (name !== view.task) return;
  if (answer.unchanged) {
    view.data.summary = answer.summary;
    renderSummary();
    stamped('no change');
    return;
  }
  if (fresh || !view.data || answer.curves_from === 0) {
    view.data = answer;
  } else {
    mergeCurves(view.data.curves, answer.curves);
    Object.assign(view.data, answer, { curves: view.data.curves });
  }
  renderTask();
  stamped('updated');
}

// New curve points (written after the page's last row) into the page's copy.
function mergeCurves(curves, fresh) {
  for (const [metric, byTrial] of Object.entries(fresh)) {
    const mine = curves[metric] || (curves[metric] = {});
    for (const [trial, [steps, values]] of Object.entries(byTrial)) {
      const old = mine[trial];
      if (!old) { mine[trial] = [steps, values]; continue; }
      const points = new Map(old[0].map((s, i) => [s, old[1][i]]));
      steps.forEach((s, i) => points.set(s, values[i]));
      const order = [...points.keys()].sort((a, b) => a - b);
      mine[trial] = [order, order.map(s => points.get(s))];
    }
  }
}

function renderTask() {
  const d = view.data;
  const main = $('main');
  const box = document.querySelector('.table-box');
  const scroll = { page: window.scrollY, table: box ? box.scrollTop : 0 };
  const metricNames = Object.keys(d.curves).sort();
  if (!view.metric || !d.curves[view.metric]) {
    view.metric = d.curves[d.summary.reward_name] ? d.summary.reward_name : metricNames[0] || null;
  }
  main.replaceChildren(
    h('h1', {}, h('a', { href: '#' }, 'Tasks'), ' / ', h('span', { id: 'task-name' }, d.name)),
    h('div', { id: 'summary', class: 'summary' }),
    h('h2', {}, 'Trials'),
    h('div', { class: 'controls' },
      h('label', {}, 'state ', stateFilter()),
      h('span', { id: 'shown', class: 'note' })),
    h('div', { class: 'table-box' }, trialTable()),
    kept('trial-detail', () => h('div', { id: 'trial-detail', hidden: '' })),
    h('h2', {}, 'Learning curves and best so far'),
    h('div', { class: 'controls' }, h('label', {}, 'metric ', metricSelect(metricNames)),
      legend()),
    h('div', { class: 'charts', id: 'curve-charts' }),
    h('h2', {}, 'Parameters'),
    h('div', { class: 'charts', id: 'param-charts' }),
    h('div', { class: 'charts', id: 'parallel-box' }),
    kept('importance-box', () => h('div', { class: 'charts', id: 'importance-box' },
      h('p', { class: 'note' }, 'importance: computing ...'))),
    h('h2', {}, 'Config and commands'),
    h('pre', { id: 'commands' }, `# resume the task\n${d.commands.resume}\n# stop it\n${d.commands.stop}\n# its table in the terminal\n${d.commands.show}`),
    h('pre', { id: 'config' }, d.config));
  renderSummary();
  fillTable();
  drawCurves();
  drawParams();
  loadImportance();
  if (view.selected !== null) showTrial(view.selected);
  document.querySelector('.table-box').scrollTop = scroll.table;
  window.scrollTo(0, scroll.page);
  finishedRender();
}

// The element with this id on the page of the same task (redrawn in place
// later, so the page does not jump), else a new one.
function kept(id, make) {
  const old = $(id);
  return old && $('task-name') && $('task-name').textContent === view.data.name ? old : make();
}

function renderSummary() {
  const s = view.data.summary;
  const box = $('summary');
  if (!box) return;
  const parts = [
    h('span', { class: 'state state-' + s.state, id: 'task-state' }, s.state),
    h('span', {}, `trials ${s.total} (done ${s.done}, running ${s.running}, failed ${s.failed})`),
    h('span', {}, `best ${s.reward_name} (${s.mode}) `,
      h('b', { id: 'best-reward' }, Charts.fmt(s.best)),
      s.best_trial === null ? '' : ` (trial ${s.best_trial})`),
    h('span', {}, 'elapsed ' + seconds(s.elapsed)),
  ];
  if (s.stop_reason) parts.push(h('span', { class: 'note' }, s.stop_reason));
  if (view.data.allow_stop && s.state === 'RUNNING') {
    parts.push(h('button', { class: 'stop', id: 'stop', onclick: stopTask }, 'Stop this task'));
  }
  box.replaceChildren(...parts);
}

async function stopTask() {
  const name = view.data.name;
  if (!window.confirm(`Stop task "${name}"? Its running trials are killed; search-run --resume continues it later.`)) return;
  try {
    const answer = await getJSON('/api/stop?task=' + encodeURIComponent(name),
      { method: 'POST', headers: { 'X-GML-Confirm': 'stop' } });
    window.alert(answer.message);
  } catch (error) {
    window.alert('not stopped: ' + error.message);
  }
}

function stateFilter() {
  const select = h('select', { id: 'state-filter', onchange: e => { view.filter = e.target.value; fillTable(); } },
    h('option', { value: '' }, 'all'), ...STATES.map(s => h('option', { value: s }, s)));
  select.value = view.filter;
  return select;
}

function metricSelect(names) {
  const select = h('select', { id: 'metric', onchange: e => { view.metric = e.target.value; drawCurves(); } },
    ...names.map(n => h('option', { value: n }, n)));
  if (view.metric) select.value = view.metric;
  return select;
}

function legend() {
  const box = h('span', { class: 'legend' });
  for (const state of STATES) {
    const swatch = h('b', {});
    swatch.style.background = STATE_COLORS[state];
    box.append(swatch, state.toLowerCase().replace('_', '-'));
  }
  box.append('  ✕ stopped by the assessor  ◆ paused at a rung');
  return box;
}

// -- the trial table ---------------------------------------------------------
function columns() {
  const d = view.data;
  return [
    { key: 'id', label: 'trial', num: true, get: t => t.id },
    { key: 'state', label: 'state', get: t => t.state },
    { key: 'reward', label: d.summary.reward_name, num: true, get: t => t.reward },
    { key: 'duration', label: 'duration', num: true, get: t => t.duration, show: seconds },
    { key: 'attempts', label: 'attempts', num: true, get: t => t.attempts },
    ...d.params.map(p => ({ key: 'p:' + p, label: p, get: t => t.params[p],
      num: true, show: v => (typeof v === 'number' ? Charts.fmt(v) : v === undefined ? '–' : Charts.key(v)) })),
    { key: 'message', label: 'note', get: t => t.message, show: v => (v || '').split('\n')[0] },
  ];
}

function trialTable() {
  const head = h('tr', {}, ...columns().map(c => {
    const th = h('th', { 'data-key': c.key, onclick: () => sortBy(c.key) }, c.label);
    if (view.sort.key === c.key) th.className = view.sort.dir > 0 ? 'sorted-asc' : 'sorted-desc';
    return th;
  }));
  return h('table', { id: 'trials' }, h('thead', {}, head), h('tbody', {}));
}

function sortBy(key) {
  view.sort = { key, dir: view.sort.key === key ? -view.sort.dir : (key === 'reward' && view.data.summary.mode === 'maximize' ? -1 : 1) };
  for (const th of document.querySelectorAll('#trials th')) {
    th.className = th.dataset.key === key ? (view.sort.dir > 0 ? 'sorted-asc' : 'sorted-desc') : '';
  }
  fillTable();
}

function compare(a, b) {
  const missing = v => v === null || v === undefined;
  if (missing(a) || missing(b)) return missing(a) - missing(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return Charts.key(a).localeCompare(Charts.key(b));
}

function fillTable() {
  const d = view.data;
  const cols = columns();
  const col = cols.find(c => c.key === view.sort.key) || cols[0];
  const shown = d.trials.filter(t => !view.filter || t.state === view.filter);
  shown.sort((a, b) => {
    const order = compare(col.get(a), col.get(b));
    // trials without a value stay last whatever the direction
    const missing = v => v === null || v === undefined;
    if (missing(col.get(a)) !== missing(col.get(b))) return order;
    return order * view.sort.dir || a.id - b.id;
  });
  const rows = shown.map(t => {
    const tr = h('tr', { 'data-id': String(t.id), onclick: () => showTrial(t.id) });
    if (t.id === d.summary.best_trial) tr.classList.add('best');
    if (t.id === view.selected) tr.classList.add('selected');
    for (const c of cols) {
      if (c.key === 'state') { tr.appendChild(stateCell(t.state)); continue; }
      const value = c.get(t);
      const text = c.show ? c.show(value) : Charts.fmt(value ?? null);
      tr.appendChild(h('td', { class: c.key === 'message' ? 'message' : (c.num ? 'num' : '') }, text));
    }
    return tr;
  });
  document.querySelector('#trials tbody').replaceChildren(...rows);
  $('shown').textContent = `${shown.length} of ${d.trials.length} trials`;
}

// -- one trial ---------------------------------------------------------------
async function showTrial(id) {
  view.selected = id;
  for (const tr of document.querySelectorAll('#trials tbody tr')) {
    tr.classList.toggle('selected', tr.dataset.id === String(id));
  }
  drawCurves();
  const box = $('trial-detail');
  let t;
  try {
    t = await getJSON(`/api/trial?task=${encodeURIComponent(view.task)}&id=${id}`);
  } catch (error) {
    box.replaceChildren(h('p', { class: 'error' }, error.message));
    box.hidden = false;
    return;
  }
  if (view.selected !== id) return;
  const params = Object.entries(t.params).map(([k, v]) => `${k}=${Charts.key(v)}`).join('  ');
  const charts = h('div', { class: 'charts' });
  const parts = [
    h('b', {}, `trial ${t.id} `), h('span', { class: 'state state-' + t.state }, t.state),
    h('button', { onclick: () => { view.selected = null; box.hidden = true; drawCurves(); fillTable(); } }, 'close'),
    h('p', {}, params),
    h('p', {}, `reward ${Charts.fmt(t.reward)} · duration ${seconds(t.duration)} · attempts ${t.attempts}`),
    t.message ? h('pre', { class: 'message' }, t.message) : null,
    charts,
    h('div', {}, 'log (last lines):'),
    h('pre', { id: 'log-tail' }, t.log_tail === null ? '(no log)' : t.log_tail),
  ];
  for (const [name, series] of Object.entries(t.metrics)) {
    const f = Charts.frame(charts, { width: 300, height: 190, title: name,
      x: Charts.axisFor(series.map(p => p[0]), 'step'), y: Charts.axisFor(series.map(p => p[1]), name) });
    Charts.path(f.layer, [series.map(([s, v]) => [f.X(s), f.Y(v)])], { class: 'highlight' });
  }
  box.replaceChildren(...parts.filter(p => p !== null));
  box.hidden = false;
}

// -- charts ------------------------------------------------------------------
function drawCurves() {
  const box = $('curve-charts');
  if (!box) return;
  box.replaceChildren();
  const d = view.data;
  const byTrial = (view.metric && d.curves[view.metric]) || {};
  const state = new Map(d.trials.map(t => [String(t.id), t]));
  const steps = [], values = [];
  for (const [s, v] of Object.values(byTrial)) {
    steps.push(Math.min(...s), Math.max(...s));
    for (const x of v) if (x !== null) values.push(x);
  }
  if (!steps.length) {
    box.appendChild(h('p', { class: 'note' }, 'no intermediate results yet'));
  } else {
    const lo = Math.min(...values), hi = Math.max(...values);
    const f = Charts.frame(box, { id: 'curves', width: 620, height: 320,
      title: `${view.metric} per step, every trial`,
      x: Charts.axisFor([Math.min(...steps), Math.max(...steps)], 'step'),
      y: Charts.axisFor([lo, hi], view.metric) });
    const groups = {}, decided = { stopped: [], paused: [] };
    for (const [id, [s, v]] of Object.entries(byTrial)) {
      const t = state.get(id);
      const key = t ? t.state : 'WAITING';
      (groups[key] || (groups[key] = [])).push(s.map((x, i) => [f.X(x), v[i] === null ? NaN : f.Y(v[i])]));
      const dec = t && t.decision;
      if (dec && decided[dec.kind]) {
        let i = dec.step === null ? s.length - 1 : s.indexOf(dec.step);
        if (i < 0) i = s.length - 1;
        decided[dec.kind].push([f.X(s[i]), f.Y(v[i])]);
      }
    }
    for (const st of STATES) {
      if (groups[st]) Charts.path(f.layer, groups[st], { class: 'curve curve-' + st, stroke: STATE_COLORS[st] });
    }
    Charts.marks(f.layer, decided.stopped, 'stopped');
    Charts.marks(f.layer, decided.paused, 'paused');
    const picked = view.selected !== null && byTrial[String(view.selected)];
    if (picked) {
      Charts.path(f.layer, [picked[0].map((x, i) => [f.X(x), f.Y(picked[1][i])])], { class: 'highlight' });
    }
  }
  drawBest(box);
}

function drawBest(box) {
  const d = view.data, s = d.summary;
  const better = s.mode === 'maximize' ? (a, b) => a > b : (a, b) => a < b;
  const t0 = s.created || Math.min(...d.trials.map(t => t.created || Infinity));
  const ended = d.trials.filter(t => t.reward !== null && t.ended !== null)
    .sort((a, b) => a.ended - b.ended);
  if (!ended.length) return;
  const x = t => t.ended - t0;
  const f = Charts.frame(box, { id: 'best-chart', width: 460, height: 320,
    title: `best ${s.reward_name} so far over time`,
    x: Charts.axisFor(ended.map(x), 'seconds since the task started'),
    y: Charts.axisFor(ended.map(t => t.reward), s.reward_name) });
  let best = null;
  const line = [];
  for (const t of ended) {
    if (t.state !== 'COMPLETED') continue;
    if (best === null || better(t.reward, best)) {
      if (best !== null) line.push([f.X(x(t)), f.Y(best)]);
      best = t.reward;
      line.push([f.X(x(t)), f.Y(best)]);
    }
  }
  if (best !== null) line.push([f.X(x(ended[ended.length - 1])), f.Y(best)]);
  Charts.points(f.layer, ended.map(t => ({ x: f.X(x(t)), y: f.Y(t.reward), color: STATE_COLORS[t.state],
    tip: `trial ${t.id} (${t.state}): ${Charts.fmt(t.reward)}`, id: t.id })), item => showTrial(item.id));
  Charts.path(f.layer, [line], { class: 'best-line' });
}

function withReward() {
  return view.data.trials.filter(t => t.reward !== null);
}

function drawParams() {
  const d = view.data, s = d.summary;
  const box = $('param-charts'), pbox = $('parallel-box');
  const rows = withReward();
  if (!rows.length) {
    box.replaceChildren(h('p', { class: 'note' }, 'no trial has a reward yet'));
    return;
  }
  const yAxis = Charts.axisFor(rows.map(t => t.reward), s.reward_name);
  for (const p of d.params) {
    const f = Charts.frame(box, { width: 300, height: 220, title: `${p} vs ${s.reward_name}`,
      x: Charts.axisFor(rows.map(t => t.params[p]), p), y: yAxis });
    Charts.points(f.layer, rows.map(t => ({ x: f.X(t.params[p]), y: f.Y(t.reward),
      color: STATE_COLORS[t.state], id: t.id,
      tip: `trial ${t.id}: ${p}=${Charts.key(t.params[p])} → ${Charts.fmt(t.reward)}` })), item => showTrial(item.id));
  }
  const lo = yAxis.min, hi = yAxis.max;
  const goodness = t => {
    const u = (t.reward - lo) / ((hi - lo) || 1);
    return s.mode === 'maximize' ? u : 1 - u;
  };
  const axes = d.params.map(p => ({ name: p, axis: Charts.axisFor(rows.map(t => t.params[p]), p), get: t => t.params[p] }));
  axes.push({ name: s.reward_name, axis: yAxis, get: t => t.reward });
  Charts.parallel(pbox, rows, axes, goodness, { id: 'parallel', width: 620, height: 300,
    title: 'parallel coordinates (darker: better reward)' });
}

async function loadImportance() {
  const d = view.data;
  const done = d.trials.filter(t => t.state === 'COMPLETED').length;
  const box = $('importance-box');
  const last = view.importanceFor;
  // asked again when trials completed since, at most every 10 s
  if (last && last.task === d.name && (last.done === done || Date.now() - last.at < 10000)) {
    drawImportance(box, view.importanceFor.answer);
    return;
  }
  try {
    const answer = await getJSON('/api/importance?task=' + encodeURIComponent(d.name));
    view.importanceFor = { task: d.name, done, answer, at: Date.now() };
    if (view.data === d || view.task === d.name) drawImportance($('importance-box'), answer);
  } catch (error) {
    box.replaceChildren(h('p', { class: 'error' }, 'importance: ' + error.message));
  }
}

function drawImportance(box, answer) {
  if (!box) return;
  box.replaceChildren();
  if (!answer.params.length) {
    box.appendChild(h('p', { class: 'note', id: 'importance-note' }, 'parameter importance: ' + answer.note));
    return;
  }
  if (window.gmlImportanceShown === undefined) window.gmlImportanceShown = performance.now();
  Charts.bars(box, answer.params.map(p => ({ name: p.name, value: p.importance })),
    { id: 'importance', width: 620, title: `parameter importance (${answer.method}, ${answer.trials} trials)` });
}

// Counts the renders, and keeps when the first one ended (ms after the page
// started to load) for the benchmark.
function finishedRender() {
  view.renders += 1;
  document.body.dataset.renders = String(view.renders);
  if (window.gmlFirstRender === undefined) {
    window.gmlFirstRender = performance.now();
    // drawn on screen: after the next frame's layout and paint
    requestAnimationFrame(() => setTimeout(() => { window.gmlFirstPaint = performance.now(); }, 0));
  }
}

// -- routing and polling -----------------------------------------------------
function route() {
  const found = /^#task=(.*)$/.exec(location.hash);
  const task = found ? decodeURIComponent(found[1]) : null;
  if (task !== view.task) {
    view.task = task;
    view.data = null;
    view.selected = null;
    view.filter = '';
    view.metric = null;
    view.sort = { key: 'id', dir: 1 };
  }
  refresh(true);
}

async function refresh(fresh) {
  clearTimeout(view.timer);
  if (document.hidden && !fresh) {  // a tab out of sight asks for nothing
    view.timer = setTimeout(() => refresh(false), POLL_MS);
    return;
  }
  try {
    if (view.task === null) await showList();
    else await showTask(fresh);
  } catch (error) {
    $('updated').textContent = 'cannot reach the server: ' + error.message;
    if (fresh) $('main').replaceChildren(h('p', { class: 'error' }, error.message));
  }
  view.timer = setTimeout(() => refresh(false), POLL_MS);
}

window.addEventListener('hashchange', route);
document.addEventListener('visibilitychange', () => { if (!document.hidden) refresh(false); });
route();
