/**
 * A registered member (valid identity, speaking the wire protocol by hand) that advertises
 * chunked artifacts of its own invention on `ingress` and serves their manifests, but answers
 * requests for their chunks `missing`, with wrong bytes, or not at all. Its fakes take every
 * chunked download place first; then an honest node broadcasts two 2 MiB artifacts. Both reach
 * every honest node byte for byte, and the liar is counted in
 * `subnet_p2p_broadcast_peer_faults_total` with its NodeId (docs/protocol.md, Chunked
 * artifacts, Bounds; docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { randomBytes as cryptoRandomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  type ArtifactId,
  encodeManifest,
  FetchRequest,
  FetchResponse,
  manifestId,
} from '../../src/broadcast/index.ts';
import type { NodeIdentity } from '../../src/identity/index.ts';
import { Lane } from '../../src/transport/index.ts';
import { honestNodesAndAdversary, memoryAfterGc } from '../helpers/adversary.ts';
import {
  metricValue,
  NodeGroup,
  randomBytes,
  readUntil,
  SUBNET,
  type TestBroadcastNode,
} from '../helpers/nodes.ts';
import { slow } from '../helpers/slowdown.ts';
import { linkUp, nextEvent } from '../helpers/subnet.ts';
import { WirePeer } from '../helpers/wire-peer.ts';

const HONEST = 3;
const MiB = 1024 * 1024;
/**
 * What one attack may leave behind, after a full GC, in this process (every honest node): per
 * node its two honest 2 MiB artifacts in the in-memory chunk store, and at most
 * `maxChunksInFlight` (16) chunks of 1 MiB in flight or being written; plus 64 MiB of slack.
 * The fakes' places are bounded per channel, so their chunks never pile up.
 */
const MEMORY_GROWTH_BOUND = 3 * (4 * MiB + 16 * MiB) + 64 * MiB;
/** Fake adverts per attack: twice the places of a channel (maxChunkedDownloads, 4). */
const FAKES = 8;
/**
 * Small timings: a chunk fetch's deadline is 300 ms + 1 MiB at 1 MB/s, about 1.35 s. A fake
 * stalls well after that (4 s), so its unanswered fetches time out, and are counted, before it
 * yields its place (at 1.5 s, a loaded machine sometimes evicted it first: nothing counted).
 */
const DOWNLOADS = {
  downloadTimeoutMs: 300,
  retryBaseMs: 50,
  retryMaxMs: 400,
  chunkOwnerSilenceMs: 300,
  chunkStallMs: 4000,
};

const group = new NodeGroup();
let honest: TestBroadcastNode[];
let adversary: NodeIdentity;

before(async () => {
  ({ adversary, honest } = await honestNodesAndAdversary(group, HONEST, {
    channels: {
      consensus: { lane: Lane.high, pushThresholdBytes: 1024 },
      ingress: { lane: Lane.bulk }, // chunked above 1 MiB, in 1 MiB chunks (the defaults)
    },
    downloads: DOWNLOADS,
  }));
});
after(() => group.stop());

type Lie = 'missing' | 'wrong' | 'silent';

const MISSING = FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
const response = (bytes: Uint8Array) =>
  FetchResponse.encode({ artifact: bytes as Uint8Array<ArrayBuffer>, missing: false });

/**
 * The liar connects to every honest node and advertises FAKES invented chunked artifacts of
 * 2 MiB (random chunk hashes) on `ingress`; it serves their manifests and answers their chunks
 * as `lie` says. Resolves once every honest node asked for every fake's manifest.
 */
