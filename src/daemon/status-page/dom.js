// The status page's building blocks: HTML and SVG elements, and values written for a person
// (bytes in KiB/MiB/GiB, counts in k/M/G, durations, ages, short node ids). Loaded by
// status-page.js as an ES module; no build step.
const SVG_NS = 'http://www.w3.org/2000/svg';

export function el(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

export function svgEl(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export function setText(id, text) {
  document.getElementById(id).textContent = text;
}

/** `v` for a person: bytes in KiB/MiB/GiB, counts in k/M/G, percentages whole. */
export function formatValue(v, unit) {
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
export function formatDuration(seconds) {
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

export function formatAge(ms) {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

/** The first two groups of a NodeId (`abcde-fghij…`), enough to tell peers apart. */
export function shortId(id) {
  return id.length > 11 ? `${id.slice(0, 11)}…` : id;
}
