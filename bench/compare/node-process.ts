/**
 * The part of a node process that is the same for every system: the IPC lifecycle (see
 * protocol.ts), the round's sends (stamped artifacts, as fast as the system takes them), the
 * receiving side (distinct deliveries, one-way latencies), and the process's CPU time and peak
 * resident memory. A system plugs in as a {@link SystemNode}.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  type FromNode,
  HEADER_BYTES,
  type NodeRoundReport,
  type NodeSetup,
  now,
  type RoundSpec,
  type ToNode,
} from './protocol.ts';

/** How often the resident set size is sampled during a round, ms. */
const RSS_SAMPLE_MS = 100;

/** One system's node, as the common process code drives it. */
export interface SystemNode {
  /** Starts listening on 127.0.0.1; resolves with the address peers reach it at. */
  start(setup: NodeSetup, deliver: (bytes: Uint8Array) => void): Promise<string>;
  /** Links to the other nodes (`addresses[i]` is node i's, own included); resolves when ready. */
  connect(addresses: readonly string[]): Promise<void>;
  /** Broadcasts one artifact to every other node. */
  broadcast(bytes: Uint8Array, spec: RoundSpec): Promise<void> | void;
  /** Cumulative counters; the round reports their deltas. `payloadCopies` as in the report. */
  counters(): Promise<Record<string, number>> | Record<string, number>;
  /** Payload copies received, from the counters (null: the system cannot tell per node). */
  payloadCopies(counters: Record<string, number>): number | null;
  stop(): Promise<void>;
}

/** Counts one round's deliveries at one node. */
export class RoundReceiver {
  readonly #spec: RoundSpec;
  readonly #self: number;
  readonly #nodes: number;
  readonly #seen: Uint8Array;
  readonly #latencies: number[] = [];
  readonly #expected: number;
  deliveries = 0;
  receivedBytes = 0;
  appDuplicates = 0;
  malformed = 0;
  completedAt: number | null = null;
  #onComplete: (() => void) | undefined;

  get round(): number {
    return this.#spec.round;
  }

  constructor(spec: RoundSpec, self: number, nodes: number, onComplete?: () => void) {
    this.#spec = spec;
    this.#self = self;
    this.#nodes = nodes;
    this.#seen = new Uint8Array(nodes * spec.perNode);
    this.#expected = (nodes - 1) * spec.perNode;
    this.#onComplete = onComplete;
    if (this.#expected === 0) this.completedAt = now();
  }

  /** Records one delivered artifact, received at `at`. */
  record(bytes: Uint8Array, at: number): void {
    if (bytes.length !== this.#spec.size || bytes.length < HEADER_BYTES) {
      this.malformed += 1;
      return;
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
    const sentAt = view.getFloat64(0, true);
    const round = view.getUint32(8, true);
    const origin = view.getUint32(12, true);
    const seq = view.getUint32(16, true);
    if (
      round !== this.#spec.round ||
      origin >= this.#nodes ||
      origin === this.#self ||
      seq >= this.#spec.perNode
    ) {
      this.malformed += 1;
      return;
    }
    const k = origin * this.#spec.perNode + seq;
    if (this.#seen[k]) {
      this.appDuplicates += 1;
      return;
    }
    this.#seen[k] = 1;
    this.deliveries += 1;
    this.receivedBytes += bytes.length;
    this.#latencies.push(at - sentAt);
    if (this.deliveries === this.#expected) {
      this.completedAt = at;
      this.#onComplete?.();
    }
  }

  latencies(): Float64Array {
    return Float64Array.from(this.#latencies);
  }
}

/**
 * The artifacts node `origin` broadcasts in a round: distinct random bytes (a fresh copy of one
 * random block each, so no two artifacts of the run are equal), the header filled at send time.
 */
export function makeArtifacts(spec: RoundSpec, origin: number): Uint8Array[] {
  const block = randomFillSync(new Uint8Array(spec.size));
  return Array.from({ length: spec.perNode }, (_, seq) => {
    const bytes = new Uint8Array(block);
    const view = new DataView(bytes.buffer, 0, HEADER_BYTES);
    view.setUint32(8, spec.round, true);
    view.setUint32(12, origin, true);
    view.setUint32(16, seq, true);
    // Distinct content even if two rounds drew the same block.
    randomFillSync(bytes, HEADER_BYTES, Math.min(16, spec.size - HEADER_BYTES));
    return bytes;
  });
}

/** The round number in an artifact's header. */
function roundOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES).getUint32(8, true);
}

function stamp(bytes: Uint8Array): void {
  new DataView(bytes.buffer, bytes.byteOffset, 8).setFloat64(0, now(), true);
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

function diff(after: Record<string, number>, before: Record<string, number>) {
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
}

/** A V8 CPU profile of each round, or nothing. */
interface RoundProfiler {
  start(): Promise<void>;
  /** Stops the profile and writes it to `file` in the folder. */
  stop(file: string): Promise<void>;
}

/** Profiles rounds through the inspector (not `--cpu-prof`, which covers the whole process). */
function roundProfiler(dir: string): RoundProfiler {
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object) =>
    new Promise<T>((resolve, reject) =>
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))),
    );
  let running = false;
  return {
    async start() {
      await post('Profiler.enable');
      await post('Profiler.start');
      running = true;
    },
    async stop(file) {
      if (!running) return;
      running = false;
      const { profile } = await post<{ profile: object }>('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, file), JSON.stringify(profile));
    },
  };
}

