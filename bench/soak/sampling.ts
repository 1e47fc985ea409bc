/**
 * The soak benchmark's samples: each node's RSS (/proc/PID/status) and a few bounded gauges from
 * its /metrics, and the number of live artifacts.
 */
import { readFile } from 'node:fs/promises';
import { apiFetch } from '../../test/daemon/helpers.ts';
import { now } from './config.ts';
import { alive, nodes } from './nodes.ts';
import { tracked } from './tracking.ts';

export interface Sample {
  t: number;
  rssMiB: (number | null)[];
  slots: (number | null)[];
  sendQueueBytes: (number | null)[];
  live: number;
}

export const samples: Sample[] = [];

async function rssMiB(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(text);
    return m === null ? null : Number(m[1]) / 1024;
  } catch {
    return null;
  }
}

function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

export async function sample(): Promise<void> {
  const rss: (number | null)[] = [];
  const slots: (number | null)[] = [];
  const queued: (number | null)[] = [];
  for (const n of nodes) {
    if (!alive(n)) {
      rss.push(null);
      slots.push(null);
      queued.push(null);
      continue;
    }
    rss.push(await rssMiB(n.daemon!.child.pid));
    try {
      const text = await (await apiFetch(`${n.api}/metrics`)).text();
      slots.push(metricSum(text, 'subnet_p2p_broadcast_slots'));
      queued.push(metricSum(text, 'subnet_p2p_transport_send_queue_bytes'));
    } catch {
      slots.push(null);
      queued.push(null);
    }
  }
  samples.push({ t: now(), rssMiB: rss, slots, sendQueueBytes: queued, live: tracked.size });
}
