// Peers compare a digest of their channel configuration, carried in the transport Hello: a
// mismatch is logged once per link at both ends, counted, and shown per peer; the same
// configuration is not counted; a peer whose Hello carries no digest is "unknown".
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type ChannelConfig, DEFAULT_CHUNKING, resolveChannel } from '../../src/broadcast/index.ts';
import { ConfigError } from '../../src/errors.ts';
import {
  CHANNEL_DIGEST_BYTES,
  channelConfigCanonical,
  channelConfigDigest,
  mergeNodeChannels,
  type NodeOptions,
} from '../../src/node/index.ts';
import { InMemoryRegistryClient } from '../../src/registry/index.ts';
import { FLAG_END, FLAG_START } from '../../src/transport/frame.ts';
import { createTransport, Lane } from '../../src/transport/index.ts';
import { encodeWire, PROTOCOL_VERSION } from '../../src/transport/messages.ts';
import {
  launchNodes,
  NodeGroup,
  publishAndLink,
  SUBNET,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { frame, rawConnect } from '../helpers/raw-peer.ts';
import {
  identities,
  metricValue,
  nextEvent,
  publish,
  registryDoc,
  startNode,
  type TestNode,
} from '../helpers/subnet.ts';

const MIB = 1024 * 1024;
const MISMATCHES = 'subnet_p2p_node_channel_config_mismatch_total';
const MISMATCHED_PEERS = 'subnet_p2p_node_channel_config_mismatched_peers';

/** The channels a node runs with `given` merged over the defaults, resolved. */
function resolved(given: Record<string, Partial<ChannelConfig> | null> = {}) {
  const merged = mergeNodeChannels(given);
  return new Map(Object.entries(merged).map(([name, c]) => [name, resolveChannel(name, c)]));
}

const digestOf = (given: Record<string, Partial<ChannelConfig> | null> = {}) =>
  Buffer.from(channelConfigDigest(resolved(given))).toString('hex');

describe('the channel-config digest', () => {
  it('covers name, lane, maxArtifactBytes, relay and chunking; not the local policy', () => {
    const base = digestOf();
    assert.equal(base.length, CHANNEL_DIGEST_BYTES * 2);
    assert.equal(base, '3ca58bc3f7da7534be14836415568da3', 'the default channels, as documented');
    // Local policy: capacity, retention, the sender's push threshold, the hooks.
    for (const local of [
      { maxSlots: 5 },
      { maxBytes: 64 * MIB },
      { maxAgeMs: 1000 },
      { peerShare: 1 },
      { pushThresholdBytes: 0 },
      { priority: () => ({ fetch: 3 }) },
    ]) {
      assert.equal(digestOf({ ingress: local }), base, JSON.stringify(Object.keys(local)));
    }
    // What peers must agree on.
    const agreed: Record<string, Partial<ChannelConfig> | null>[] = [
      { ingress: { maxArtifactBytes: 8 * MIB } },
      { ingress: { lane: Lane.high } },
      { ingress: { relay: 'origin-only' } },
      { ingress: { chunking: undefined } },
      { ingress: { chunking: { ...DEFAULT_CHUNKING, chunkBytes: 512 * 1024 } } },
      { ingress: null },
      { blocks: {} },
    ];
    const digests = new Set([base, ...agreed.map((g) => digestOf(g))]);
    assert.equal(digests.size, agreed.length + 1, 'every change makes another digest');
    // The canonical form, as docs/protocol.md gives it.
    assert.equal(
      channelConfigCanonical(resolved({ consensus: null, ingress: { chunking: undefined } })),
      '{"channels":[{"chunking":null,"lane":"bulk","maxArtifactBytes":4194304,"name":"ingress","relay":"relay"}],"v":1}',
    );
  });
});

describe('peers with different channel configurations', () => {
  const group = new NodeGroup();
  const logs: Record<string, unknown>[][] = [[], [], []];
  let nodes: TestBroadcastNode[];

  before(async () => {
    // Nodes 0 and 1 run the defaults; node 2 allows 8 MiB on ingress (a rolling change).
    nodes = await launchNodes(
      group,
      3,
      (i): Partial<NodeOptions> => ({
        channels: i === 2 ? { ingress: { maxArtifactBytes: 8 * MIB } } : {},
        logger: pino(
          { level: 'debug' },
          { write: (line: string) => void logs[i]!.push(JSON.parse(line)) },
        ),
      }),
    );
    await publishAndLink(nodes, (x) => x.address);
  });
  after(() => group.stop());

  const id = (i: number) => nodes[i]!.node.nodeId;
  const mismatchLogs = (i: number) =>
    logs[i]!.filter((l) => l.level === 40 && /channel configuration differs/.test(String(l.msg)));

  it('a mismatch is counted, logged once per link at both ends, and shown per peer', async () => {
    const [a, b, c] = nodes.map((n) => n.node) as [
      TestBroadcastNode['node'],
      TestBroadcastNode['node'],
      TestBroadcastNode['node'],
    ];
    for (const [node, i] of [
      [a, 0],
      [b, 1],
    ] as const) {
      assert.equal(await metricValue(node.metrics, MISMATCHES, { peer: id(2) }), 1);
      assert.equal(await metricValue(node.metrics, MISMATCHES), 1, 'only the peer that differs');
      assert.equal(await metricValue(node.metrics, MISMATCHED_PEERS), 1);
      assert.equal(node.channelConfigOf(id(2)), 'different');
      assert.equal(node.channelConfigOf(id(1 - i)), 'same');
      const lines = mismatchLogs(i);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0]!.peer, id(2));
      assert.equal(lines[0]!.ours, node.channelConfigDigest);
      assert.equal(lines[0]!.theirs, c.channelConfigDigest);
    }
    assert.equal(await metricValue(c.metrics, MISMATCHES, { peer: id(0) }), 1);
    assert.equal(await metricValue(c.metrics, MISMATCHES, { peer: id(1) }), 1);
    assert.equal(await metricValue(c.metrics, MISMATCHED_PEERS), 2);
    assert.deepEqual(
      mismatchLogs(2)
        .map((l) => l.peer)
        .sort(),
      [id(0), id(1)].sort(),
    );
    assert.notEqual(a.channelConfigDigest, c.channelConfigDigest);
    assert.equal(a.channelConfigDigest, b.channelConfigDigest);
  });

  it('the peer leaving takes it out of the gauge; its next link up is counted again', async () => {
    const c = nodes[2]!;
    const a = nodes[0]!.node;
    const down = nextEvent(a.transport, (e) => e.type === 'peer-down' && e.peer === id(2));
    // Node 2 leaves the registry of node 0: the link closes.
    const version = nodes[0]!.registry.current()!.version;
    const members = (n: number) =>
      nodes.slice(0, n).map((x) => ({ subnet: SUBNET, identity: x.identity, address: x.address }));
    assert.ok(nodes[0]!.registry.publish(registryDoc(members(2), version + 1)).adopted);
    await down;
    assert.equal(a.channelConfigOf(id(2)), 'unknown');
    assert.equal(await metricValue(a.metrics, MISMATCHED_PEERS), 0);
    // Back in: one more link up, one more mismatch counted and logged.
    const up = nextEvent(a.transport, (e) => e.type === 'peer-up' && e.peer === id(2));
    assert.ok(nodes[0]!.registry.publish(registryDoc(members(3), version + 2)).adopted);
    await up;
    assert.equal(await metricValue(a.metrics, MISMATCHES, { peer: id(2) }), 2);
    assert.equal(await metricValue(a.metrics, MISMATCHED_PEERS), 1);
    assert.equal(mismatchLogs(0).length, 2);
    assert.equal(a.channelConfigOf(c.node.nodeId), 'different');
  });
});