/**
 * Runs this process as a node of `system` until the driver says stop. Must be called in a
 * process started with an IPC channel.
 */
export function runNodeProcess(system: SystemNode): void {
  const send = (msg: FromNode) => process.send?.(msg);
  if (!process.send) throw new Error('a node process needs an IPC channel (child_process.fork)');
  let setup: NodeSetup | undefined;
  let receiver: RoundReceiver | undefined;
  let round:
    | {
        spec: RoundSpec;
        cpuStart: NodeJS.CpuUsage;
        countersStart: Record<string, number>;
        peakRss: number;
        sampler: NodeJS.Timeout;
        broadcasts: number;
        broadcastErrors: number;
        sending: Promise<void>;
      }
    | undefined;
  let profiler: RoundProfiler = { start: async () => undefined, stop: async () => undefined };
  let failed = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    send({ type: 'failed', message: `node ${setup?.index}: ${describe(err)}` });
    setTimeout(() => process.exit(1), 100);
  };
  // Artifacts of a round this node has not been told of yet (a peer started first): kept,
  // with their arrival time, until the round's receiver exists.
  let early: { bytes: Uint8Array; at: number }[] = [];
  const deliver = (bytes: Uint8Array) => {
    const at = now();
    const round = bytes.length >= HEADER_BYTES ? roundOf(bytes) : -1;
    if (receiver === undefined || round > receiver.round) early.push({ bytes, at });
    else receiver.record(bytes, at);
  };

  async function startRound(spec: RoundSpec): Promise<void> {
    const self = setup!.index;
    const artifacts = makeArtifacts(spec, self);
    const countersStart = await system.counters();
    await profiler.start();
    const state = {
      spec,
      cpuStart: process.cpuUsage(),
      countersStart,
      peakRss: process.memoryUsage.rss(),
      sampler: setInterval(() => {
        state.peakRss = Math.max(state.peakRss, process.memoryUsage.rss());
      }, RSS_SAMPLE_MS),
      broadcasts: 0,
      broadcastErrors: 0,
      sending: Promise.resolve(),
    };
    round = state;
    const sendingDone = { value: false };
    const maybeDone = () => {
      if (sendingDone.value && receiver?.completedAt !== null && receiver !== undefined) {
        send({ type: 'done', at: receiver.completedAt });
      }
    };
    receiver = new RoundReceiver(spec, self, setup!.nodes, maybeDone);
    const replay = early.filter((e) => roundOf(e.bytes) === spec.round);
    early = early.filter((e) => roundOf(e.bytes) > spec.round);
    for (const e of replay) receiver.record(e.bytes, e.at);
    state.sending = (async () => {
      // Paced: the k-th at startAt + (k + self / nodes) * interval, the nodes staggered within
      // each interval; one whose time has passed goes at once.
      const interval = spec.intervalMs ?? 0;
      const offset = (interval * self) / setup!.nodes;
      for (const [k, bytes] of artifacts.entries()) {
        const wait = spec.startAt + offset + k * interval - now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        stamp(bytes);
        try {
          await system.broadcast(bytes, spec);
          state.broadcasts += 1;
        } catch (err) {
          state.broadcastErrors += 1;
          fail(err);
        }
        await yieldToLoop();
      }
      sendingDone.value = true;
      maybeDone();
    })();
  }

  async function report(): Promise<NodeRoundReport> {
    const r = round!;
    const rec = receiver!;
    await r.sending;
    clearInterval(r.sampler);
    await profiler.stop(`${setup!.system}-r${r.spec.round}-n${setup!.index}.cpuprofile`);
    const counters = diff(await system.counters(), r.countersStart);
    const cpu = process.cpuUsage(r.cpuStart);
    const peakRssBytes = Math.max(r.peakRss, process.memoryUsage.rss());
    return {
      index: setup!.index,
      deliveries: rec.deliveries,
      receivedBytes: rec.receivedBytes,
      appDuplicates: rec.appDuplicates,
      payloadCopies: system.payloadCopies(counters),
      counters,
      malformed: rec.malformed,
      latenciesMs: rec.latencies(),
      completedAt: rec.completedAt,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      peakRssBytes,
      broadcasts: r.broadcasts,
      broadcastErrors: r.broadcastErrors,
    };
  }

  process.on('message', (msg: ToNode) => {
    const step = (async () => {
      switch (msg.type) {
        case 'setup':
          setup = msg.setup;
          if (setup.profileDir) profiler = roundProfiler(setup.profileDir);
          send({ type: 'listening', address: await system.start(msg.setup, deliver) });
          break;
        case 'peers':
          await system.connect(msg.addresses);
          send({ type: 'ready' });
          break;
        case 'round':
          await startRound(msg.spec);
          break;
        case 'report':
          send({ type: 'report', report: await report() });
          break;
        case 'stop':
          if (round) clearInterval(round.sampler);
          await system.stop().catch(() => undefined);
          process.disconnect?.();
          process.exit(0);
      }
    })();
    step.catch(fail);
  });
  process.on('disconnect', () => process.exit(0));
}
