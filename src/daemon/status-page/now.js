// The status page's "now" part: the header figures (readiness, uptime, version, links, totals),
// the table of peers, the table of channels against their limits, and the warnings for any limit
// used at NEAR_LIMIT or more.
import { el, formatAge, formatDuration, formatValue, setText, shortId } from './dom.js';

/** A limit used at this fraction or more is highlighted and listed in the warnings. */
export const NEAR_LIMIT = 0.8;

/** The header and the "Now" figures: readiness, uptime, version, links, totals. */
export function renderNow(status) {
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

export function renderPeers(status) {
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

export function renderChannels(channels) {
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

export function renderWarnings(channels) {
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