describe('a peer whose Hello carries no digest', () => {
  const group = new NodeGroup();
  let bare: TestNode;
  let node: TestBroadcastNode;

  before(async () => {
    node = (await launchNodes(group, 1))[0]!;
    const [identity] = await identities(1);
    bare = await startNode(identity!, SUBNET); // a transport given no digest
  });
  after(async () => {
    await Promise.all([group.stop(), bare.transport.stop()]);
  });

  it('is unknown, not a mismatch; the transport carries the digest it is given', async () => {
    const doc = registryDoc([
      { subnet: SUBNET, identity: node!.identity, address: node!.address },
      { subnet: SUBNET, identity: bare.identity, address: bare.address },
    ]);
    const nodeUp = nextEvent(
      node!.node.transport,
      (e) => e.type === 'peer-up' && e.peer === bare.identity.nodeId,
    );
    const bareUp = nextEvent(
      bare.transport,
      (e) => e.type === 'peer-up' && e.peer === node!.identity.nodeId,
    );
    node!.registry.publish(doc);
    publish([bare], doc);
    const [fromBare, fromNode] = await Promise.all([nodeUp, bareUp]);
    assert.equal(fromBare.type === 'peer-up' && fromBare.appDigest, undefined);
    assert.equal(
      fromNode.type === 'peer-up' && Buffer.from(fromNode.appDigest!).toString('hex'),
      node!.node.channelConfigDigest,
    );
    const peer = bare.transport.peers().find((p) => p.nodeId === node!.identity.nodeId);
    assert.equal(Buffer.from(peer!.appDigest!).toString('hex'), node!.node.channelConfigDigest);
    assert.equal(node!.node.channelConfigOf(bare.identity.nodeId), 'unknown');
    assert.equal(await metricValue(node!.node.metrics, MISMATCHES), 0);
    assert.equal(await metricValue(node!.node.metrics, MISMATCHED_PEERS), 0);
  });
});

