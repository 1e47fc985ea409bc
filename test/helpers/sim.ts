/** Helpers for deterministic tests of the broadcast core on the simulated network. */
import assert from 'node:assert/strict';
import type { ArtifactId, ChannelConfig, DownloadLimits } from '../../src/broadcast/index.ts';
import { main } from '../../src/cli/main.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { simNodeIds } from '../../src/sim/ids.ts';
import { SimNetwork } from '../../src/sim/network.ts';
import { Lane } from '../../src/transport/index.ts';

export const CHANNELS: Record<string, Partial<ChannelConfig>> = {
  consensus: { lane: Lane.high },
  ingress: { lane: Lane.bulk },
};

/** A simulated subnet of `n` nodes in a full mesh. */
export function simSubnet(
  n: number,
  opts: {
    seed: number;
    channels?: Record<string, Partial<ChannelConfig>>;
    downloads?: Partial<DownloadLimits>;
    mesh?: boolean;
    /** One-way latency range, ms (default the simulator's). */
    latencyMs?: [number, number];
  },
): { net: SimNetwork; ids: NodeId[] } {
  const net = new SimNetwork({
    seed: opts.seed,
    channels: opts.channels ?? CHANNELS,
    downloads: opts.downloads,
    ...(opts.latencyMs ? { latencyMs: opts.latencyMs } : {}),
  });
  const ids = simNodeIds(n, net.rng);
  for (const id of ids) net.addNode(id);
  if (opts.mesh !== false) net.fullMesh();
  return { net, ids };
}

/** An artifact broadcast in a test: where it lives and who must get it. */
export interface Sent {
  channel: string;
  id: ArtifactId;
  origin: NodeId;
}

/** Whether every live node holds every artifact of `sent`. */
export function allHold(
  net: SimNetwork,
  sent: readonly Sent[],
  nodes: readonly NodeId[] = net.nodes().map((n) => n.id),
): boolean {
  return nodes.every((id) => {
    const node = net.node(id);
    return sent.every((s) => node.core.get(s.channel, s.id) !== undefined);
  });
}

/** Broadcasts `count` random artifacts of `size` bytes from `origin` on `channel`. */
export function broadcastRandom(
  net: SimNetwork,
  origin: NodeId,
  channel: string,
  count: number,
  size: number,
): Sent[] {
  const out: Sent[] = [];
  for (let i = 0; i < count; i++) {
    out.push({ channel, origin, id: net.broadcast(origin, channel, net.rng.bytes(size)) });
  }
  return out;
}

/** Total downloads that fetched an artifact the node already held. */
export function duplicateDownloads(net: SimNetwork): number {
  return net.nodes().reduce((sum, n) => sum + n.observer.get('duplicate_downloads'), 0);
}

/** Runs `subnet-p2p sim ARGS` in this process; its exit code and what it printed. */
export async function simCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'subnet-p2p', 'sim', ...args], {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

/** A `sim --json` output without its wall time (the one figure a seed does not fix). */
export function withoutWall(json: string): Record<string, unknown> {
  const r = JSON.parse(json) as Record<string, unknown>;
  assert.equal(typeof r.wallMs, 'number');
  delete r.wallMs;
  return r;
}
