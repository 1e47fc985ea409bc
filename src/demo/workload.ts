/**
 * The demo workload: which artifacts each node broadcasts, when, on which channel (the plan,
 * computed identically by every node from the workload options), the sending loops, and the
 * receiving side that counts distinct deliveries and one-way latencies.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DeliveredArtifact } from '../broadcast/index.ts';
import { SubnetP2pError } from '../errors.ts';
import type { Node } from '../node/index.ts';
import {
  CHANNELS,
  type ChannelName,
  CONSENSUS,
  CONSENSUS_PUSH_THRESHOLD,
  type DemoWorkload,
  HEADER_BYTES,
  INGRESS,
  LARGE_ARTIFACT_BYTES,
} from './protocol.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Mixed workload: every this-many-th artifact of a node (staggered among nodes) is consensus. */
export const CONSENSUS_EVERY = 4;
/** Sizes of mixed consensus artifacts, bytes. */
export const CONSENSUS_MIN_BYTES = 200;
export const CONSENSUS_MAX_BYTES = 1000;
/** Sizes of mixed ingress artifacts, bytes. */
export const INGRESS_MIN_BYTES = 16 * KiB;
export const INGRESS_MAX_BYTES = MiB;
/** Size of a background bulk artifact (the last one of a node may be smaller), bytes. */
export const BACKGROUND_ARTIFACT_BYTES = MiB;
/** Consensus pacing of a background-bulk run without `consensusIntervalMs`, ms. */
export const DEFAULT_BACKGROUND_INTERVAL_MS = 20;
/** Background-bulk run: pause between the last quiet consensus artifact and the bulk, ms. */
export const QUIET_GAP_MS = 200;
/** Background-bulk run: time the bulk gets to fill the links before the loaded stream, ms. */
export const BULK_WARMUP_MS = 300;
/** Wait before retrying a broadcast() refused with ERR_QUEUE_FULL, ms. */
const RETRY_MS = 10;

/**
 * The clock of the demo, ms: the same in every worker thread, and in every node process of the
 * machine (wall-clock time at high resolution; measured within ~0.01 ms between processes).
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Which part of a background-bulk run an artifact belongs to. */
export type Phase = 'alone' | 'loaded' | 'background';

/** One artifact of the run. */
export interface PlannedArtifact {
  /** Position in the run (0-based); workload artifacts first, then background ones. */
  readonly index: number;
  readonly origin: number;
  /** Position among its origin's artifacts. */
  readonly seq: number;
  readonly channel: ChannelName;
  readonly size: number;
  readonly urgent: boolean;
  /** Paced artifacts are sent on their own schedule; the others as fast as possible, in order. */
  readonly paced: boolean;
  /** Earliest send time, ms after the common start. */
  readonly at: number;
  readonly phase?: Phase;
}

/** Artifacts of one channel in the plan. */
export interface ChannelPlan {
  artifacts: number;
  payloadBytes: number;
  minSize: number | null;
  maxSize: number | null;
}

/** Every artifact of a run, as every node computes it. */
export interface WorkloadPlan {
  readonly nodes: number;
  /** The workload with defaults filled in. */
  readonly workload: Required<DemoWorkload>;
  /** All artifacts, by index. */
  readonly artifacts: readonly PlannedArtifact[];
  /** Each node's artifacts, by sequence number. */
  readonly byOrigin: readonly (readonly PlannedArtifact[])[];
  readonly workloadArtifacts: number;
  readonly backgroundArtifacts: number;
  /** Sum of the sizes of all artifacts. */
  readonly payloadBytes: number;
  readonly channels: Record<ChannelName, ChannelPlan>;
  /** When the background bulk starts, ms after the common start (background runs only). */
  readonly bulkStartMs: number | null;
}

/** Fractional part of k * alpha: a deterministic, evenly spread sequence in [0, 1). */
function spread(k: number, alpha: number): number {
  const x = k * alpha;
  return x - Math.floor(x);
}

