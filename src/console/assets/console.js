// The execgate operator console: plain DOM, no framework. Every value from
// the server is put on the page as text (textContent), never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const COLORS = ['#2456c8', '#b3261e', '#e07b00', '#1b8a5a', '#7b3fb8', '#5b6475', '#0a8ca0'];
const HOUR = 3600;

let csrf = null;
let current = 'overview';
let timer = null;
let samples = [];
let reasons = [];
let events = [];

// Builds an element; children are nodes or strings (strings become text nodes).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c ?? ''));
  return node;
}

function flash(text, bad) {
  const f = $('flash');
  f.textContent = text;
  f.className = bad ? 'error' : '';
}

// A call to the console's API; 401 sends the operator back to the login form.
async function api(method, path, body) {
  const headers = { 'Accept': 'application/json' };
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf || '';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401 && path !== '/console/login') showLogin();
  return { ok: res.ok, status: res.status, data };
}

function errorText(r) {
  return (r.data && r.data.error && r.data.error.message) || ('HTTP ' + r.status);
}

function showLogin(message) {
  csrf = null;
  if (timer) clearInterval(timer);
  timer = null;
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('login-token').focus();
}

function showApp(session) {
  csrf = session.csrf;
  $('whoami').textContent = 'logged in as ' + session.caller;
  $('login').hidden = true;
  $('app').hidden = false;
  show(location.hash.slice(1) || 'overview');
}

async function login(ev) {
  ev.preventDefault();
  const token = $('login-token').value;
  $('login-token').value = '';
  const r = await api('POST', '/console/login', { token });
  if (r.ok) showApp(r.data);
  else $('login-error').textContent = r.status === 429
    ? 'Too many failed logins from this address; try again later.'
    : errorText(r);
}

async function logout() {
  await api('POST', '/console/logout');
  showLogin('Logged out.');
}

// Switches views; the visible one is refreshed every second.
function show(view) {
  const [name, arg] = view.split(':');
  if (!$('view-' + name)) return show('overview');
  current = name;
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== 'view-' + name;
  for (const b of document.querySelectorAll('.tab')) b.classList.toggle('active', b.dataset.view === name);
  if (name === 'client' && arg) { $('client-key').value = decodeURIComponent(arg); }
  if (timer) clearInterval(timer);
  refresh();
  timer = setInterval(refresh, name === 'overview' ? 2000 : 1000);
}

function refresh() {
  if (current === 'overview') return overview();
  if (current === 'events') return loadEvents();
  if (current === 'blocks') return loadBlocks();
  if (current === 'rules') return loadRules();
  if (current === 'client' && $('client-key').value) return loadClient();
}

function fixed(n) { return Number.isInteger(n) ? String(n) : n.toFixed(2); }

// ---- overview ----
async function overview() {
  const since = samples.length ? samples[samples.length - 1].t : 0;
  const r = await api('GET', '/console/api/overview?since=' + since);
  if (!r.ok) return;
  const d = r.data;
  reasons = d.reasons;
  samples = samples.concat(d.samples).slice(-HOUR);
  const last = samples[samples.length - 1] || { requests: 0, refused: reasons.map(() => 0) };
  const sum = (a) => a.reduce((x, y) => x + y, 0);
  $('ov-rps').textContent = last.requests;
  $('ov-refused').textContent = sum(last.refused);
  const minute = samples.slice(-60);
  const reqs = sum(minute.map((s) => s.requests));
  const exe = reasons.indexOf('executor');
  const errs = sum(minute.map((s) => s.refused[exe] || 0));
  $('ov-errors').textContent = reqs ? fixed(100 * errs / reqs) + ' %' : '0 %';
  $('ov-inflight').textContent = d.in_flight;
  $('ov-ready').textContent = d.ready ? 'ready' : 'none healthy';
  const body = $('ov-reasons').tBodies[0];
  body.replaceChildren(...reasons.map((name, i) => el('tr', {}, el('td', {}, name),
    el('td', {}, last.refused[i]), el('td', {}, sum(samples.map((s) => s.refused[i]))))));
  $('ov-executors').tBodies[0].replaceChildren(...d.executors.map((e) =>
    el('tr', {}, el('td', {}, e.upstream), el('td', {}, e.breaker))));
  chart($('chart-requests'), [samples.map((s) => s.requests)], [COLORS[0]]);
  chart($('chart-refusals'), reasons.map((_, i) => samples.map((s) => s.refused[i])), COLORS);
  $('ov-legend').replaceChildren(...reasons.map((name, i) => {
    const swatch = el('i');
    swatch.style.background = COLORS[i % COLORS.length];
    return el('li', {}, swatch, name);
  }));
}

