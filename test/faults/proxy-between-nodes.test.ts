/**
 * Faults on the wire between real nodes: a FaultProxy sits in front of the highest node of a
 * three-node subnet, so every link of that node goes through it. Under each fault (delay,
 * throughput limit, dropped connections, black hole, reset in the middle of a frame, a flipped
 * byte) every artifact broadcast by the other nodes still reaches it, byte for byte; links that
 * the fault broke come back by themselves; links that do not cross the proxy are untouched.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { ArtifactId } from '../../src/broadcast/index.ts';
import type { TransportEvent } from '../../src/transport/index.ts';
import type { DirectionFaults, FaultProxy } from '../helpers/fault-proxy.ts';
import {
  NodeGroup,
  randomBytes,
  readUntil,
  sameBytes,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { startProxiedNodes } from '../helpers/proxied-nodes.ts';
import { slow } from '../helpers/slowdown.ts';
import { nextEvent } from '../helpers/subnet.ts';

const N = 3;
const BEHIND = N - 1; // the node behind the proxy: every other node dials it through the proxy

let group: NodeGroup;
let proxies: Map<number, FaultProxy>;

afterEach(async () => {
  await group.stop();
  await Promise.all([...proxies.values()].map((p) => p.close()));
});

async function subnet(): Promise<{ nodes: TestBroadcastNode[]; proxy: FaultProxy }> {
  group = new NodeGroup();
  proxies = new Map();
  const nodes = await startProxiedNodes(group, proxies, N, [BEHIND]);
  return { nodes, proxy: proxies.get(BEHIND)! };
}

interface Sent {
  channel: 'consensus' | 'ingress';
  bytes: Uint8Array;
}

/** Node 0 broadcasts `consensus` small and `ingress` large artifacts; returns them by id. */
function broadcast(
  node: TestBroadcastNode,
  consensus: number,
  ingress: number,
  ingressBytes: number,
): Map<ArtifactId, Sent> {
  const sent = new Map<ArtifactId, Sent>();
  for (let i = 0; i < consensus; i++) {
    const bytes = randomBytes(300);
    sent.set(node.node.channel('consensus').broadcast(bytes), { channel: 'consensus', bytes });
  }
  for (let i = 0; i < ingress; i++) {
    const bytes = randomBytes(ingressBytes);
    sent.set(node.node.channel('ingress').broadcast(bytes), { channel: 'ingress', bytes });
  }
  return sent;
}

/** Resolves when `node` has received every artifact of `sent`, checking each byte for byte. */
async function receivesAll(
  node: TestBroadcastNode,
  streams: Record<
    'consensus' | 'ingress',
    AsyncIterator<import('../../src/broadcast/index.ts').DeliveredArtifact>
  >,
  sent: Map<ArtifactId, Sent>,
  allowedErrors: string[] = [],
): Promise<void> {
  for (const channel of ['consensus', 'ingress'] as const) {
    const want = [...sent].filter(([, s]) => s.channel === channel);
    const seen = await readUntil(streams[channel], (got) => got.length >= want.length);
    for (const a of seen) {
      const s = sent.get(a.id);
      assert.ok(s, `unexpected artifact ${a.id}`);
      assert.ok(sameBytes(a.bytes, s.bytes), `artifact ${a.id} differs`);
    }
    assert.deepEqual(new Set(seen.map((a) => a.id)), new Set(want.map(([id]) => id)));
  }
  // Whatever the fault did, no corrupted frame reached the decoder: the only protocol errors
  // allowed are those the fault explains (a connection cut inside a frame is `truncated`).
  const errors = await node.node.metrics
    .getSingleMetric('subnet_p2p_transport_protocol_errors_total')!
    .get();
  for (const v of errors.values) {
    if (v.value > 0)
      assert.ok(allowedErrors.includes(String(v.labels.reason)), String(v.labels.reason));
  }
}

function streamsOf(node: TestBroadcastNode) {
  return {
    consensus: node.node.channel('consensus').received(),
    ingress: node.node.channel('ingress').received(),
  };
}

/** Records the transport events of `node`. */
function record(node: TestBroadcastNode): TransportEvent[] {
  const events: TransportEvent[] = [];
  node.node.transport.subscribe((e) => events.push(e));
  return events;
}