/** The workload with its defaults: no fixed size, no pacing, no background. */
export function resolveWorkload(w: DemoWorkload): Required<DemoWorkload> {
  const backgroundBulkBytes = w.backgroundBulkBytes ?? 0;
  let consensusIntervalMs = w.consensusIntervalMs ?? 0;
  if (backgroundBulkBytes > 0 && consensusIntervalMs === 0) {
    consensusIntervalMs = DEFAULT_BACKGROUND_INTERVAL_MS;
  }
  return { artifacts: w.artifacts, size: w.size ?? 0, consensusIntervalMs, backgroundBulkBytes };
}

/**
 * The run's artifacts. Artifact k comes from node k % nodes (sequence k / nodes). Mixed (no
 * size): a node's artifact is consensus when (seq + origin) % 4 == 0, 200-1000 bytes, urgent;
 * otherwise ingress, 16 KiB-1 MiB; sizes spread evenly by index. A fixed size puts every
 * artifact on consensus (urgent) up to 1 KiB, else on ingress.
 */
export function planWorkload(nodes: number, input: DemoWorkload): WorkloadPlan {
  const workload = resolveWorkload(input);
  const { size, consensusIntervalMs: interval, backgroundBulkBytes: background } = workload;
  const shape: { channel: ChannelName; size: number }[] = [];
  for (let k = 0; k < workload.artifacts; k++) {
    const origin = k % nodes;
    const seq = Math.floor(k / nodes);
    if (size > 0) {
      shape.push({ channel: size <= CONSENSUS_PUSH_THRESHOLD ? CONSENSUS : INGRESS, size });
    } else if ((seq + origin) % CONSENSUS_EVERY === 0) {
      const range = CONSENSUS_MAX_BYTES - CONSENSUS_MIN_BYTES + 1;
      shape.push({
        channel: CONSENSUS,
        size: CONSENSUS_MIN_BYTES + Math.floor(spread(k, 0.7548776662466927) * range),
      });
    } else {
      const range = INGRESS_MAX_BYTES - INGRESS_MIN_BYTES + 1;
      shape.push({
        channel: INGRESS,
        size: INGRESS_MIN_BYTES + Math.floor(spread(k, 0.6180339887498949) * range),
      });
    }
  }

  // Consensus pacing: node i's j-th consensus artifact at offset_i + j * interval, offsets
  // staggered over one interval. A background run splits each stream in two halves around
  // the start of the bulk.
  const consensusOf: number[][] = Array.from({ length: nodes }, () => []);
  shape.forEach((s, k) => {
    if (s.channel === CONSENSUS) consensusOf[k % nodes]!.push(k);
  });
  const halves = consensusOf.map((ks) => Math.ceil(ks.length / 2));
  const bulkStartMs = background > 0 ? Math.max(0, ...halves) * interval + QUIET_GAP_MS : null;
  const timing = new Map<number, { at: number; phase?: Phase }>();
  consensusOf.forEach((ks, origin) => {
    const offset = (origin * interval) / nodes;
    ks.forEach((k, j) => {
      if (interval === 0) return;
      if (bulkStartMs === null) timing.set(k, { at: offset + j * interval });
      else if (j < halves[origin]!) timing.set(k, { at: offset + j * interval, phase: 'alone' });
      else {
        const at = bulkStartMs + BULK_WARMUP_MS + offset + (j - halves[origin]!) * interval;
        timing.set(k, { at, phase: 'loaded' });
      }
    });
  });

  const artifacts: PlannedArtifact[] = shape.map((s, k) => {
    const t = timing.get(k);
    const base = {
      index: k,
      origin: k % nodes,
      seq: Math.floor(k / nodes),
      channel: s.channel,
      size: s.size,
      urgent: s.channel === CONSENSUS,
    };
    if (t) return { ...base, paced: true, ...t };
    // Unpaced: at once; in a background run, workload ingress goes with the bulk.
    return { ...base, paced: false, at: bulkStartMs ?? 0 };
  });
  const byOrigin: PlannedArtifact[][] = Array.from({ length: nodes }, () => []);
  for (const a of artifacts) byOrigin[a.origin]!.push(a);
  if (background > 0) {
    const perNode = Math.ceil(background / BACKGROUND_ARTIFACT_BYTES);
    for (let origin = 0; origin < nodes; origin++) {
      for (let j = 0; j < perNode; j++) {
        const rest = background - j * BACKGROUND_ARTIFACT_BYTES;
        const a: PlannedArtifact = {
          index: artifacts.length,
          origin,
          seq: byOrigin[origin]!.length,
          channel: INGRESS,
          size: Math.max(HEADER_BYTES, Math.min(BACKGROUND_ARTIFACT_BYTES, rest)),
          urgent: false,
          paced: false,
          at: bulkStartMs!,
          phase: 'background',
        };
        artifacts.push(a);
        byOrigin[origin]!.push(a);
      }
    }
  }

  const channels = Object.fromEntries(
    CHANNELS.map((c) => [c, { artifacts: 0, payloadBytes: 0, minSize: null, maxSize: null }]),
  ) as Record<ChannelName, ChannelPlan>;
  for (const a of artifacts) {
    const c = channels[a.channel];
    c.artifacts += 1;
    c.payloadBytes += a.size;
    c.minSize = Math.min(c.minSize ?? a.size, a.size);
    c.maxSize = Math.max(c.maxSize ?? a.size, a.size);
  }
  return {
    nodes,
    workload,
    artifacts,
    byOrigin,
    workloadArtifacts: workload.artifacts,
    backgroundArtifacts: artifacts.length - workload.artifacts,
    payloadBytes: artifacts.reduce((n, a) => n + a.size, 0),
    channels,
    bulkStartMs,
  };
}