// Draws series as SVG polylines over the hour's width (one x unit per second).
function chart(svg, series, colors) {
  const ns = 'http://www.w3.org/2000/svg';
  const max = Math.max(1, ...series.flat());
  svg.setAttribute('viewBox', '0 0 ' + HOUR + ' 160');
  const lines = series.map((values, i) => {
    const off = HOUR - values.length;
    const pts = values.map((v, x) => (off + x) + ',' + (155 - 150 * v / max).toFixed(1)).join(' ');
    const line = document.createElementNS(ns, 'polyline');
    line.setAttribute('points', pts);
    line.setAttribute('stroke', colors[i % colors.length]);
    return line;
  });
  svg.replaceChildren(...lines);
  $(svg.id + '-axis').textContent = 'peak ' + max + '/s; the right edge is now, the left an hour ago';
}

// ---- security events ----
async function loadEvents() {
  const [r, reloads] = await Promise.all([
    api('GET', '/console/api/v1/events?limit=1000'), api('GET', '/console/api/reloads')]);
  if (!r.ok) return;
  // Rule reloads are shown among the events, as rows of their own.
  const reloadRows = (reloads.ok ? reloads.data.reloads : []).map((x, i) => ({
    seq: 'reload-' + i, at: x.at, key: '', ip: null, findings: [],
    kind: x.result === 'ok' ? 'rules_reloaded' : 'rules_reload_failed',
    detail: 'by ' + x.trigger + (x.errors.length ? ': ' + x.errors.join('; ') : ''),
  }));
  events = r.data.events.concat(reloadRows)
    .sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  loadTop();
  const kinds = [...new Set(events.map((e) => e.kind))].sort();
  const select = $('ev-kind');
  for (const k of kinds) {
    if (![...select.options].some((o) => o.value === k)) select.append(el('option', { value: k }, k));
  }
  renderEvents();
}

function renderEvents() {
  const client = $('ev-client').value.trim();
  const kind = $('ev-kind').value;
  const rule = $('ev-rule').value.trim().toLowerCase();
  const minutes = Number($('ev-since').value);
  const after = minutes ? Date.now() - minutes * 60000 : 0;
  const rows = events.filter((e) =>
    (!client || e.key.includes(client) || (e.ip || '').includes(client)) &&
    (!kind || e.kind === kind) &&
    (!rule || (e.findings || []).some((f) => f.rule.toLowerCase().includes(rule)) ||
      e.detail.toLowerCase().includes(rule)) &&
    (!after || Date.parse(e.at) >= after));
  $('events-table').tBodies[0].replaceChildren(...rows.map((e) => el('tr',
    { 'data-seq': e.seq, 'data-kind': e.kind, onclick: () => eventDetail(e) },
    el('td', {}, e.at), el('td', {}, e.kind), el('td', {}, e.key), el('td', {}, e.ip || ''),
    el('td', {}, e.detail))));
}

// The top clients by requests and refusals since start and by score now, each
// a link to its page; the gateway keeps these rankings bounded. A count that
// may include clients it displaced is marked "≤".
async function loadTop() {
  const rankings = ['requests', 'refusals', 'score'];
  const answers = await Promise.all(rankings.map((by) => api('GET', '/console/api/top?n=10&by=' + by)));
  rankings.forEach((by, i) => {
    if (!answers[i].ok) return;
    $('top-' + by).tBodies[0].replaceChildren(...answers[i].data.clients.map((c) => el('tr',
      { 'data-client': c.client },
      el('td', {}, el('a', { onclick: () => openClient(c.client) }, c.client)),
      el('td', {}, (c.overcount ? '≤ ' : '') + fixed(c.value)))));
  });
}