describe('faults between nodes (FaultProxy in front of one node)', () => {
  it('added delay: everything arrives, later than the delay, and no link drops', {
    timeout: slow(30_000),
  }, async () => {
    const { nodes, proxy } = await subnet();
    const target = nodes[BEHIND]!;
    const events = record(target);
    const streams = streamsOf(target);
    proxy.set('both', { delayMs: 60 });
    const t0 = performance.now();
    const sent = broadcast(nodes[0]!, 5, 2, 200_000);
    const first = await streams.consensus.next();
    assert.ok(performance.now() - t0 >= 60, 'an artifact crossed the proxy faster than its delay');
    const rest = { consensus: streams.consensus, ingress: streams.ingress };
    sent.delete(first.value!.id);
    await receivesAll(target, rest, sent);
    assert.ok(proxy.stats.forwarded.toTarget > 400_000);
    assert.equal(events.filter((e) => e.type === 'peer-down').length, 0);
  });

  it('throughput limit: a 512 KiB artifact takes at least size / rate, and arrives whole', {
    timeout: slow(30_000),
  }, async () => {
    const { nodes, proxy } = await subnet();
    const target = nodes[BEHIND]!;
    const events = record(target);
    const streams = streamsOf(target);
    const rate = 1_000_000; // bytes/s, per connection and direction
    proxy.set('both', { bytesPerSec: rate });
    const t0 = performance.now();
    const sent = broadcast(nodes[0]!, 3, 1, 512 * 1024);
    await receivesAll(target, streams, sent);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 0.9 * ((512 * 1024) / rate) * 1000, `took only ${elapsed} ms`);
    assert.equal(events.filter((e) => e.type === 'peer-down').length, 0);
  });

  it('dropped connections in the middle of a transfer: links come back, nothing is lost', {
    timeout: slow(30_000),
  }, async () => {
    const { nodes, proxy } = await subnet();
    const target = nodes[BEHIND]!;
    const streams = streamsOf(target);
    const link01 = nodes[0]!.node.transport.connId(nodes[1]!.identity.nodeId);
    proxy.set('both', { bytesPerSec: 4_000_000 });
    const sent = broadcast(nodes[0]!, 5, 2, 1024 * 1024);
    await proxy.whenForwarded('toTarget', 256 * 1024);
    const down = nextEvent(target.node.transport, (e) => e.type === 'peer-down');
    proxy.dropConnections();
    await down;
    proxy.heal();
    // The proxy closed the TCP connections without a TLS close_notify: a receiver inside a frame
    // sees its peer's stream end there, which it counts as `truncated`.
    await receivesAll(target, streams, sent, ['truncated']);
    assert.ok(proxy.stats.dropped >= 1);
    assert.ok(proxy.stats.accepted >= 2 * (N - 1), 'the links were not dialled again');
    // The link that does not cross the proxy was never touched.
    assert.equal(nodes[0]!.node.transport.connId(nodes[1]!.identity.nodeId), link01);
  });

  it('black hole (accepts, never forwards): links die by idle timeout, redials vanish, all arrives once healed', {
    // Waits on events only; the bound is a guard. It took over 30 s once on a machine with a
    // load average of 25 (other benchmarks running), and 2 s when quiet.
    timeout: slow(90_000),
  }, async (t) => {
    const { nodes, proxy } = await subnet();
    const target = nodes[BEHIND]!;
    const streams = streamsOf(target);
    const dialer = nodes[0]!.node.transport;
    proxy.set('both', { blackHole: true });
    // Either end of a proxied link may time out first: both send keepalives into the hole, and
    // the end that gives up closes the proxy's other socket, so the other end then sees a plain
    // close, not an idle timeout. Waiting on the target alone hung once in CI (90 s) when a
    // dialer's timer fired first.
    const behind = target.identity.nodeId;
    const idle = Promise.race([
      nextEvent(
        target.node.transport,
        (e) => e.type === 'peer-down' && e.reason === 'idle_timeout',
      ),
      ...nodes
        .filter((n) => n !== target)
        .map((n) =>
          nextEvent(
            n.node.transport,
            (e) => e.type === 'peer-down' && e.reason === 'idle_timeout' && e.peer === behind,
          ),
        ),
    ]);
    const sent = broadcast(nodes[0]!, 5, 1, 100_000);
    await idle;
    t.diagnostic('a link through the black hole died by idle timeout');
    // A redial into the black hole fails too (the TLS handshake never completes).
    const acceptedBefore = proxy.stats.accepted;
    await nextEvent(
      dialer,
      (e) => e.type === 'dial-retry' && e.peer === target.identity.nodeId && e.attempt >= 2,
    );
    assert.ok(proxy.stats.accepted > acceptedBefore, 'no redial reached the black hole');
    assert.ok(proxy.stats.discarded.toTarget > 0);
    t.diagnostic('a redial vanished into the black hole');
    proxy.heal();
    await receivesAll(target, streams, sent);
  });

  /**
   * A one-shot fault toward the node behind the proxy, during a transfer of `size` bytes: the
   * link goes down, comes back, and everything arrives. Returns how the link closed.
   * `allowedErrors`: the protocol errors the fault explains.
   */
  async function oneShotFault(
    fault: DirectionFaults,
    size: number,
    counted: 'resets' | 'flipped',
    allowedErrors: string[] = [],
  ): Promise<string> {
    const { nodes, proxy } = await subnet();
    const target = nodes[BEHIND]!;
    const streams = streamsOf(target);
    const cut = nextEvent(target.node.transport, (e) => e.type === 'peer-down');
    const back = nextEvent(target.node.transport, (e) => e.type === 'peer-up');
    proxy.set('toTarget', fault);
    const sent = broadcast(nodes[0]!, 3, 1, size);
    await receivesAll(target, streams, sent, allowedErrors);
    assert.equal(proxy.stats[counted], 1);
    const down = await cut;
    await back;
    return down.type === 'peer-down' ? down.reason : down.type;
  }

  it('reset in the middle of a frame: the link is re-established and the artifact arrives whole', {
    timeout: slow(30_000),
  }, async () => {
    // 1 MiB goes as sixteen 64 KiB frames: 300 000 bytes in is inside one of them.
    // The reset shows as ECONNRESET (socket_error), or, if the kernel delivered the stream's
    // end before the reset, as a stream ending inside a frame (truncated): under load, either;
    // so a `truncated` protocol error is the fault's, not a corrupted frame's (CI once failed so).
    const reason = await oneShotFault({ resetAfterBytes: 300_000 }, 1024 * 1024, 'resets', [
      'truncated',
    ]);
    // (The link names the latter `protocol_error:truncated`.)
    assert.ok(['socket_error', 'protocol_error:truncated'].includes(reason), `closed as ${reason}`);
  });

  it('a flipped byte: TLS rejects the record, the link is re-established, delivery completes', {
    timeout: slow(30_000),
  }, async () => {
    const reason = await oneShotFault({ flipAfterBytes: 50_000 }, 512 * 1024, 'flipped');
    // The corrupted record closed the link at the TLS layer (a socket error), never as frames.
    assert.equal(reason, 'socket_error');
  });
});
