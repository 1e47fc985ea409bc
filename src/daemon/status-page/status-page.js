// The status page of a subnet-p2p node: polls /v1/status and /v1/history with the API token and
// shows the node now (readiness, uptime, version, links, channels against their limits, a warning
// for any limit at 80% or more) beside inline-SVG charts of the last minutes with labelled axes.
// Plain browser JavaScript, no build step; the page loads nothing from outside the node.
//
// The token comes in the URL fragment (`/#token=<hex>`, printed by `subnet-p2p status --page-url`):
// the page moves it to sessionStorage (this tab only), removes it from the address bar, and sends
// it as `Authorization: Bearer` on every fetch. The fragment never reaches the server or its logs.
const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fdb', '#e0672b', '#1f9d55', '#9b4dca', '#d64545', '#7a8699'];
const LANES = ['control', 'high', 'bulk'];
/** Height of every chart, px (its width is the width it is given on the page). */
const H = 170;
const PAD = { left: 56, right: 12, top: 20, bottom: 20 };
/** A limit used at this fraction or more is highlighted and listed in the warnings. */
const NEAR_LIMIT = 0.8;
/** Where the page keeps the API token: sessionStorage, this tab only. */
const TOKEN_KEY = 'subnet-p2p-api-token';
/** Least room between two labelled ticks of a time axis, px. */
const TICK_SPACING_PX = 64;
/** Steps between the ticks of a time axis, seconds: the smallest that leaves enough room. */
const TICK_STEPS_S = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600];
const AUTH_HINT_NONE = 'This page has no access token.';
const AUTH_HINT_REFUSED =
  'The node refused this page’s access token (a node makes a new one each time it starts).';

const charts = new Map();

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(id, text) {
  document.getElementById(id).textContent = text;
}

/** `v` for a person: bytes in KiB/MiB/GiB, counts in k/M/G, percentages whole. */
function formatValue(v, unit) {
  if (unit === '%') return `${Math.round(v)}%`;
  const steps = unit === 'B' ? ['B', 'KiB', 'MiB', 'GiB'] : ['', 'k', 'M', 'G'];
  const base = unit === 'B' ? 1024 : 1000;
  let i = 0;
  let x = v;
  while (Math.abs(x) >= base && i < steps.length - 1) {
    x /= base;
    i++;
  }
  const digits = x >= 100 || Number.isInteger(x) ? 0 : 1;
  const suffix = unit === 'B' ? ` ${steps[i]}` : `${steps[i]}${unit ? ` ${unit}` : ''}`;
  return `${x.toFixed(digits)}${suffix}`;
}