async function eventDetail(e) {
  if (!e.key) return;
  const box = $('event-detail');
  box.hidden = false;
  const findings = (e.findings || []).map((f) => el('tr', {},
    el('td', {}, f.rule), el('td', {}, f.line), el('td', {}, f.message)));
  box.replaceChildren(
    el('h3', {}, e.kind + ' — ' + e.key),
    el('p', {}, e.at + ' from ' + (e.ip || 'unknown address') + ': ' + e.detail),
    findings.length
      ? el('table', { id: 'detail-findings' }, el('thead', {}, el('tr', {}, el('th', {}, 'Rule'),
        el('th', {}, 'Line'), el('th', {}, 'Message'))), el('tbody', {}, ...findings))
      : el('p', {}, 'No screening findings recorded with this event.'),
    el('p', {}, el('a', { id: 'detail-client', onclick: () => openClient(e.key) }, 'Open client page')));
  const r = await api('GET', '/console/api/v1/clients/' + encodeURIComponent(e.key));
  if (!r.ok) return;
  const c = r.data;
  const bans = c.events.filter((x) => x.kind === 'banned' || x.kind === 'would_ban');
  box.append(el('dl', { id: 'detail-standing' },
    el('dt', {}, 'Tier'), el('dd', {}, c.tier || 'unknown'),
    el('dt', {}, 'Score'), el('dd', {}, fixed(c.reputation.score)),
    el('dt', {}, 'Score history'), el('dd', {}, c.events.map((x) => x.detail).join(' → ') || 'none'),
    el('dt', {}, 'Bans'), el('dd', {}, bans.map((x) => x.at + ' ' + x.detail).join('; ') || 'none'),
    el('dt', {}, 'Blocked'), el('dd', {}, c.blocked ? '#' + c.blocked.id + ' ' + c.blocked.reason : 'no')));
}

function openClient(key) {
  location.hash = 'client:' + encodeURIComponent(key);
}

// ---- client page ----
async function loadClient() {
  const key = $('client-key').value.trim();
  if (!key) return;
  const r = await api('GET', '/console/api/v1/clients/' + encodeURIComponent(key));
  if (!r.ok) { flash(errorText(r), true); $('client-view').hidden = true; return; }
  const c = r.data;
  $('client-view').hidden = false;
  $('client-title').textContent = c.key;
  $('client-tier').textContent = c.tier || 'unknown';
  $('client-score').textContent = fixed(c.reputation.score);
  $('client-offences').textContent = c.reputation.offences;
  $('client-blocked').textContent = c.blocked
    ? '#' + c.blocked.id + ' (' + c.blocked.reason + ', by ' + c.blocked.created_by + ')' : 'no';
  $('client-windows').tBodies[0].replaceChildren(...c.windows.map((w) => el('tr', {},
    el('td', {}, w.name), el('td', {}, w.quota), el('td', {}, w.period_secs),
    el('td', {}, w.remaining), el('td', {}, w.reset_after_secs))));
  $('client-events').tBodies[0].replaceChildren(...c.events.slice().reverse().map((e) => el('tr', {},
    el('td', {}, e.at), el('td', {}, e.kind), el('td', {}, e.detail))));
}

// The value that blocks a client key: the address of `ip:` keys, the key itself otherwise.
function blockValue(key) {
  return key.startsWith('ip:') ? key.slice(3) : key;
}

async function blockClient(ev) {
  ev.preventDefault();
  const key = $('client-title').textContent;
  await addBlock(blockValue(key), $('client-block-duration').value, $('client-block-reason').value);
  loadClient();
}

async function forgive() {
  const key = $('client-title').textContent;
  const r = await api('DELETE', '/console/api/v1/clients/' + encodeURIComponent(key) + '/reputation');
  flash(r.ok ? 'Score of ' + key + ' forgiven.' : errorText(r), !r.ok);
  loadClient();
}

