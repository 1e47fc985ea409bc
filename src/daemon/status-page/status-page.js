// The status page of a subnet-p2p node: polls /v1/status and /v1/history and draws the node,
// its peers and inline-SVG charts of the last minutes. Plain browser JavaScript, no build step.
const SVG_NS = 'http://www.w3.org/2000/svg';
const COLORS = ['#2f6fdb', '#e0672b', '#1f9d55', '#9b4dca', '#d64545', '#7a8699'];
const LANES = ['control', 'high', 'bulk'];
const W = 480;
const H = 170;
const PAD = { left: 52, right: 10, top: 10, bottom: 20 };
/** A limit used at this fraction or more is highlighted. */
const NEAR_LIMIT = 0.8;

const charts = new Map();

function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svgEl(tag, attrs = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

function formatValue(v, unit) {
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

/** Creates (once) the chart `key` inside `parent`: a caption, an SVG and a legend. */
function chart(parent, key, title, subtitle, seriesNames, unit) {
  let c = charts.get(key);
  if (c) return c;
  const fig = el('figure');
  const cap = el('figcaption', {}, title);
  if (subtitle) cap.append(' ', el('span', {}, subtitle));
  const svg = svgEl('svg', {
    class: 'chart',
    viewBox: `0 0 ${W} ${H}`,
    preserveAspectRatio: 'none',
    'data-chart': key,
    'data-points': '0',
  });
  const legend = el('div', { class: 'legend' });
  seriesNames.forEach((name, i) => {
    const item = el('span');
    const swatch = el('i');
    swatch.style.background = COLORS[i % COLORS.length];
    item.append(swatch, name);
    legend.append(item);
  });
  fig.append(cap, svg, legend);
  parent.append(fig);
  c = { svg, unit, seriesNames };
  charts.set(key, c);
  return c;
}

/** Draws `series` (arrays of numbers, one per sample at `times`) into chart `c`. */
function draw(c, times, series) {
  const svg = c.svg;
  while (svg.firstChild) svg.firstChild.remove();
  const n = times.length;
  let max = 0;
  for (const s of series) for (const v of s) max = Math.max(max, v);
  // At least 1 KiB for bytes and 4 for counts, so that the axis labels stay distinct.
  const floor = c.unit === 'B' ? 1024 : 4;
  const top = max <= floor ? floor : niceCeil(max);
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  const tMin = n > 0 ? times[0] : 0;
  const tMax = n > 1 ? times[n - 1] : tMin + 1;
  const xOf = (t) => x0 + ((t - tMin) / (tMax - tMin || 1)) * (x1 - x0);
  const yOf = (v) => y0 - (v / top) * (y0 - y1);
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    const y = yOf(v);
    svg.append(svgEl('line', { x1: x0, x2: x1, y1: y, y2: y, stroke: '#e3e6eb' }));
    const label = svgEl('text', { x: x0 - 6, y: y + 3, 'text-anchor': 'end' });
    label.textContent = formatValue(v, c.unit);
    svg.append(label);
  }
  if (n > 1) {
    const span = Math.round((tMax - tMin) / 1000);
    const left = svgEl('text', { x: x0, y: H - 5 });
    left.textContent = span >= 120 ? `-${Math.round(span / 60)} min` : `-${span} s`;
    const right = svgEl('text', { x: x1, y: H - 5, 'text-anchor': 'end' });
    right.textContent = 'now';
    svg.append(left, right);
  }
  series.forEach((values, i) => {
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
        'vector-effect': 'non-scaling-stroke',
        'data-series': c.seriesNames[i],
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

function renderStatus(status) {
  document.getElementById('node-id').textContent = status.nodeId;
  document.getElementById('subnet').textContent = status.subnet;
  document.getElementById('registry-version').textContent = String(status.registryVersion);
  document.getElementById('address').textContent = status.address;
  const up = status.peers.filter((p) => p.state === 'connected').length;
  document.getElementById('links-up').textContent = `${up} / ${status.peers.length}`;
  document.getElementById('peer-count').textContent =
    `${status.peers.length} neighbour${status.peers.length === 1 ? '' : 's'}`;
  const tbody = document.querySelector('#peers tbody');
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
  tbody.replaceChildren(...rows);
}

/** A limit's use as a number, `used / max (n%)`, amber at 80% and red when full. */
function useCell(key, used, max, unit) {
  const ratio = max > 0 ? used / max : 0;
  const level = ratio >= 1 ? 'full' : ratio >= NEAR_LIMIT ? 'near' : 'ok';
  const text = `${formatValue(used, unit)} / ${formatValue(max, unit)} (${Math.floor(ratio * 100)}%)`;
  return el('td', { class: `mono use ${level}`, 'data-use': key, 'data-level': level }, text);
}

function formatAge(ms) {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
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
      el('td', { class: 'mono' }, String(c.wants)),
      el('td', { class: 'mono' }, formatAge(c.maxAgeMs)),
      el('td', { class: 'mono' }, marks.length > 0 ? marks.join(', ') : '–'),
    );
    return tr;
  });
  document.querySelector('#channels tbody').replaceChildren(...rows);
}

function renderHistory(history) {
  const samples = history.samples;
  const times = samples.map((s) => s.t);
  const pick = (f) => samples.map(f);
  const lanes = document.getElementById('lane-charts');
  for (const lane of LANES) {
    const c = chart(lanes, `lane-${lane}`, `${lane} lane`, '', ['sent', 'received'], 'B');
    draw(c, times, [pick((s) => s.lanes[lane].sent), pick((s) => s.lanes[lane].received)]);
  }
  const channels = document.getElementById('channel-charts');
  const names = samples.length > 0 ? Object.keys(samples[samples.length - 1].channels) : [];
  for (const name of names) {
    const c = chart(
      channels,
      `channel-${name}`,
      `channel ${name}`,
      '',
      ['delivered to this node', 'broadcast via the API'],
      'B',
    );
    draw(c, times, [
      pick((s) => s.channels[name]?.deliveredBytes ?? 0),
      pick((s) => s.channels[name]?.postedBytes ?? 0),
    ]);
  }
  const queues = document.getElementById('queue-charts');
  const send = chart(queues, 'send-queues', 'send queues', 'bytes waiting, all links', LANES, 'B');
  draw(
    send,
    times,
    LANES.map((lane) => pick((s) => s.queues.send[lane])),
  );
  const work = chart(
    queues,
    'downloads',
    'downloads',
    'artifacts',
    ['wanted', 'downloading', 'validating'],
    '',
  );
  draw(work, times, [
    pick((s) => s.queues.wants),
    pick((s) => s.queues.downloading),
    pick((s) => s.queues.validating),
  ]);
  const refusals = chart(
    queues,
    'refusals',
    'refusals',
    'per second',
    ['links', 'adverts', 'peer faults', 'deliveries dropped', 'API errors'],
    '/s',
  );
  draw(refusals, times, [
    pick((s) => s.refusals.links),
    pick((s) => s.refusals.adverts),
    pick((s) => s.refusals.peerFaults),
    pick((s) => s.refusals.deliveriesDropped),
    pick((s) => s.refusals.api),
  ]);
}

async function getJson(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: ${res.status}`);
  return res.json();
}

let intervalMs = 1000;

async function refresh() {
  const conn = document.getElementById('conn');
  try {
    const [status, history] = await Promise.all([getJson('/v1/status'), getJson('/v1/history')]);
    intervalMs = Math.max(250, history.sampleMs);
    renderStatus(status);
    renderChannels(status.channels);
    renderHistory(history);
    conn.className = 'live';
    conn.textContent = `live, every ${intervalMs / 1000} s`;
  } catch (err) {
    conn.className = 'lost';
    conn.textContent = `no answer from the node (${err.message})`;
  }
  setTimeout(refresh, intervalMs);
}

refresh();
