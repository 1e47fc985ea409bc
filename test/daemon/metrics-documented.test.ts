/**
 * The metrics an operator sees are the metrics the docs describe: every family a real daemon's
 * `/metrics` serves has a row in docs/deploy.md's "Metrics" section and every row names a
 * family it serves; the alerts of the "Alerts" section and the shipped Grafana dashboard use
 * only families it serves.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { parser } from '@prometheus-io/lezer-promql';
import type { Daemon } from '../../src/daemon/run-daemon.ts';
import { apiFetch, removeTempDir, startOneDaemon } from './helpers.ts';

const DOCS = new URL('../../docs/deploy.md', import.meta.url);
const DASHBOARD = new URL('../../deploy/grafana-dashboard.json', import.meta.url);

/** Every family of a Prometheus text exposition, with its type (from the `# TYPE` lines). */
function servedFamilies(text: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) families.set(m[1]!, m[2]!);
  }
  return families;
}

/** The lines of the section `## <title>` of a markdown text (up to the next `## `). */
function section(markdown: string, title: string): string[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(`## ${title}`);
  assert.ok(start >= 0, `docs/deploy.md has no section "## ${title}"`);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The families named in the first cell of the tables of `lines` (`name{labels}` in backticks). */
function documentedFamilies(lines: readonly string[]): Set<string> {
  const names = new Set<string>();
  for (const line of lines) {
    if (!line.startsWith('|')) continue;
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`(subnet_p2p_[a-z0-9_]+)(\{[^`]*\})?`/g)) names.add(m[1]!);
  }
  return names;
}

/**
 * The metric names used in a PromQL text, as families: a histogram's `_bucket`, `_sum` and
 * `_count` series name the histogram.
 */
function familiesUsed(promql: string, served: ReadonlyMap<string, string>): Set<string> {
  const used = new Set<string>();
  for (const [name] of promql.matchAll(/subnet_p2p_[a-z0-9_]+/g)) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    used.add(base !== name && served.get(base) === 'histogram' ? base : name);
  }
  return used;
}

/** The syntax errors of a PromQL expression (none: it parses), as the Prometheus UI's grammar sees it. */
function promqlErrors(expr: string): string[] {
  const errors: string[] = [];
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError)
        errors.push(`at ${node.from}: ${JSON.stringify(expr.slice(node.from, node.from + 20))}`);
    },
  });
  return errors;
}

/**
 * The `expr:` values of the YAML rules in `lines`: quoted, single (`''` for a quote) or double
 * (JSON-like escapes; the markdown formatter prefers these where no quote is inside).
 */
function alertExprs(lines: readonly string[]): string[] {
  const exprs: string[] = [];
  for (const line of lines) {
    const single = /^\s+expr: '(.*)'$/.exec(line);
    if (single) exprs.push(single[1]!.replaceAll("''", "'"));
    const double = /^\s+expr: (".*")$/.exec(line);
    if (double) exprs.push(JSON.parse(double[1]!) as string);
  }
  return exprs;
}

/** Every string value of key `key` anywhere in `value` (a parsed JSON document). */
function stringsUnder(value: unknown, key: string, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) stringsUnder(v, key, out);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === key && typeof v === 'string') out.push(v);
      else stringsUnder(v, key, out);
    }
  }
  return out;
}

describe('metric families', () => {
  let dir: string | undefined;
  let daemon: Daemon | undefined;
  let base: string;
  let served: Map<string, string>;

  before(async () => {
    ({ dir, daemon, base } = await startOneDaemon('subnet-p2p-metrics-doc-', {}));
    const res = await apiFetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    served = servedFamilies(await res.text());
  });
  after(async () => {
    await daemon?.stop();
    await removeTempDir(dir);
  });

  it('/metrics serves the families of every layer, the histograms, the defaults and build_info', () => {
    for (const [name, type] of [
      ['subnet_p2p_transport_links_up', 'gauge'],
      ['subnet_p2p_broadcast_delivery_latency_seconds', 'histogram'],
      ['subnet_p2p_broadcast_download_duration_seconds', 'histogram'],
      ['subnet_p2p_broadcast_validation_duration_seconds', 'histogram'],
      ['subnet_p2p_transport_event_loop_lag_seconds', 'histogram'],
      ['subnet_p2p_daemon_http_request_duration_seconds', 'histogram'],
      ['subnet_p2p_registry_version', 'gauge'],
      ['subnet_p2p_daemon_ready', 'gauge'],
      ['subnet_p2p_build_info', 'gauge'],
      ['subnet_p2p_process_resident_memory_bytes', 'gauge'],
      ['subnet_p2p_process_cpu_seconds_total', 'counter'],
      ['subnet_p2p_nodejs_gc_duration_seconds', 'histogram'],
      ['subnet_p2p_nodejs_eventloop_lag_p99_seconds', 'gauge'],
    ]) {
      assert.equal(served.get(name!), type, name);
    }
    assert.ok(served.size > 90, `${served.size} families`);
  });

  it('every family is in base units: no _ms, _millis, _kb or _mb', () => {
    const bad = [...served.keys()].filter((n) =>
      /_(ms|millis|milliseconds|micros|us|kb|kib|mb|mib|minutes|hours)(_|$)/.test(n),
    );
    assert.deepEqual(bad, []);
  });

  it('build_info is 1, labelled with the package and Node.js versions', async () => {
    const res = await apiFetch(`${base}/metrics`);
    const text = await res.text();
    const { version } = JSON.parse(
      await readFile(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    assert.ok(
      text.includes(
        `subnet_p2p_build_info{version="${version}",node_version="${process.versions.node}"} 1`,
      ),
      text.split('\n').find((l) => l.startsWith('subnet_p2p_build_info')),
    );
  });

  it('docs/deploy.md documents every family served, and only those', async () => {
    const documented = documentedFamilies(section(await readFile(DOCS, 'utf8'), 'Metrics'));
    const undocumented = [...served.keys()].filter((n) => !documented.has(n));
    const notServed = [...documented].filter((n) => !served.has(n));
    assert.deepEqual(
      { undocumented, notServed },
      { undocumented: [], notServed: [] },
      'add a row per family to the Metrics section of docs/deploy.md (or remove the stale ones)',
    );
  });

  it('the alerts of docs/deploy.md parse as PromQL and use only families served', async () => {
    const lines = section(await readFile(DOCS, 'utf8'), 'Alerts');
    const exprs = alertExprs(lines);
    assert.ok(exprs.length >= 10, `${exprs.length} alert expressions`);
    for (const expr of exprs) assert.deepEqual(promqlErrors(expr), [], expr);
    const used = familiesUsed(lines.join('\n'), served);
    assert.ok(used.size >= 8, `${used.size} families in the alerts`);
    assert.deepEqual(
      [...used].filter((n) => !served.has(n)),
      [],
    );
  });

  it('the Grafana dashboard parses, has a Prometheus data source variable, and its queries parse and use only families served', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as {
      title: string;
      panels: { title: string; type: string; datasource?: { uid?: string } }[];
      templating: { list: { name: string; type: string; query: unknown }[] };
    };
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.equal(variable?.query, 'prometheus');
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    assert.ok(panels.length >= 10, `${panels.length} panels`);
    for (const p of panels) {
      assert.equal(p.datasource?.uid, `\${${variable!.name}}`, `panel ${p.title}'s data source`);
    }
    const exprs = stringsUnder(dashboard, 'expr');
    assert.ok(exprs.length >= panels.length, `${exprs.length} expressions`);
    for (const expr of exprs) {
      // Grafana's range variable becomes a duration before the query reaches Prometheus.
      assert.deepEqual(promqlErrors(expr.replaceAll('$__rate_interval', '5m')), [], expr);
    }
    const used = familiesUsed(
      [...exprs, ...stringsUnder(dashboard.templating, 'query')].join('\n'),
      served,
    );
    assert.deepEqual(
      [...used].filter((n) => !served.has(n)),
      [],
    );
    // The panels an operator looks at first.
    for (const name of [
      'subnet_p2p_broadcast_delivery_latency_seconds',
      'subnet_p2p_daemon_delivered_bytes_total',
      'subnet_p2p_daemon_posted_bytes_total',
      'subnet_p2p_transport_links_up',
      'subnet_p2p_broadcast_slots',
      'subnet_p2p_broadcast_held_bytes_limit',
      'subnet_p2p_broadcast_downloads_total',
      'subnet_p2p_broadcast_peer_faults_total',
      'subnet_p2p_daemon_http_request_duration_seconds',
      'subnet_p2p_process_resident_memory_bytes',
      'subnet_p2p_process_cpu_seconds_total',
      'subnet_p2p_nodejs_eventloop_lag_p99_seconds',
    ]) {
      assert.ok(used.has(name), `the dashboard has no panel on ${name}`);
    }
  });
});