/** The bytes of `artifact`, stamped with `sentAt`: header, then random bytes. */
export function encodeArtifact(artifact: PlannedArtifact, sentAt: number): Uint8Array {
  const bytes = new Uint8Array(artifact.size);
  if (artifact.size > HEADER_BYTES) randomFillSync(bytes, HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, sentAt, true);
  view.setUint32(8, artifact.origin, true);
  view.setUint32(12, artifact.seq, true);
  return bytes;
}

/** The header of a demo artifact, if it has one. */
export function decodeHeader(
  bytes: Uint8Array,
): { sentAt: number; origin: number; seq: number } | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  return {
    sentAt: view.getFloat64(0, true),
    origin: view.getUint32(8, true),
    seq: view.getUint32(12, true),
  };
}

/** What one node's sending did. */
export interface SendStats {
  broadcasts: number;
  /** broadcast() calls refused with ERR_QUEUE_FULL, and retried. */
  retries: number;
  errors: number;
  /** How late the latest-sent paced artifact was on its schedule, ms (null: none paced). */
  pacingLagMaxMs: number | null;
}

async function until(at: number): Promise<void> {
  const wait = at - now();
  if (wait > 0) await sleep(wait);
}

/**
 * Broadcasts `mine` (one node's artifacts, by sequence) from `node`, on the plan's schedule
 * relative to `startAt`: paced artifacts each at its time, the others one after another as
 * fast as possible (yielding to the event loop after each). A broadcast() refused with
 * ERR_QUEUE_FULL is retried every 10 ms (with a fresh send time); other errors go to
 * `onError`. Resolves when every artifact was broadcast (or given up on, once `stopped()`).
 */
export async function sendArtifacts(
  node: Node,
  mine: readonly PlannedArtifact[],
  startAt: number,
  stats: SendStats,
  stopped: () => boolean,
  onError: (artifact: PlannedArtifact, err: unknown) => void,
  /** Broadcasts a large artifact from a stream (never held whole). */
  sendLarge?: (artifact: PlannedArtifact, sentAt: number) => Promise<void>,
): Promise<void> {
  const broadcastOne = async (a: PlannedArtifact): Promise<void> => {
    const channel = node.channel(a.channel);
    for (;;) {
      if (stopped()) return;
      try {
        const sentAt = now();
        if (sendLarge && a.channel === INGRESS && a.size > LARGE_ARTIFACT_BYTES) {
          await sendLarge(a, sentAt);
          stats.broadcasts += 1;
          return;
        }
        channel.broadcast(encodeArtifact(a, sentAt), { urgent: a.urgent });
        stats.broadcasts += 1;
        if (a.paced) {
          const lag = Math.max(0, sentAt - (startAt + a.at));
          stats.pacingLagMaxMs = Math.max(stats.pacingLagMaxMs ?? 0, lag);
        }
        return;
      } catch (err) {
        if (err instanceof SubnetP2pError && err.code === 'ERR_QUEUE_FULL') {
          stats.retries += 1;
          await sleep(RETRY_MS);
          continue;
        }
        stats.errors += 1;
        onError(a, err);
        return;
      }
    }
  };
  const stream = async (artifacts: readonly PlannedArtifact[]): Promise<void> => {
    for (const a of artifacts) {
      await until(startAt + a.at);
      await broadcastOne(a);
      await yieldToLoop();
    }
  };
  await Promise.all([stream(mine.filter((a) => a.paced)), stream(mine.filter((a) => !a.paced))]);
}

