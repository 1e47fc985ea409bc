import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeId } from '../../src/identity/index.ts';
import { SimNetwork, simNodeIds } from '../../src/sim/index.ts';
import { FRAME_HEADER_BYTES, Lane } from '../../src/transport/index.ts';

const MB = 1_000_000;

function pair(bandwidth: number, latency = 50) {
  const net = new SimNetwork({
    seed: 5,
    latencyMs: [latency, latency],
    channels: {
      consensus: { lane: Lane.high, priority: () => ({ fetch: 1 }) },
      ingress: { lane: Lane.bulk },
    },
    bandwidth: { uploadBytesPerSec: bandwidth, downloadBytesPerSec: bandwidth },
  });
  const [a, b] = simNodeIds(2, net.rng) as [NodeId, NodeId];
  net.addNode(a);
  net.addNode(b);
  net.topology();
  return { net, a, b };
}

describe('bandwidth model', () => {
  it('an advertised artifact arrives after 1.5 RTT plus its time on the wire', () => {
    const { net, a, b } = pair(10 * MB);
    const size = 2 * 1024 * 1024;
    const id = net.broadcast(a, 'ingress', net.rng.bytes(size));
    assert.ok(net.run({ until: () => net.node(b).core.get('ingress', id) !== undefined }));
    const at = net.node(b).deliveries.get(`ingress:${id}`)!.at;
    // Advert (50 ms), request (50 ms), response (50 ms + upload + download of 2 MiB at
    // 10 MB/s; pipelined frame by frame, so little more than one of them). On a new link the
    // bulk window starts at 64 KiB and doubles per round trip (slow start): 64 + 128 + ... +
    // 1024 KiB go in the first five round trips, so at most five of them (100 ms) are added.
    const wire = ((size * (1 + FRAME_HEADER_BYTES / 65536)) / (10 * MB)) * 1000;
    assert.ok(at > 150 + wire, `${at} ms`);
    assert.ok(at < 150 + wire * 1.1 + 5 * 100 + 5, `${at} ms`);
    // Every byte is counted on the wire, once (plus adverts and the request).
    const total = net.traffic.bytes.reduce((x, y) => x + y, 0);
    assert.ok(total > size && total < size * 1.01, `${total} wire bytes`);
  });

  it('the bulk window limits a link to about window / RTT', () => {
    // 1 Gbit/s, 100 ms RTT, 2 MiB window (one neighbour): at most ~21 MB/s, not 125.
    const { net, a, b } = pair(125 * MB);
    const id = net.broadcast(a, 'ingress', net.rng.bytes(4 * 1024 * 1024));
    assert.ok(net.run({ until: () => net.node(b).core.get('ingress', id) !== undefined }));
    const at = net.node(b).deliveries.get(`ingress:${id}`)!.at;
    // 4 MiB at 125 MB/s would take 34 ms; the window makes it two round trips more at least.
    assert.ok(at > 150 + 150, `${at} ms`);
  });

  it('a pushed consensus artifact overtakes queued bulk data on the same link', () => {
    const { net, a, b } = pair(10 * MB);
    const bulk = net.broadcast(a, 'ingress', net.rng.bytes(4 * 1024 * 1024));
    // Let the fetch of the bulk artifact start and its response fill the pipe.
    net.run({ maxTime: 200 });
    const sentAt = net.now;
    const small = net.broadcast(a, 'consensus', net.rng.bytes(500));
    assert.ok(net.run({ until: () => net.node(b).core.get('consensus', small) !== undefined }));
    const smallAt = net.node(b).deliveries.get(`consensus:${small}`)!.at - sentAt;
    // Behind at most the socket buffer (128 KiB) and the bulk window in the downlink (2 MiB)
    // at 10 MB/s: well under the ~420 ms the 4 MiB would take.
    assert.ok(smallAt < 50 + 250, `${smallAt} ms`);
    assert.ok(net.run({ until: () => net.node(b).core.get('ingress', bulk) !== undefined }));
    assert.ok(net.node(b).deliveries.get(`ingress:${bulk}`)!.at > sentAt + smallAt);
  });

  it('a node uploading to many peers shares its upload among them', () => {
    const net = new SimNetwork({
      seed: 9,
      latencyMs: [20, 20],
      channels: { ingress: { lane: Lane.bulk } },
      bandwidth: { uploadBytesPerSec: 10 * MB, downloadBytesPerSec: 1000 * MB },
    });
    const ids = simNodeIds(5, net.rng);
    for (const id of ids) net.addNode(id);
    net.topology();
    // Only the origin holds it at first; four peers fetch 1 MiB each from it (relays help later).
    const id = net.broadcast(ids[0]!, 'ingress', net.rng.bytes(1024 * 1024));
    assert.ok(net.run({ until: () => ids.every((n) => net.node(n).core.get('ingress', id)) }));
    const times = ids.slice(1).map((n) => net.node(n).deliveries.get(`ingress:${id}`)!.at);
    // One copy alone takes 105 ms at 10 MB/s; four at once share the upload: the first
    // finishes later than one copy alone would.
    assert.ok(Math.min(...times) > 60 + 105 * 1.5, `${times}`);
  });

  it('without bandwidth the network behaves as before (latency only)', () => {
    const net = new SimNetwork({
      seed: 3,
      latencyMs: [40, 40],
      channels: { ingress: { lane: Lane.bulk } },
    });
    const ids = simNodeIds(2, net.rng);
    for (const id of ids) net.addNode(id);
    net.fullMesh();
    const id = net.broadcast(ids[0]!, 'ingress', net.rng.bytes(3 * 1024 * 1024));
    assert.ok(net.run({ until: () => net.node(ids[1]!).core.get('ingress', id) !== undefined }));
    assert.equal(net.node(ids[1]!).deliveries.get(`ingress:${id}`)!.at, 120);
    assert.ok(net.traffic.bytes[Lane.bulk] > 3 * 1024 * 1024);
  });
});
