import { ConfigError } from '../../errors.ts';
import type { NodeId } from '../../identity/index.ts';
import type { ArtifactPool } from '../pool.ts';
import type { ChannelConfig, DownloadLimits } from '../types.ts';
import { Adverts } from './adverts.ts';
import { newChannelState } from './channel-state.ts';
import { ChunkedArtifacts } from './chunked.ts';
import { CoreContext, DEFAULT_MESSAGE_LIMITS, type MessageLimits } from './context.ts';
import { Holdings } from './holdings.ts';
import type { CoreObserver } from './observer.ts';
import { Validations } from './validations.ts';
import { WholeArtifacts } from './whole.ts';

/** What a `BroadcastCore` is made of. */
export interface CoreOptions {
  self: NodeId;
  /** Resolved channel configurations, by name. */
  channels: ReadonlyMap<string, ChannelConfig>;
  /** One pool per channel. */
  pools: ReadonlyMap<string, ArtifactPool>;
  downloads: DownloadLimits;
  messages?: Partial<MessageLimits>;
  observer: CoreObserver;
  /**
   * Whether members `a` and `b` keep a link (the topology). Default: always (a full mesh).
   * It decides which relayed adverts say `pushed` (see `DownloadLimits.pushRelayDelayMs`).
   */
  linked?: (a: NodeId, b: NodeId) => boolean;
  /**
   * The members `node` keeps a link with (the topology). Default: unknown, and the shares of a
   * chunked artifact are cut among this node's own peers (right in a full mesh). Given, they
   * are cut among the whole holder's neighbours: in a sparse subnet only those can ask it.
   */
  neighbors?: (node: NodeId) => Iterable<NodeId>;
}

/** The core's sub-protocols, wired to each other, and the context they share. */
export interface CoreParts {
  ctx: CoreContext;
  adverts: Adverts;
  validations: Validations;
  whole: WholeArtifacts;
  chunked: ChunkedArtifacts;
  holdings: Holdings;
}

/**
 * Builds the sub-protocols of a core and its channels. Each sub-protocol reaches the others
 * only through the narrow host interface it declares; this is the one place that says which
 * one answers what (an artifact is chunked if the chunked artifacts hold its key, else whole).
 * Throws ERR_CONFIG for a channel without a pool, or two channels whose wire numbers collide.
 */
export function assembleCore(opts: CoreOptions): CoreParts {
  const msg = { ...DEFAULT_MESSAGE_LIMITS, ...opts.messages };
  const ctx = new CoreContext(opts.self, opts.downloads, msg, opts.observer);
  const linked = opts.linked ?? (() => true);
  const adverts: Adverts = new Adverts(
    ctx,
    {
      offered: (peer, ch, offer) =>
        chunked.has(offer.key)
          ? chunked.advertised(offer.key, peer, offer.size, offer.manifestSize)!
          : whole.offered(peer, ch, offer),
      withdrawn: (key, peer) => {
        chunked.withdrawn(key, peer);
        whole.withdrawn(key, peer);
      },
      haves: (peer, ch, haves) => {
        for (const h of haves) chunked.applyHave(peer, ch, h);
      },
    },
    linked,
  );
  const validations = new Validations(ctx);
  const holdings: Holdings = new Holdings(ctx, adverts, {
    release: (key) => {
      if (chunked.has(key)) chunked.drop(key);
      whole.forget(key);
    },
    partial: (key) => chunked.info(key)?.complete === false,
  });
  const whole: WholeArtifacts = new WholeArtifacts(
    ctx,
    {
      admit: (...args) => holdings.admit(...args),
      chunked: (key) => chunked.has(key),
      manifestFetched: (ch, want, peer, bytes) => chunked.manifestFetched(ch, want, peer, bytes),
    },
    validations,
    adverts,
  );
  const chunked: ChunkedArtifacts = new ChunkedArtifacts({
    self: opts.self,
    limits: ctx.limits,
    maxUpdatesPerMessage: msg.maxUpdatesPerMessage,
    up: ctx.up,
    linked,
    links: ctx.links,
    ...(opts.neighbors ? { neighbors: opts.neighbors } : {}),
    now: () => ctx.now,
    act: (action) => ctx.act(action),
    count: (name, labels) => ctx.count(name, labels),
    timing: (name, channel, ms) => ctx.timing(name, channel, ms),
    advertise: (ch, entry) => adverts.advertise(ch, entry),
    // A chunked artifact is held (admitted) already: owner and age are its record's.
    validate: (ch, key, artifact, pushedBy) =>
      validations.start({
        key,
        channel: ch,
        artifact,
        kind: 'chunked',
        pushedBy,
        owner: 'self',
        createdAt: ctx.now,
      }),
    dismiss: (key) => ctx.dismiss(key),
    dropped: (key, reason) => holdings.dropped(key, reason),
  });
  for (const [name, cfg] of opts.channels) {
    const pool = opts.pools.get(name);
    if (!pool) throw new ConfigError(`channels.${name}`, 'has no pool');
    const state = newChannelState(name, cfg, pool);
    const clash = ctx.byNumber.get(state.number);
    if (clash) {
      throw new ConfigError(
        `channels.${name}`,
        `its wire number collides with channel '${clash.name}'; rename one`,
      );
    }
    ctx.channels.set(name, state);
    ctx.byNumber.set(state.number, state);
  }
  return { ctx, adverts, validations, whole, chunked, holdings };
}

/** What a channel holds against its bounds (for gauges). */
export interface HeldUse {
  artifacts: number;
  bytes: number;
  maxArtifacts: number;
  maxBytes: number;
}

/** The core's counts for gauges (see `BroadcastCore.stats`). */
export interface CoreStats {
  wants: number;
  downloading: number;
  validating: number;
  slots: Record<string, number>;
  held: Record<string, HeldUse>;
  peersUp: number;
  /** Relayed adverts waiting for their delay (at most the slots). */
  waitingRelays: number;
}

/** Counts for gauges, sampled from the sub-protocols. */
export function coreStats(parts: CoreParts): CoreStats {
  const { ctx, whole, chunked, validations, adverts } = parts;
  const slots: Record<string, number> = {};
  const held: Record<string, HeldUse> = {};
  for (const ch of ctx.channels.values()) {
    slots[ch.name] = ch.table.size;
    const rt = ch.retention;
    held[ch.name] = {
      artifacts: rt.count,
      bytes: rt.bytes,
      maxArtifacts: rt.limits.maxArtifacts,
      maxBytes: rt.limits.maxBytes,
    };
  }
  return {
    wants: whole.downloads.size,
    downloading: whole.downloads.active + chunked.inFlight,
    validating: validations.size,
    slots,
    held,
    peersUp: ctx.up.size,
    waitingRelays: adverts.waitingRelays,
  };
}
