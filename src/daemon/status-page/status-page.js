// The status page of a subnet-p2p node: polls /v1/status and /v1/history with the API token and
// shows the node now (readiness, uptime, version, links, channels against their limits, a warning
// for any limit at 80% or more) beside inline-SVG charts of the last minutes with labelled axes.
// Plain browser JavaScript, no build step; the page loads nothing from outside the node.
//
// The token comes in the URL fragment (`/#token=<hex>`, printed by `subnet-p2p status --page-url`):
// the page moves it to sessionStorage (this tab only), removes it from the address bar, and sends
// it as `Authorization: Bearer` on every fetch. The fragment never reaches the server or its logs.
//
// This file is the token and the polling loop; it loads the rest as ES modules from
// /status-page/: dom.js (elements, formatting), charts.js (inline-SVG charts), now.js (the
// figures and tables of the node now) and history.js (the charts of the last minutes).
import { setText } from './status-page/dom.js';
import { renderHistory } from './status-page/history.js';
import { renderChannels, renderNow, renderPeers, renderWarnings } from './status-page/now.js';

/** Where the page keeps the API token: sessionStorage, this tab only. */
const TOKEN_KEY = 'subnet-p2p-api-token';
const AUTH_HINT_NONE = 'This page has no access token.';
const AUTH_HINT_REFUSED =
  'The node refused this page’s access token (a node makes a new one each time it starts).';

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
