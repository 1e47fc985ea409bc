/**
 * Broadcast cores wired by hand for deterministic tests of chunked artifacts: messages are
 * delivered at once, fetches and chunk-store writes wait in a queue and complete one at a time
 * in an order drawn from a seeded generator, and time advances `stepMs` (1 ms by default) per
 * completion (or to the next wake-up). Every fetch in progress is visible, so tests can check
 * the bounds at each step. A node may be made to answer as a test wants (`serve`), or not at
 * all (`ignores`: those fetches time out at their deadline).
 */

import { tokenOwner } from '../../src/broadcast/core/tokens.ts';
import {
  BroadcastCore,
  type ChannelConfig,
  type ChunkingConfig,
  CountingObserver,
  type DeliveredArtifact,
  type DownloadLimits,
  FetchResponse,
  InMemoryPool,
  resolveChannel,
  resolveDownloadLimits,
} from '../../src/broadcast/index.ts';
import type { ArtifactId } from '../../src/broadcast/types.ts';
import type { NodeId } from '../../src/identity/index.ts';
import { chunkArtifact } from '../../src/sim/chunks.ts';
import { simNodeIds } from '../../src/sim/ids.ts';
import { Rng } from '../../src/sim/rng.ts';
import { type ConnId, Lane, lengthDelimitedPrefix } from '../../src/transport/index.ts';

export const CHANNEL = 'big';
/** Whether a fetch is a chunk fetch (its token is tagged by the core's chunk fetches). */
export function isChunkFetch(f: { token: number }): boolean {
  return tokenOwner(f.token) === 'chunk';
}

export interface MeshNode {
  id: NodeId;
  core: BroadcastCore;
  observer: CountingObserver;
  /** The chunk store: per artifact, the chunks written. */
  store: Map<ArtifactId, Map<number, Uint8Array>>;
  delivered: DeliveredArtifact[];
  /** Serves chunks with a flipped byte when set. */
  corrupt: boolean;
  /** Chunk responses sent (how much it uploaded, in chunks). */
  chunksServed: number;
  /** Chunk responses sent, per node served. */
  servedTo: Map<NodeId, number>;
  wakeAt: number | undefined;
  /** Answers fetches itself when set (instead of its core and store). */
  serve: ((f: PendingFetch) => Uint8Array) | undefined;
  /** Fetches it never answers, when set: they time out at their deadline. */
  ignores: ((f: PendingFetch) => boolean) | undefined;
}

export interface PendingFetch {
  from: NodeId;
  to: NodeId;
  token: number;
  lane: Lane;
  body: Uint8Array;
  /** When it was asked, and its deadline after that, ms. */
  at: number;
  timeoutMs: number;
}

interface PendingWrite {
  node: NodeId;
  channel: string;
  id: ArtifactId;
  index: number;
  bytes: Uint8Array;
}

export class ChunkMesh {
  readonly rng: Rng;
  readonly nodes = new Map<NodeId, MeshNode>();
  readonly ids: NodeId[];
  fetches: PendingFetch[] = [];
  writes: PendingWrite[] = [];
  now = 0;
  /** How far time advances per completed fetch or write, ms (slow links: more). */
  readonly stepMs: number;
  /** Called after every step (to check bounds). */
  onStep: (() => void) | undefined;
  /** Connection ids after `reconnect`, by `at>peer` (1 until then). */
  readonly #conns = new Map<string, ConnId>();

  constructor(opts: {
    n: number;
    seed: number;
    chunking: Partial<ChunkingConfig>;
    channel?: Partial<ChannelConfig>;
    downloads?: Partial<DownloadLimits>;
    stepMs?: number;
    /** The channels, all configured alike (default: one, `CHANNEL`). */
    channels?: readonly string[];
  }) {
    this.rng = new Rng(opts.seed);
    this.stepMs = opts.stepMs ?? 1;
    this.ids = simNodeIds(opts.n, this.rng);
    const cfg = resolveChannel(CHANNEL, {
      lane: Lane.bulk,
      maxArtifactBytes: 1024 * 1024,
      ...opts.channel,
      chunking: opts.chunking as ChunkingConfig,
    });
    const names = opts.channels ?? [CHANNEL];
    for (const id of this.ids) {
      const observer = new CountingObserver();
      const core = new BroadcastCore({
        self: id,
        channels: new Map(names.map((name) => [name, cfg])),
        pools: new Map(names.map((name) => [name, new InMemoryPool()])),
        downloads: resolveDownloadLimits(opts.downloads),
        observer,
      });
      this.nodes.set(id, {
        id,
        core,
        observer,
        store: new Map(),
        delivered: [],
        corrupt: false,
        chunksServed: 0,
        servedTo: new Map(),
        wakeAt: undefined,
        serve: undefined,
        ignores: undefined,
      });
    }
  }

