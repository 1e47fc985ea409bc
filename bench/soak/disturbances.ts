/**
 * The soak benchmark's disturbances: churn (a node of the churn set killed with SIGKILL and
 * restarted 5 to 15 s later) and faults (the proxy in front of a node given added delay, a
 * throughput limit, a black hole, or all its connections reset).
 */
import { between, CHURNED, log, NODES, now, PROXIED, pick } from './config.ts';
import { alive, holds, nodes, startNode } from './nodes.ts';
import { tracked } from './tracking.ts';

/** What churn and faults did, in order. */
export const events: { t: number; what: string }[] = [];

/** `stopped` tells when the load is over (a failed restart is then not retried). */
export async function churn(stopped: () => boolean): Promise<void> {
  const candidates = nodes.slice(NODES - CHURNED).filter(alive);
  if (candidates.length === 0) return;
  const n = pick(candidates);
  const downMs = between(5000, 15_000);
  n.kills++;
  events.push({ t: now(), what: `SIGKILL node ${n.i}, restart after ${downMs} ms` });
  log(`SIGKILL node ${n.i} (down ${downMs} ms)`);
  for (const s of n.streams) s.close();
  n.streams = [];
  const d = n.daemon!;
  n.api = '';
  d.kill('SIGKILL');
  await d.exited;
  await new Promise((r) => setTimeout(r, downMs));
  // A restart that fails (e.g. the source tree is broken mid-run) is retried, not fatal.
  for (let attempt = 1; ; attempt++) {
    try {
      await startNode(n);
      break;
    } catch (e) {
      events.push({ t: now(), what: `restart of node ${n.i} failed: ${String(e).slice(0, 200)}` });
      log(`restart of node ${n.i} failed (attempt ${attempt})`);
      if (attempt >= 5 || stopped()) return;
      await new Promise((r) => setTimeout(r, 10_000));
    }
  }
  log(`node ${n.i} back`);
  // What it caught up on before its event streams were open is not announced to them.
  const grace = Date.now() + 10_000;
  while (Date.now() < grace && alive(n)) {
    for (const [id, a] of tracked) {
      if (!a.have.has(n.i) && (await holds(n, a.channel, id))) a.have.add(n.i);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export async function fault(): Promise<void> {
  const n = pick(nodes.slice(0, PROXIED));
  const p = n.proxy!;
  const kind = pick(['delay', 'throughput', 'black hole', 'reset'] as const);
  const forMs = between(5000, 20_000);
  events.push({
    t: now(),
    what: `proxy of node ${n.i}: ${kind}${kind === 'reset' ? '' : ` for ${forMs} ms`}`,
  });
  log(`fault on node ${n.i}: ${kind}`);
  if (kind === 'reset') {
    p.dropConnections();
    return;
  }
  if (kind === 'delay') p.set('both', { delayMs: between(20, 200) });
  if (kind === 'throughput') p.set('both', { bytesPerSec: 500_000 });
  if (kind === 'black hole') p.set('both', { blackHole: true });
  await new Promise((r) => setTimeout(r, forMs));
  p.heal();
}