describe('the Hello digest is bounded (64 bytes)', () => {
  it('a transport refuses a longer one; a peer sending one gets bad_hello', async () => {
    const [raw, identity] = await identities(2); // raw dials: the lower NodeId
    assert.throws(
      () =>
        createTransport({
          identity: identity!,
          registry: new InMemoryRegistryClient(),
          subnet: SUBNET,
          appDigest: new Uint8Array(65),
        }),
      (err: unknown) => err instanceof ConfigError && err.field === 'appDigest',
    );
    const t = await startNode(identity!, SUBNET);
    try {
      publish(
        [t],
        registryDoc([
          { subnet: SUBNET, identity: raw!, address: '127.0.0.1:9' },
          { subnet: SUBNET, identity: t.identity, address: t.address },
        ]),
      );
      const refused = nextEvent(t.transport, (e) => e.type === 'refused');
      const error = nextEvent(t.transport, (e) => e.type === 'protocol-error');
      const socket = await rawConnect(t.address, raw!);
      const hello = (appDigest: Uint8Array) =>
        frame(
          0,
          FLAG_START | FLAG_END,
          encodeWire({
            kind: 'hello',
            hello: {
              protocolVersion: PROTOCOL_VERSION,
              nodeId: raw!.nodeId,
              subnet: SUBNET,
              registryVersion: 0,
              bulkWindow: 0,
              appDigest: appDigest as Uint8Array<ArrayBuffer>,
            },
          }),
        );
      socket.write(hello(new Uint8Array(65)));
      const e = await refused;
      assert.equal(e.type === 'refused' && e.reason, 'bad_hello');
      const err = await error;
      assert.equal(err.type === 'protocol-error' && err.reason, 'bad_hello');
      assert.match(err.type === 'protocol-error' ? err.message : '', /65 bytes, more than 64/);
      socket.destroy();
      // 64 bytes is fine.
      const up = nextEvent(t.transport, (e) => e.type === 'peer-up' && e.peer === raw!.nodeId);
      const ok = await rawConnect(t.address, raw!);
      ok.write(hello(new Uint8Array(64).fill(7)));
      const u = await up;
      assert.equal(u.type === 'peer-up' && u.appDigest?.length, 64);
      ok.destroy();
    } finally {
      await t.transport.stop();
    }
  });
});