/**
 * Counts what one node receives: distinct artifacts of the other nodes per channel, with their
 * one-way latency. {@link complete} resolves once every artifact of the others has arrived.
 */
export class Receiver {
  /** Artifacts of the other nodes. */
  readonly expected: number;
  readonly deliveries: Record<string, number> = Object.fromEntries(CHANNELS.map((c) => [c, 0]));
  receivedBytes = 0;
  duplicateDeliveries = 0;
  malformed = 0;
  completedAt: number | null = null;
  backgroundDoneAt: number | null = null;
  lastLoadedSentAt: number | null = null;
  /** Resolves when every expected artifact has arrived. */
  readonly complete: Promise<void>;
  readonly #plan: WorkloadPlan;
  readonly #self: number;
  readonly #seen: Uint8Array;
  readonly #latencies = new Map<string, number[]>();
  readonly #expectedBackground: number;
  #received = 0;
  #background = 0;
  #resolve!: () => void;

  constructor(plan: WorkloadPlan, self: number) {
    this.#plan = plan;
    this.#self = self;
    this.#seen = new Uint8Array(plan.artifacts.length);
    const others = plan.artifacts.filter((a) => a.origin !== self);
    this.expected = others.length;
    this.#expectedBackground = others.filter((a) => a.phase === 'background').length;
    this.complete = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    if (this.expected === 0) {
      this.completedAt = now();
      this.#resolve();
    }
  }

  /** Distinct artifacts delivered so far, all channels. */
  get received(): number {
    return this.#received;
  }

  /** Records one artifact delivered on `channel` at time `at`. */
  record(
    channel: string,
    artifact: DeliveredArtifact,
    at: number,
    size = artifact.chunked?.size ?? artifact.bytes.byteLength,
  ): void {
    const header = decodeHeader(artifact.bytes);
    const planned =
      header === undefined ? undefined : this.#plan.byOrigin[header.origin]?.[header.seq];
    if (
      header === undefined ||
      planned === undefined ||
      planned.origin === this.#self ||
      planned.channel !== channel ||
      planned.size !== size
    ) {
      this.malformed += 1;
      return;
    }
    if (this.#seen[planned.index] === 1) {
      this.duplicateDeliveries += 1;
      return;
    }
    this.#seen[planned.index] = 1;
    this.deliveries[channel] = (this.deliveries[channel] ?? 0) + 1;
    this.receivedBytes += planned.size;
    const latency = at - header.sentAt;
    this.#sample(channel, latency);
    if (planned.phase === 'alone' || planned.phase === 'loaded') {
      this.#sample(`${channel}/${planned.phase}`, latency);
    }
    if (planned.phase === 'loaded') {
      this.lastLoadedSentAt = Math.max(this.lastLoadedSentAt ?? header.sentAt, header.sentAt);
    }
    if (planned.phase === 'background' && ++this.#background === this.#expectedBackground) {
      this.backgroundDoneAt = at;
    }
    this.#received += 1;
    if (this.#received === this.expected) {
      this.completedAt = at;
      this.#resolve();
    }
  }

  #sample(group: string, latency: number): void {
    let list = this.#latencies.get(group);
    if (!list) {
      list = [];
      this.#latencies.set(group, list);
    }
    list.push(latency);
  }

  /** Whether every expected artifact arrived. */
  get finished(): boolean {
    return this.#received === this.expected;
  }

  /** The latencies recorded so far, ms, per group (channel, or channel/phase). */
  latencies(): Record<string, Float64Array> {
    return Object.fromEntries(
      [...this.#latencies].map(([group, list]) => [group, Float64Array.from(list)]),
    );
  }
}