// ---- blocks ----
async function addBlock(value, duration, reason) {
  const body = { value: value.trim(), reason: reason.trim() };
  if (duration.trim()) body.duration = duration.trim();
  const r = await api('POST', '/console/api/v1/blocks', body);
  flash(r.ok ? 'Blocked ' + r.data.value + ' (#' + r.data.id + ').' : errorText(r), !r.ok);
  return r.ok;
}

async function submitBlock(ev) {
  ev.preventDefault();
  if (await addBlock($('block-value').value, $('block-duration').value, $('block-reason').value)) {
    $('block-value').value = '';
  }
  loadBlocks();
}

async function loadBlocks() {
  const q = new URLSearchParams({ limit: '1000' });
  if ($('bl-origin').value) q.set('origin', $('bl-origin').value);
  const r = await api('GET', '/console/api/v1/blocks?' + q);
  if (!r.ok) return;
  const filter = $('bl-value').value.trim();
  const rows = r.data.decisions.filter((d) => !filter || d.value.includes(filter));
  $('blocks-table').tBodies[0].replaceChildren(...rows.map((d) => el('tr', { 'data-id': d.id },
    el('td', {}, d.id), el('td', {}, d.value), el('td', {}, d.origin), el('td', {}, d.reason),
    el('td', {}, d.created_by), el('td', {}, d.expires_at || 'never'),
    el('td', {}, el('button', { class: 'remove-block', type: 'button', onclick: () => removeBlock(d) }, 'Remove')))));
}

async function removeBlock(d) {
  const r = await api('DELETE', '/console/api/v1/blocks/' + d.id + '?reason=' +
    encodeURIComponent('removed from the console'));
  flash(r.ok ? 'Removed block #' + d.id + ' on ' + d.value + '.' : errorText(r), !r.ok);
  loadBlocks();
}

// ---- rules ----
async function loadRules() {
  const r = await api('GET', '/console/api/rules');
  if (!r.ok) return;
  const d = r.data;
  $('rules-paths').textContent = d.screen_paths.join(', ');
  $('rules-count').textContent = d.screen_rules + ' rules';
  $('rules-last-reload').textContent = d.last_reload
    ? d.last_reload.at + ' by ' + d.last_reload.trigger + ': ' + d.last_reload.result : 'none since start';
  $('rules-errors').replaceChildren(...(d.last_reload ? d.last_reload.errors : []).map((e) => el('li', {}, e)));
  $('rules-table').tBodies[0].replaceChildren(...d.rules.map((x) => el('tr', { 'data-rule': x.id },
    el('td', {}, x.id), el('td', {}, x.languages.join(', ')), el('td', {}, x.severity),
    el('td', {}, x.action + (x.detection_only ? ' (detection only)' : '')), el('td', {}, x.hits))));
}

async function reloadRules() {
  const r = await api('POST', '/console/api/rules/reload');
  flash(r.ok ? 'Rules reloaded.' : 'Reload refused: ' + errorText(r), !r.ok);
  loadRules();
}

// ---- start ----
document.addEventListener('DOMContentLoaded', async () => {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  for (const b of document.querySelectorAll('.tab')) {
    b.addEventListener('click', () => { location.hash = b.dataset.view; });
  }
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  for (const id of ['ev-client', 'ev-rule']) $(id).addEventListener('input', renderEvents);
  for (const id of ['ev-kind', 'ev-since']) $(id).addEventListener('change', renderEvents);
  $('ev-filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('bl-filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('bl-value').addEventListener('input', loadBlocks);
  $('bl-origin').addEventListener('change', loadBlocks);
  $('client-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    openClient($('client-key').value.trim());
    loadClient();
  });
  $('client-actions').addEventListener('submit', blockClient);
  $('client-forgive').addEventListener('click', forgive);
  $('block-form').addEventListener('submit', submitBlock);
  $('rules-reload').addEventListener('click', reloadRules);
  const r = await api('GET', '/console/session');
  if (r.ok) showApp(r.data); else showLogin();
});
