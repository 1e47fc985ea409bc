/**
 * What the soak benchmark posted and where it arrived: an artifact counts as delivered once every
 * node announced it on its event stream (or posted it); the consumer then deletes it everywhere,
 * and deletes as lost what is still missing somewhere LOST_AFTER_MS after it was posted.
 */
import { postArtifact } from '../../test/daemon/helpers.ts';
import { bytes, LOST_AFTER_MS, log, NODES, now, pick } from './config.ts';
import { alive, del, holds, nodes } from './nodes.ts';

export interface Tracked {
  channel: 'consensus' | 'ingress';
  size: number;
  postedAt: number;
  have: Set<number>;
  deliveredAt?: number;
}

export const tracked = new Map<string, Tracked>();
const deleted = new Map<string, number>();
/** Announcements of ids not tracked yet (the POST had not returned), kept 60 s. */
const early = new Map<string, { t: number; have: Set<number> }>();
export const results: { channel: string; delivered: boolean; latencyMs?: number }[] = [];
/** API calls of the load that failed. */
export let apiErrors = 0;

/** Moves stream events into `tracked`; deletes again what was deleted but came back. */
export function absorbEvents(): void {
  for (const n of nodes) {
    for (const s of n.streams) {
      for (const e of s.events.splice(0)) {
        const a = tracked.get(e.id);
        if (a !== undefined) {
          a.have.add(n.i);
        } else if (deleted.has(e.id)) {
          if (alive(n)) void del(n, e.channel, e.id);
        } else {
          const x = early.get(e.id) ?? { t: now(), have: new Set<number>() };
          x.have.add(n.i);
          early.set(e.id, x);
        }
      }
    }
  }
}

/** Deletes everywhere what every node has, and what is overdue (counted as lost). */
export async function consume(final = false): Promise<void> {
  absorbEvents();
  const t = now();
  for (const [id, a] of tracked) {
    const overdue = t - a.postedAt > LOST_AFTER_MS;
    if (a.have.size < NODES && (overdue || final)) {
      // A restarted node may have caught up before its event stream was open: ask it.
      for (const n of nodes.filter((x) => !a.have.has(x.i) && alive(x))) {
        if (await holds(n, a.channel, id)) a.have.add(n.i);
      }
    }
    const everywhere = a.have.size === NODES;
    if (!everywhere && !overdue && !final) continue;
    tracked.delete(id);
    deleted.set(id, t);
    results.push({
      channel: a.channel,
      delivered: everywhere,
      latencyMs: everywhere ? (a.deliveredAt ?? t) - a.postedAt : undefined,
    });
    if (!everywhere) {
      const missing = nodes.filter((n) => !a.have.has(n.i)).map((n) => n.i);
      log(`LOST ${a.channel} ${id.slice(0, 8)}: missing on nodes ${missing.join(', ')}`);
    }
    await Promise.all(nodes.filter(alive).map((n) => del(n, a.channel, id)));
  }
  for (const [id, at] of deleted) if (t - at > 300_000) deleted.delete(id);
  for (const [id, x] of early) if (t - x.t > 60_000) early.delete(id);
}

export function markDelivered(): void {
  const t = now();
  for (const a of tracked.values())
    if (a.deliveredAt === undefined && a.have.size === NODES) a.deliveredAt = t;
}

export async function post(channel: 'consensus' | 'ingress', size: number): Promise<void> {
  const live = nodes.filter(alive);
  if (live.length === 0) return;
  const n = pick(live);
  try {
    const id = await postArtifact(n.api, channel, bytes(size));
    const a: Tracked = { channel, size, postedAt: now(), have: new Set([n.i]) };
    for (const i of early.get(id)?.have ?? []) a.have.add(i);
    early.delete(id);
    tracked.set(id, a);
  } catch {
    apiErrors++;
  }
}
