import { UnknownChannelError } from '../../errors.ts';
import type { NodeId } from '../../identity/index.ts';
import type { ConnId } from '../../transport/link.ts';
import type { CoreAction, DownloadLimits } from '../types.ts';
import type { ChannelState } from './channel-state.ts';
import { LinkRates } from './link-rates.ts';
import type { CoreObserver, CounterName, TimingName } from './observer.ts';

/** Bounds of the messages the core writes and reads. */
export interface MessageLimits {
  /** Slot updates in one message; a peer's message with more is malformed. Default 1000. */
  maxUpdatesPerMessage: number;
  /** Inline artifact bytes in one message we write (one larger artifact goes alone). Default 256 KiB. */
  maxInlineBytesPerMessage: number;
}

/** The default {@link MessageLimits}. */
export const DEFAULT_MESSAGE_LIMITS: Readonly<MessageLimits> = Object.freeze({
  maxUpdatesPerMessage: 1000,
  maxInlineBytesPerMessage: 256 * 1024,
});

/**
 * What the core's sub-protocols share: the node, its limits, its channels, the peers up, the
 * clock (the time of the latest event), the one queue of actions (in order), the counters and
 * the dismissed keys (artifacts rejected, aborted or purged: not fetched again).
 */
export class CoreContext {
  readonly self: NodeId;
  readonly limits: DownloadLimits;
  readonly msg: MessageLimits;
  /** The channels, by name and by wire number. */
  readonly channels = new Map<string, ChannelState>();
  readonly byNumber = new Map<number, ChannelState>();
  /** The peers whose link is up, with its connection id. */
  readonly up = new Map<NodeId, ConnId>();
  /** The time of the latest event, ms. */
  now = 0;
  /** Per peer up, its link's measured share and our bytes in flight to it: fetch deadlines. */
  readonly links: LinkRates;
  readonly #obs: CoreObserver;
  #actions: CoreAction[] = [];
  readonly #dismissed = new Set<string>();

  constructor(self: NodeId, limits: DownloadLimits, msg: MessageLimits, obs: CoreObserver) {
    this.self = self;
    this.limits = limits;
    this.msg = msg;
    this.#obs = obs;
    this.links = new LinkRates(limits);
  }

  /** The channel named `name`; throws ERR_UNKNOWN_CHANNEL. */
  channel(name: string): ChannelState {
    const ch = this.channels.get(name);
    if (!ch) throw new UnknownChannelError(name);
    return ch;
  }

  /** Queues an action. */
  act(action: CoreAction): void {
    this.#actions.push(action);
  }

  /** The actions queued since the last call, in order. */
  takeActions(): CoreAction[] {
    const out = this.#actions;
    this.#actions = [];
    return out;
  }

  /** Counts a decision (see `CoreObserver.count`). */
  count(name: CounterName, labels: Record<string, string>, n = 1): void {
    this.#obs.count(name, labels, n);
  }

  /** Reports a duration in `channel`, ms (see `CoreObserver.timing`). */
  timing(name: TimingName, channel: string, ms: number): void {
    this.#obs.timing?.(name, channel, Math.max(0, ms));
  }

  /** Whether `key` was dismissed (and not broadcast again since). */
  dismissed(key: string): boolean {
    return this.#dismissed.has(key);
  }

  /** Remembers `key` as dismissed; the oldest are forgotten past `maxDismissedIds`. */
  dismiss(key: string): void {
    this.#dismissed.delete(key); // re-added: it becomes the newest
    this.#dismissed.add(key);
    if (this.#dismissed.size > this.limits.maxDismissedIds) {
      this.#dismissed.delete(this.#dismissed.values().next().value!);
    }
  }

  /** `key` is broadcast again by the application: no longer dismissed. */
  undismiss(key: string): void {
    this.#dismissed.delete(key);
  }
}
