// The status page's charts: inline SVG, one per figure, with a caption, a legend of each series'
// latest value, a y axis in the figure's unit and a time axis counted back from the newest sample.
// Drawn by hand (no charting library): the page loads nothing from outside the node.
import { el, formatValue, svgEl } from './dom.js';

const COLORS = ['#2f6fdb', '#e0672b', '#1f9d55', '#9b4dca', '#d64545', '#7a8699'];
/** Height of every chart, px (its width is the width it is given on the page). */
const H = 170;
const PAD = { left: 56, right: 12, top: 20, bottom: 20 };
/** Least room between two labelled ticks of a time axis, px. */
const TICK_SPACING_PX = 64;
/** Steps between the ticks of a time axis, seconds: the smallest that leaves enough room. */
const TICK_STEPS_S = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600];

const charts = new Map();

/**
 * Creates (once) the chart `key` inside `parent`: a caption, an SVG and a legend whose items
 * show each series' latest value. `spec`: title, subtitle, series names, unit ('B', '' or '%'),
 * perSecond, yLabel (the y axis' unit), floor (least top of the y axis), marks (dashed lines).
 */
export function chart(parent, key, spec) {
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
export function draw(c, times, series) {
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