  node(id: NodeId): MeshNode {
    return this.nodes.get(id)!;
  }

  /** Links every pair. */
  fullMesh(): void {
    for (const a of this.ids) for (const b of this.ids) if (a !== b) this.link(a, b);
  }

  /** Node `a` sees its link to `b` up (connection id 1, or the one `reconnect` gave it). */
  link(a: NodeId, b: NodeId): void {
    this.node(a).core.peerUp(b, this.#connId(a, b), this.now);
  }

  /** The link between `a` and `b` goes down and comes back, with new connection ids. */
  reconnect(a: NodeId, b: NodeId): void {
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      const old = this.#connId(x, y);
      this.node(x).core.peerDown(y, old, this.now);
      this.#conns.set(`${x}>${y}`, (old + 1) as ConnId);
      this.link(x, y);
    }
  }

  /** The connection id by which node `at` knows its link to `peer`. */
  #connId(at: NodeId, peer: NodeId): ConnId {
    return this.#conns.get(`${at}>${peer}`) ?? (1 as ConnId);
  }

  /** Node `origin` holds `bytes` whole (in its store) and broadcasts them as chunks. */
  broadcast(origin: NodeId, bytes: Uint8Array, chunkBytes: number, channel = CHANNEL): ArtifactId {
    const { manifest, id, chunks } = chunkArtifact(bytes, chunkBytes);
    const node = this.node(origin);
    node.store.set(id, new Map(chunks.map((c, i) => [i, c])));
    node.core.addChunked(channel, id, manifest, new Uint8Array(0), this.now);
    return id;
  }

  /** The bytes node `id` holds of artifact `artifact`, in order (undefined if any is missing). */
  bytesOf(id: NodeId, artifact: ArtifactId, chunks: number): Buffer | undefined {
    const held = this.node(id).store.get(artifact);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < chunks; i++) {
      const c = held?.get(i);
      if (!c) return undefined;
      parts.push(c);
    }
    return Buffer.concat(parts);
  }

  /** Chunk fetches (and writes) in progress at `node`, in all and per peer. */
  inflight(node: NodeId): { total: number; perPeer: Map<NodeId, number> } {
    const perPeer = new Map<NodeId, number>();
    let total = this.writes.filter((w) => w.node === node).length;
    for (const f of this.fetches) {
      if (f.from !== node || !isChunkFetch(f)) continue;
      total++;
      perPeer.set(f.to, (perPeer.get(f.to) ?? 0) + 1);
    }
    return { total, perPeer };
  }

  /** Carries out every node's actions until none is left (messages are delivered at once). */
  settle(): void {
    for (let busy = true; busy; ) {
      busy = false;
      for (const node of this.nodes.values()) {
        const actions = node.core.takeActions();
        if (actions.length > 0) busy = true;
        for (const a of actions) this.#act(node, a);
      }
    }
  }

  #act(node: MeshNode, a: ReturnType<BroadcastCore['takeActions']>[number]): void {
    switch (a.type) {
      case 'send':
        this.node(a.peer).core.onUpdates(
          node.id,
          this.#connId(a.peer, node.id),
          a.lane,
          a.body,
          this.now,
        );
        return;
      case 'fetch':
        this.fetches.push({
          from: node.id,
          to: a.peer,
          token: a.token,
          lane: a.lane,
          body: a.body,
          at: this.now,
          timeoutMs: a.timeoutMs,
        });
        return;
      case 'cancel-fetch':
        this.fetches = this.fetches.filter((f) => !(f.from === node.id && f.token === a.token));
        return;
      case 'validate':
        node.core.onValidated(a.token, 'accept', this.now);
        return;
      case 'deliver':
        node.delivered.push(a.artifact);
        return;
      case 'wake':
        node.wakeAt = a.at;
        return;
      case 'chunk-open':
        if (!node.store.has(a.id)) node.store.set(a.id, new Map());
        return;
      case 'chunk-write':
        this.writes.push({
          node: node.id,
          channel: a.channel,
          id: a.id,
          index: a.index,
          bytes: a.bytes,
        });
        return;
      case 'chunk-delete':
        node.store.delete(a.id);
        return;
      default:
        return;
    }
  }

  /** What node `to` answers to a fetch (a chunk read from its store, maybe corrupted). */
  answer(f: PendingFetch): Uint8Array {
    const server = this.node(f.to);
    if (server.serve) return server.serve(f);
    const r = server.core.serveRequest(f.lane, f.body);
    if (!('type' in r)) return Buffer.concat(Array.isArray(r) ? r : [r as Uint8Array]);
    const chunk = server.store.get(r.id)?.get(r.index);
    if (!chunk) return FetchResponse.encode({ artifact: new Uint8Array(0), missing: true });
    server.chunksServed++;
    server.servedTo.set(f.from, (server.servedTo.get(f.from) ?? 0) + 1);
    const bytes = Buffer.from(chunk);
    if (server.corrupt) bytes[0]! ^= 0xff;
    return Buffer.concat([lengthDelimitedPrefix(1, bytes.length), bytes]);
  }

  /** One step: completes a random pending fetch or write, or advances to the next wake-up. */
  step(): boolean {
    this.settle();
    const silent = [...this.nodes.values()].some((n) => n.ignores);
    const answerable = silent ? this.fetches.filter((f) => !this.#ignored(f)) : this.fetches;
    const pending = answerable.length + this.writes.length;
    if (pending > 0) {
      this.now += this.stepMs;
      const k = this.rng.int(0, pending - 1);
      if (k < answerable.length) {
        const f = answerable[k]!;
        this.fetches.splice(this.fetches.indexOf(f), 1);
        const body = this.answer(f);
        this.node(f.from).core.onFetched(f.token, { ok: true, body }, this.now);
      } else {
        const [w] = this.writes.splice(k - answerable.length, 1) as [PendingWrite];
        const node = this.node(w.node);
        const held = node.store.get(w.id);
        held?.set(w.index, w.bytes);
        node.core.onChunkWritten(w.channel, w.id, w.index, held !== undefined, this.now);
      }
    } else {
      const times = [...this.nodes.values()]
        .map((n) => n.wakeAt)
        .filter((t): t is number => t !== undefined);
      // Fetches nobody answers (the only ones left) end at their deadline.
      for (const f of this.fetches) times.push(f.at + f.timeoutMs);
      if (times.length === 0) return false;
      this.now = Math.max(this.now + 1, Math.min(...times));
    }
    if (silent) this.#timeOut();
    for (const node of this.nodes.values()) {
      if (node.wakeAt !== undefined && node.wakeAt <= this.now) {
        node.wakeAt = undefined;
        node.core.tick(this.now);
      }
    }
    this.settle();
    this.onStep?.();
    return true;
  }

  #ignored(f: PendingFetch): boolean {
    return this.node(f.to).ignores?.(f) === true;
  }

  /** Fetches nobody answers whose deadline has passed end in a timeout. */
  #timeOut(): void {
    const due = this.fetches.filter((f) => this.#ignored(f) && f.at + f.timeoutMs <= this.now);
    if (due.length === 0) return;
    this.fetches = this.fetches.filter((f) => !due.includes(f));
    for (const f of due) {
      this.node(f.from).core.onFetched(f.token, { ok: false, reason: 'timeout' }, this.now);
    }
  }

  /** Steps until `until()` holds; false if nothing is left to do or `maxSteps` ran out. */
  run(until: () => boolean, maxSteps = 200_000): boolean {
    for (let i = 0; i < maxSteps; i++) {
      if (until()) return true;
      if (!this.step()) return until();
    }
    return until();
  }
}