/** A duration in seconds as `2 d 3 h`, `1 h 05 min`, `4 min 09 s` or `12 s`. */
function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const [d, h, m, r] = [
    Math.floor(s / 86400),
    Math.floor(s / 3600) % 24,
    Math.floor(s / 60) % 60,
    s % 60,
  ];
  const two = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${two(m)} min`;
  if (m > 0) return `${m} min ${two(r)} s`;
  return `${r} s`;
}

function formatAge(ms) {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** The first two groups of a NodeId (`abcde-fghij…`), enough to tell peers apart. */
function shortId(id) {
  return id.length > 11 ? `${id.slice(0, 11)}…` : id;
}

/**
 * Creates (once) the chart `key` inside `parent`: a caption, an SVG and a legend whose items
 * show each series' latest value. `spec`: title, subtitle, series names, unit ('B', '' or '%'),
 * perSecond, yLabel (the y axis' unit), floor (least top of the y axis), marks (dashed lines).
 */
function chart(parent, key, spec) {
  let c = charts.get(key);
  if (c) return c;
  const fig = el('figure');
  const cap = el('figcaption', {}, spec.title);
  if (spec.subtitle) cap.append(' ', el('span', {}, spec.subtitle));
  const svg = svgEl('svg', { class: 'chart', 'data-chart': key, 'data-points': '0' });
  const legend = el('div', { class: 'legend' });
  const nows = spec.series.map((name, i) => {
    const item = el('span', { 'data-series': name });
    const swatch = el('i');
    swatch.style.background = COLORS[i % COLORS.length];
    const now = el('b', { class: 'now' });
    item.append(swatch, `${name} `, now);
    legend.append(item);
    return now;
  });
  fig.append(cap, svg, legend);
  parent.append(fig);
  c = { svg, nows, marks: [], ...spec };
  charts.set(key, c);
  return c;
}

/**
 * The ticks of a time axis from `tMin` to `tMax` (ms), counted back from the newest sample:
 * "now", then every step ("-30 s", "-1 min", ...), the step the smallest that leaves
 * TICK_SPACING_PX between labels.
 */
function timeTicks(tMin, tMax, plotWidth) {
  const spanS = (tMax - tMin) / 1000;
  const most = Math.max(1, Math.floor(plotWidth / TICK_SPACING_PX));
  const step = TICK_STEPS_S.find((s) => spanS / s <= most) ?? TICK_STEPS_S.at(-1);
  const ticks = [];
  for (let k = 0; k * step <= spanS; k++) {
    const back = k * step;
    const label = k === 0 ? 'now' : step >= 60 ? `-${back / 60} min` : `-${back} s`;
    ticks.push({ t: tMax - back * 1000, label });
  }
  return ticks;
}

/** Draws `series` (arrays of numbers, one per sample at `times`) into chart `c`. */
function draw(c, times, series) {
  const svg = c.svg;
  const W = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 480);
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const n = times.length;
  let max = 0;
  for (const s of series) for (const v of s) max = Math.max(max, v);
  for (const m of c.marks) max = Math.max(max, m.value);
  // At least 1 KiB for bytes and 4 for counts, so that the axis labels stay distinct.
  const floor = c.floor ?? (c.unit === 'B' ? 1024 : 4);
  const top = max <= floor ? floor : niceCeil(max);
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const tMin = n > 0 ? times[0] : 0;
  const tMax = n > 1 ? times[n - 1] : tMin + 1;
  const xOf = (t) => x0 + ((t - tMin) / (tMax - tMin || 1)) * (x1 - x0);
  const yOf = (v) => y0 - (v / top) * (y0 - y1);
  const rate = c.perSecond ? '/s' : '';
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    const y = yOf(v);
    svg.append(svgEl('line', { x1: x0, x2: x1, y1: y, y2: y, stroke: '#e3e6eb' }));
    svg.append(
      svgEl('text', { x: x0 - 6, y: y + 3, 'text-anchor': 'end' }, formatValue(v, c.unit)),
    );
  }
  svg.append(svgEl('text', { x: 4, y: 11, class: 'axis-unit', 'data-axis': 'y' }, c.yLabel));
  if (n > 1) {
    for (const { t, label } of timeTicks(tMin, tMax, x1 - x0)) {
      const x = xOf(t);
      svg.append(svgEl('line', { x1: x, x2: x, y1: y1, y2: y0 + 3, stroke: '#eef0f3' }));
      const anchor = label === 'now' ? 'end' : 'middle';
      const attrs = { x: label === 'now' ? x1 : x, y: H - 5, 'text-anchor': anchor };
      svg.append(svgEl('text', { ...attrs, 'data-axis': 'x', 'data-t': t }, label));
    }
  }
  for (const m of c.marks) {
    const y = yOf(m.value);
    svg.append(
      svgEl('line', {
        x1: x0,
        x2: x1,
        y1: y,
        y2: y,
        class: `mark ${m.class}`,
        'data-mark': m.label,
      }),
      svgEl(
        'text',
        { x: x1 - 2, y: y - 3, 'text-anchor': 'end', class: `mark ${m.class}` },
        m.label,
      ),
    );
  }
  series.forEach((values, i) => {
    c.nows[i].textContent = n > 0 ? `${formatValue(values[n - 1], c.unit)}${rate}` : '–';
    if (n === 0) return;
    const d = values
      .map((v, j) => `${j === 0 ? 'M' : 'L'}${xOf(times[j]).toFixed(1)},${yOf(v).toFixed(1)}`)
      .join(' ');
    svg.append(
      svgEl('path', {
        d,
        fill: 'none',
        stroke: COLORS[i % COLORS.length],
        'stroke-width': 1.6,
        'data-series': c.series[i],
      }),
    );
  });
  svg.setAttribute('data-points', String(n));
  svg.setAttribute('data-last-t', n > 0 ? String(times[n - 1]) : '');
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** The header and the "Now" figures: readiness, uptime, version, links, totals. */
function renderNow(status) {
  setText('node-id', status.nodeId);
  setText('subnet', status.subnet);
  setText('registry-version', String(status.registryVersion));
  setText('address', status.address);
  setText('version', status.version ?? '–');
  if (typeof status.uptimeSeconds === 'number') {
    setText('uptime', formatDuration(status.uptimeSeconds));
    const since = status.startedAt ? new Date(status.startedAt) : undefined;
    setText('started-at', since ? `since ${since.toLocaleString()}` : '');
    if (since) document.getElementById('started-at').title = status.startedAt;
  } else {
    setText('uptime', '–');
  }
  const ready = document.getElementById('ready');
  if (status.ready) {
    ready.className = `badge ${status.ready.ready ? 'ok' : 'bad'}`;
    ready.dataset.ready = String(status.ready.ready);
    ready.textContent = status.ready.ready ? 'ready' : 'not ready';
    setText('ready-reasons', status.ready.reasons.join('; '));
  } else {
    ready.className = 'badge';
    ready.textContent = '–';
  }
  const up = status.peers.filter((p) => p.state === 'connected').length;
  setText('links-up', `${up} / ${status.peers.length}`);
  const total = (f) => status.channels.reduce((sum, c) => sum + f(c), 0);
  setText('held-total', String(total((c) => c.held.artifacts)));
  setText(
    'held-bytes-total',
    formatValue(
      total((c) => c.held.bytes),
      'B',
    ),
  );
  setText('wants-total', String(total((c) => c.wants)));
}

function renderPeers(status) {
  setText('peer-count', `${status.peers.length} neighbour${status.peers.length === 1 ? '' : 's'}`);
  const rows = status.peers.map((p) => {
    const tr = el('tr', { 'data-node-id': p.nodeId, 'data-state': p.state });
    const state = el('td');
    state.append(el('span', { class: `state ${p.state}` }, p.state));
    tr.append(
      el('td', { class: 'mono' }, p.nodeId),
      el('td', { class: 'mono' }, p.address),
      state,
      el('td', { class: 'mono' }, p.connId === null ? '–' : String(p.connId)),
    );
    return tr;
  });
  if (rows.length === 0) {
    const tr = el('tr');
    tr.append(el('td', { colspan: '4', class: 'empty' }, 'no peers in the registry'));
    rows.push(tr);
  }
  document.querySelector('#peers tbody').replaceChildren(...rows);
}

function levelOf(used, max) {
  const ratio = max > 0 ? used / max : 0;
  return ratio >= 1 ? 'full' : ratio >= NEAR_LIMIT ? 'near' : 'ok';
}

/** A limit's use, `used / max (n%)` over a bar; amber from 80%, red when full. */
function useCell(key, used, max, unit) {
  const ratio = max > 0 ? used / max : 0;
  const level = levelOf(used, max);
  const text = `${formatValue(used, unit)} / ${formatValue(max, unit)} (${Math.floor(ratio * 100)}%)`;
  const td = el('td', { class: `mono use ${level}`, 'data-use': key, 'data-level': level }, text);
  const bar = el('span', { class: 'bar' });
  const fill = el('span');
  fill.style.width = `${Math.min(100, ratio * 100).toFixed(1)}%`;
  bar.append(fill);
  td.append(bar);
  return td;
}

function renderChannels(channels) {
  const rows = channels.map((c) => {
    const tr = el('tr', { 'data-channel': c.name });
    const marks = Object.entries(c.watermarks).map(([field, v]) => `${field} ≥ ${v}`);
    tr.append(
      el('td', { class: 'mono' }, c.name),
      useCell('slots', c.slots.used, c.slots.max, ''),
      useCell('artifacts', c.held.artifacts, c.held.maxArtifacts, ''),
      useCell('bytes', c.held.bytes, c.held.maxBytes, 'B'),
      el(
        'td',
        { class: 'mono' },
        `${formatValue(c.perPeer.maxArtifacts, '')} and ${formatValue(c.perPeer.maxBytes, 'B')}`,
      ),
      el('td', { class: 'mono', 'data-figure': 'wants' }, String(c.wants)),
      el('td', { class: 'mono' }, formatAge(c.maxAgeMs)),
      el('td', { class: 'mono' }, marks.length > 0 ? marks.join(', ') : '–'),
    );
    return tr;
  });
  document.querySelector('#channels tbody').replaceChildren(...rows);
}

/** Every limit used at NEAR_LIMIT or more: the channels' and each peer's share of them. */
function limitWarnings(channels) {
  const out = [];
  const check = (key, what, used, max, unit) => {
    if (!(max > 0) || used / max < NEAR_LIMIT) return;
    const pct = Math.floor((used / max) * 100);
    const figures = `${formatValue(used, unit)} / ${formatValue(max, unit)}`;
    out.push({ key, level: levelOf(used, max), text: `${what} ${pct}% of limit (${figures})` });
  };
  for (const c of channels) {
    const ch = `channel ${c.name}:`;
    check(`${c.name}/slots`, `${ch} slots`, c.slots.used, c.slots.max, '');
    check(`${c.name}/artifacts`, `${ch} artifacts held`, c.held.artifacts, c.held.maxArtifacts, '');
    check(`${c.name}/bytes`, `${ch} bytes held`, c.held.bytes, c.held.maxBytes, 'B');
    for (const o of c.owners) {
      if (o.origin === 'self') continue;
      const peer = `${ch} peer ${shortId(o.origin)}`;
      const key = `${c.name}/peer/${o.origin}`;
      check(`${key}/artifacts`, `${peer} artifacts`, o.artifacts, c.perPeer.maxArtifacts, '');
      check(`${key}/bytes`, `${peer} bytes`, o.bytes, c.perPeer.maxBytes, 'B');
    }
  }
  return out;
}

function renderWarnings(channels) {
  const warnings = limitWarnings(channels);
  const box = document.getElementById('warnings');
  box.hidden = warnings.length === 0;
  box
    .querySelector('ul')
    .replaceChildren(
      ...warnings.map((w) =>
        el(
          'li',
          { class: `warning ${w.level}`, 'data-limit': w.key, 'data-level': w.level },
          w.text,
        ),
      ),
    );
}

function renderHistory(hist, status) {
  const samples = hist.samples;
  const times = samples.map((s) => s.t);
  const pick = (f) => samples.map(f);
  const bytesPerSecond = { unit: 'B', perSecond: true, yLabel: 'bytes per second' };
  const lanes = document.getElementById('lane-charts');
  for (const lane of LANES) {
    const series = ['sent', 'received'];
    const c = chart(lanes, `lane-${lane}`, { title: `${lane} lane`, series, ...bytesPerSecond });
    draw(c, times, [pick((s) => s.lanes[lane].sent), pick((s) => s.lanes[lane].received)]);
  }
  const traffic = document.getElementById('channel-charts');
  const limits = document.getElementById('limit-charts');
  for (const ch of status.channels) {
    const name = ch.name;
    const c = chart(traffic, `channel-${name}`, {
      title: `channel ${name}`,
      series: ['delivered to this node', 'broadcast via the API'],
      ...bytesPerSecond,
    });
    draw(c, times, [
      pick((s) => s.channels[name]?.deliveredBytes ?? 0),
      pick((s) => s.channels[name]?.postedBytes ?? 0),
    ]);
    const u = chart(limits, `limits-${name}`, {
      title: `channel ${name}`,
      subtitle: `of ${ch.slots.max} slots, ${ch.held.maxArtifacts} artifacts, ${formatValue(ch.held.maxBytes, 'B')}`,
      series: ['slots', 'artifacts held', 'bytes held'],
      unit: '%',
      yLabel: '% of limit',
      floor: 100,
    });
    u.marks = [{ value: NEAR_LIMIT * 100, label: 'warning', class: 'near' }];
    const pct = (v, max) => (max > 0 ? (v / max) * 100 : 0);
    draw(u, times, [
      pick((s) => pct(s.channels[name]?.slots ?? 0, ch.slots.max)),
      pick((s) => pct(s.channels[name]?.heldArtifacts ?? 0, ch.held.maxArtifacts)),
      pick((s) => pct(s.channels[name]?.heldBytes ?? 0, ch.held.maxBytes)),
    ]);
  }
  const queues = document.getElementById('queue-charts');
  const send = chart(queues, 'send-queues', {
    title: 'send queues',
    subtitle: 'all links',
    series: LANES,
    unit: 'B',
    yLabel: 'bytes waiting',
  });
  draw(
    send,
    times,
    LANES.map((lane) => pick((s) => s.queues.send[lane])),
  );
  const work = chart(queues, 'downloads', {
    title: 'downloads',
    series: ['wanted', 'downloading', 'validating'],
    unit: '',
    yLabel: 'artifacts',
  });
  draw(work, times, [
    pick((s) => s.queues.wants),
    pick((s) => s.queues.downloading),
    pick((s) => s.queues.validating),
  ]);
  const refusals = chart(queues, 'refusals', {
    title: 'refusals',
    series: ['links', 'adverts', 'peer faults', 'deliveries dropped', 'API errors'],
    unit: '',
    perSecond: true,
    yLabel: 'per second',
  });
  draw(refusals, times, [
    pick((s) => s.refusals.links),
    pick((s) => s.refusals.adverts),
    pick((s) => s.refusals.peerFaults),
    pick((s) => s.refusals.deliveriesDropped),
    pick((s) => s.refusals.api),
  ]);
}

// --- The token and the polling loop ---

let token = null;

function storeToken(value) {
  try {
    if (value === null) sessionStorage.removeItem(TOKEN_KEY);
    else sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    // Storage off (private mode, policy): the token lives in this page only.
  }
}

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Moves `#token=...` from the address bar to sessionStorage; true if the URL had one. */
function takeTokenFromUrl() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has('token')) return false;
  const value = (params.get('token') ?? '').trim();
  params.delete('token');
  const rest = params.toString();
  const url = `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`;
  history.replaceState(history.state, '', url);
  if (value !== '') {
    token = value;
    storeToken(value);
  }
  return true;
}