async function attack(lie: Lie): Promise<{ peers: WirePeer[]; fakes: ArtifactId[] }> {
  const manifests = new Map<string, Uint8Array>();
  const fakes = Array.from({ length: FAKES }, () => {
    const manifest = encodeManifest({
      chunkBytes: MiB,
      totalBytes: 2 * MiB,
      hashes: [cryptoRandomBytes(32), cryptoRandomBytes(32)],
    });
    manifests.set(manifestId(manifest), manifest);
    return manifest;
  });
  const peers = await Promise.all(
    honest.map(async (h) => {
      const up = linkUp(h.node.transport, adversary.nodeId);
      const peer = await WirePeer.connect(h.address, adversary, SUBNET);
      await up;
      const asked = new Set<string>();
      let allAsked: () => void = () => {};
      const done = new Promise<void>((resolve) => {
        allAsked = resolve;
      });
      peer.onRequest = (_lane, req) => {
        const r = FetchRequest.decode(req.body);
        const manifest = manifests.get(Buffer.from(r.id).toString('hex'));
        if (!manifest) return MISSING;
        if ((r.part ?? 0) === 0) {
          asked.add(Buffer.from(r.id).toString('hex'));
          if (asked.size === FAKES) allAsked();
          return response(manifest);
        }
        if (lie === 'missing') return MISSING;
        if (lie === 'wrong') return response(cryptoRandomBytes(MiB));
        return undefined; // never answers
      };
      peer.sendUpdates(
        'ingress',
        Lane.bulk,
        fakes.map((manifest, slot) => ({
          slot,
          commit: slot + 1,
          advert: {
            id: Buffer.from(manifestId(manifest), 'hex') as Uint8Array<ArrayBuffer>,
            size: 2 * MiB,
            attributes: new Uint8Array(0),
            pushed: false,
            manifestSize: manifest.length,
          },
          withdrawn: false,
        })),
      );
      // Its fakes are asked for (FAKES manifests: they take the places first, as they come).
      await done;
      return peer;
    }),
  );
  return { peers, fakes: fakes.map((m) => manifestId(m)) };
}

async function disconnectAll(peers: WirePeer[]): Promise<void> {
  await Promise.all(
    peers.map(async (p, i) => {
      const h = honest[i]!;
      const down = nextEvent(
        h.node.transport,
        (e) => e.type === 'peer-down' && e.peer === adversary.nodeId,
      );
      p.close();
      await down;
    }),
  );
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

/** Honest node 0 broadcasts two 2 MiB artifacts on `ingress`; every other one gets both. */
async function honestLargeRound(): Promise<void> {
  const receivers = honest.slice(1);
  const streams = receivers.map((h) => h.node.channel('ingress').received());
  const sent = new Map<ArtifactId, Uint8Array>();
  for (let i = 0; i < 2; i++) {
    const bytes = randomBytes(2 * MiB);
    sent.set(honest[0]!.node.channel('ingress').broadcast(bytes), bytes);
  }
  await Promise.all(
    receivers.map(async (h, k) => {
      const seen = await readUntil(streams[k]!, (got) =>
        [...sent.keys()].every((id) => got.some((a) => a.id === id)),
      );
      for (const a of seen) {
        const bytes = sent.get(a.id);
        assert.ok(bytes, `only honest artifacts are delivered (got ${a.id})`);
        assert.equal(a.chunked?.size, bytes.length);
        const got = await collect(h.node.channel('ingress').stream(a.id));
        assert.ok(got.equals(bytes), `artifact ${a.id} differs at ${h.identity.nodeId}`);
      }
      await streams[k]!.return?.();
    }),
  );
}

/** Resolves once the counter (for the adversary) at honest node `i` reaches `atLeast`. */
async function counted(
  i: number,
  name: string,
  labels: Record<string, string>,
  atLeast: number,
): Promise<void> {
  // Counters have no events: re-read every 10 ms until the condition holds, with a deadline so
  // that a failure is reported rather than hanging.
  const read = () =>
    metricValue(honest[i]!.node.metrics, name, { ...labels, peer: adversary.nodeId });
  const deadline = performance.now() + slow(20_000);
  while ((await read()) < atLeast) {
    if (performance.now() > deadline) {
      assert.fail(`${name} ${JSON.stringify(labels)} stayed below ${atLeast} at node ${i}`);
    }
    await new Promise<void>((resolve) => setTimeout(resolve, 10));
  }
}

const REASON: Record<Lie, string> = {
  missing: 'chunk_missing',
  wrong: 'bad_hash',
  silent: 'chunk_timeout',
};

describe('a member advertising fake chunked artifacts', () => {
  for (const [lie, what] of [
    ['missing', '`missing`'],
    ['wrong', 'with wrong bytes'],
    ['silent', 'not at all'],
  ] as const) {
    it(`answers their chunks ${what}: two honest 2 MiB artifacts still reach every honest node, and the liar is counted`, {
      timeout: slow(60_000),
    }, async () => {
      const before = memoryAfterGc();
      const { peers, fakes } = await attack(lie);
      await honestLargeRound();
      for (let i = 0; i < HONEST; i++) {
        await counted(i, 'subnet_p2p_broadcast_peer_faults_total', { reason: REASON[lie] }, 1);
      }
      for (const h of honest) {
        for (const id of fakes)
          assert.notEqual(h.node.channel('ingress').chunked(id)?.complete, true);
      }
      const after = memoryAfterGc();
      const growth = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
      assert.ok(growth <= MEMORY_GROWTH_BOUND, `memory grew by ${growth} bytes`);
      await disconnectAll(peers);
    });
  }
});
