import type { NodeId } from '../../identity/index.ts';
import { Bitset } from '../chunks/manifest.ts';
import { idFromBytes, idToBytes } from '../ids.ts';
import { type Have, SlotUpdates } from '../proto/broadcast.ts';
import type { CoreAction, DownloadLimits } from '../types.ts';
import { artifactKey, type ChannelState } from './channel-state.ts';
import type { ChunkState } from './chunk-state.ts';
import type { CounterName } from './observer.ts';

/** What the have bitmaps use of the chunked artifacts that own them. */
export interface HavesHost {
  readonly limits: DownloadLimits;
  /** The peers whose link is up. */
  readonly up: ReadonlyMap<NodeId, unknown>;
  /** `Have` entries in one message (as slot updates: `maxUpdatesPerMessage`). */
  readonly maxUpdatesPerMessage: number;
  act(action: CoreAction): void;
  count(name: CounterName, labels: Record<string, string>): void;
  now(): number;
}

/**
 * The `Have` bitmaps of chunked artifacts held in part: this node's, sent (batched every
 * `haveIntervalMs`) to the peers that do not hold the artifact whole, and the peers', which
 * make them sources of the chunks they hold.
 */
export class HaveBitmaps {
  readonly #host: HavesHost;
  readonly #chunks: ReadonlyMap<string, ChunkState>;
  /** When the changed `Have` bitmaps are sent. */
  #at: number | undefined;

  constructor(host: HavesHost, chunks: ReadonlyMap<string, ChunkState>) {
    this.#host = host;
    this.#chunks = chunks;
  }

  /** When the changed bitmaps are due, if any changed. */
  get wakeAt(): number | undefined {
    return this.#at;
  }

  /** `s` holds more chunks: its bitmap goes out with the next batch. */
  changed(s: ChunkState): void {
    s.haveDirty = true;
    this.#at ??= this.#host.now() + this.#host.limits.haveIntervalMs;
  }

  /** A link came up: every bitmap with a chunk in it is sent again (to every peer). */
  peerUp(): void {
    for (const s of this.#chunks.values()) if (s.have.count > 0) this.changed(s);
  }

  /** A peer's bitmap of the chunks it holds of an artifact we are getting. */
  apply(peer: NodeId, ch: ChannelState, h: Have): void {
    const id = idFromBytes(h.id);
    const s = id === undefined ? undefined : this.#chunks.get(artifactKey(ch.name, id));
    if (!s) return; // not an artifact we are getting: nothing to learn
    const n = s.manifest.hashes.length;
    if (h.bitmap.length !== Bitset.bytesFor(n)) {
      this.#host.count('adverts', { channel: ch.name, outcome: 'malformed', peer });
      return;
    }
    const now = this.#host.now();
    s.haveFrom.set(peer, now);
    s.activeAt = now;
    if (s.sources.get(peer) === 'all') return;
    s.sources.set(peer, new Bitset(n, h.bitmap));
  }

  /**
   * If they are due, sends the changed have bitmaps to every peer that does not advertise the
   * whole artifact.
   */
  flush(now: number): void {
    if (this.#at === undefined || now < this.#at) return;
    this.#at = undefined;
    const byPeer = new Map<NodeId, Map<ChannelState, Have[]>>();
    for (const s of this.#chunks.values()) {
      if (!s.haveDirty) continue;
      s.haveDirty = false;
      const have: Have = {
        id: idToBytes(s.id) as Uint8Array<ArrayBuffer>,
        bitmap: s.have.bits.slice() as Uint8Array<ArrayBuffer>,
      };
      for (const peer of this.#host.up.keys()) {
        if (s.sources.get(peer) === 'all') continue;
        let byChannel = byPeer.get(peer);
        if (!byChannel) {
          byChannel = new Map();
          byPeer.set(peer, byChannel);
        }
        const list = byChannel.get(s.channel) ?? [];
        list.push(have);
        byChannel.set(s.channel, list);
      }
    }
    const perMessage = this.#host.maxUpdatesPerMessage;
    for (const [peer, byChannel] of byPeer) {
      for (const [ch, haves] of byChannel) {
        for (let i = 0; i < haves.length; i += perMessage) {
          this.#host.act({
            type: 'send',
            peer,
            lane: ch.cfg.lane,
            body: SlotUpdates.encode({
              channel: ch.number,
              updates: [],
              haves: haves.slice(i, i + perMessage),
            }),
            channel: ch.name,
            slots: [],
          });
        }
      }
    }
  }
}