/** The API answered 401: the page's token is missing, wrong, or of an earlier start. */
class Unauthorized extends Error {}

async function getJson(path) {
  const res = await fetch(path, {
    cache: 'no-store',
    headers: { authorization: `Bearer ${token}` },
  });
  if (res.status === 401) throw new Unauthorized(`${path}: 401`);
  if (!res.ok) {
    const code = await res.json().then(
      (body) => body?.error?.code ?? '',
      () => '',
    );
    throw new Error(`${path}: ${res.status}${code ? ` ${code}` : ''}`);
  }
  return res.json();
}

function setConn(state, text) {
  const conn = document.getElementById('conn');
  conn.className = state;
  conn.textContent = text;
}

function showAuth(reason) {
  setText('auth-reason', reason);
  document.getElementById('auth').hidden = false;
  setConn('lost', 'no access');
}

let intervalMs = 1000;
let timer;
/** Bumped when a new token restarts polling: answers of an older round are dropped. */
let round = 0;

async function refresh() {
  const mine = round;
  if (token === null) return showAuth(AUTH_HINT_NONE);
  try {
    const [status, hist] = await Promise.all([getJson('/v1/status'), getJson('/v1/history')]);
    if (mine !== round) return;
    document.getElementById('auth').hidden = true;
    intervalMs = Math.max(250, hist.sampleMs);
    renderNow(status);
    renderPeers(status);
    renderChannels(status.channels);
    renderWarnings(status.channels);
    renderHistory(hist, status);
    setConn('live', `live, every ${intervalMs / 1000} s`);
  } catch (err) {
    if (mine !== round) return;
    if (err instanceof Unauthorized) {
      // Polling stops: the token will not become valid; a new URL (hashchange) restarts it.
      token = null;
      storeToken(null);
      return showAuth(AUTH_HINT_REFUSED);
    }
    setConn('lost', `no answer from the node (${err.message})`);
  }
  timer = setTimeout(refresh, intervalMs);
}

function restart() {
  round++;
  clearTimeout(timer);
  refresh();
}

// A URL with a new token pasted into this tab changes only the fragment: no reload.
window.addEventListener('hashchange', () => {
  if (takeTokenFromUrl()) restart();
});

token = storedToken();
takeTokenFromUrl();
restart();
