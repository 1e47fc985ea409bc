/**
 * Runs one system of the comparison: starts its nodes as child processes on 127.0.0.1, links
 * them, runs one round per artifact size (every node broadcasts its share from a common start
 * time), and collects per round the nodes' reports and the wire bytes of their sockets.
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NodeIdentity } from '../../src/identity/index.ts';
import {
  type FromNode,
  type NodeRoundReport,
  now,
  type RoundSpec,
  type SystemName,
  type ToNode,
} from './protocol.ts';
import { type WireDelta, wireDelta, wireSnapshot } from './wire.ts';

const MODULES: Record<SystemName, string> = {
  'subnet-p2p': 'node-subnet-p2p.ts',
  gossipsub: 'node-gossipsub.ts',
  'raw-pull': 'node-raw-pull.ts',
  'raw-tls': 'node-raw-tls.ts',
};

/** Time between the round message and the common start of the sends, ms. */
const START_LEAD_MS = 150;
/** Time allowed for the nodes to start and link, ms. */
const SETUP_TIMEOUT_MS = 90_000;

/** One round to run: `perNode` artifacts of `size` bytes from every node. */
export interface RoundPlan {
  size: number;
  perNode: number;
  /** subnet-p2p only: the channel (see RoundSpec.channel); absent: by size, as always. */
  channel?: string;
  /** A warm-up round: run like the others, its figures left out of the results' tables. */
  warmup?: boolean;
  /** Paced sends (RoundSpec.intervalMs); absent: a burst. */
  intervalMs?: number;
}

export interface SystemRunOptions {
  system: SystemName;
  identities: readonly NodeIdentity[];
  rounds: readonly RoundPlan[];
  /** A round must complete within this many ms. */
  roundTimeoutMs: number;
  /** Wait after the last node completed before reading wire bytes and reports, ms. */
  settleMs: number;
  /** subnet-p2p's relay policy, if not the channel default. */
  relay?: 'relay' | 'origin-only';
  /** subnet-p2p's load governor (default on). */
  bulkYield?: boolean;
  /** Where each node writes a V8 CPU profile of each round (none if absent). */
  profileDir?: string;
  /** Node flags each node process starts with (default none). */
  nodeFlags?: readonly string[];
  log?: (message: string) => void;
}

/** What one round of one system measured, before summarizing. */
export interface RawRound {
  system: SystemName;
  size: number;
  perNode: number;
  nodes: number;
  channel?: string;
  /** From the common start to the last node holding every artifact, ms (null: incomplete). */
  durationMs: number | null;
  wire: WireDelta | null;
  reports: NodeRoundReport[];
  /**
   * When the round ran, on the monotonic clock `perf record -k CLOCK_MONOTONIC` stamps its
   * samples with (seconds), and the node processes' pids: bench/perf-stages.ts cuts a
   * system-wide profile to the round with them.
   */
  window?: { monotonicStartS: number; monotonicEndS: number; pids: number[] };
  error?: string;
}

/** CLOCK_MONOTONIC, seconds (process.hrtime reads it on Linux). */
function monotonicSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** One node process and its messages, as promises the run awaits. */
class NodeProc {
  readonly child: ChildProcess;
  readonly #waiters = new Map<FromNode['type'], ((msg: FromNode) => void)[]>();
  readonly #inbox: FromNode[] = [];
  failure: string | undefined;
  #onFail: (message: string) => void;

  constructor(
    system: SystemName,
    index: number,
    nodeFlags: readonly string[],
    onFail: (message: string) => void,
  ) {
    this.#onFail = onFail;
    const entry = fileURLToPath(new URL(`./${MODULES[system]}`, import.meta.url));
    this.child = fork(entry, [], {
      execArgv: [...nodeFlags, '--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (msg: FromNode) => {
      if (msg.type === 'failed') {
        this.failure = msg.message;
        this.#onFail(msg.message);
        return;
      }
      const waiting = this.#waiters.get(msg.type);
      const w = waiting?.shift();
      if (w) w(msg);
      else this.#inbox.push(msg);
    });
    this.child.on('exit', (code, signal) => {
      if (this.failure === undefined && !this.stopping) {
        this.failure = `node ${index} (${system}) exited with ${signal ?? code}`;
        this.#onFail(this.failure);
      }
    });
  }

  stopping = false;

  send(msg: ToNode): void {
    if (this.child.connected) this.child.send(msg);
  }

  /** The next message of `type` (one already received first). */
  next<T extends FromNode['type']>(type: T): Promise<Extract<FromNode, { type: T }>> {
    const i = this.#inbox.findIndex((m) => m.type === type);
    if (i >= 0) {
      const [msg] = this.#inbox.splice(i, 1);
      return Promise.resolve(msg as Extract<FromNode, { type: T }>);
    }
    return new Promise((resolve) => {
      const list = this.#waiters.get(type) ?? [];
      list.push(resolve as (msg: FromNode) => void);
      this.#waiters.set(type, list);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

class RunStop extends Error {}

/** Runs `options.system` through every round; never rejects for a failing node or a timeout. */
export async function runSystem(options: SystemRunOptions): Promise<RawRound[]> {
  const { system, identities, rounds } = options;
  const log = options.log ?? (() => undefined);
  const n = identities.length;
  let stopReject: (err: Error) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stopReject = reject;
  });
  stopped.catch(() => undefined);
  const procs = identities.map(
    (_, i) =>
      new NodeProc(system, i, options.nodeFlags ?? [], (message) =>
        stopReject(new RunStop(message)),
      ),
  );
  const within = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RunStop(`${what}: timed out after ${ms} ms`)), ms);
    });
    try {
      return await Promise.race([p, stopped, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  const pids = new Set(procs.map((p) => p.child.pid!));
  const results: RawRound[] = [];
  /** A round before it ran: nothing measured yet. */
  const emptyRound = (plan: RoundPlan): RawRound => ({
    system,
    size: plan.size,
    perNode: plan.perNode,
    nodes: n,
    ...(plan.channel !== undefined ? { channel: plan.channel } : {}),
    durationMs: null,
    wire: null,
    reports: [],
  });
  /** The result of a round that did not run (or not to the end). */
  const notRun = (plan: RoundPlan, error: string): RawRound => ({ ...emptyRound(plan), error });
  let roundIndex = 0;
  try {
    const setupStart = now();
    procs.forEach((p, index) => {
      const id = identities[index]!;
      p.send({
        type: 'setup',
        setup: {
          system,
          index,
          nodes: n,
          keyPem: id.privateKeyPem,
          certPem: id.certificatePem,
          ...(options.relay ? { relay: options.relay } : {}),
          ...(options.bulkYield === false ? { bulkYield: false } : {}),
          ...(options.profileDir ? { profileDir: options.profileDir } : {}),
        },
      });
    });
    const listening = await within(
      Promise.all(procs.map((p) => p.next('listening'))),
      SETUP_TIMEOUT_MS,
      `${system}: starting ${n} nodes`,
    );
    const addresses = listening.map((m) => m.address);
    for (const p of procs) p.send({ type: 'peers', addresses });
    await within(
      Promise.all(procs.map((p) => p.next('ready'))),
      SETUP_TIMEOUT_MS,
      `${system}: linking ${n} nodes`,
    );
    log(`${system}: ${n} nodes linked in ${((now() - setupStart) / 1000).toFixed(1)} s`);

    for (const plan of rounds) {
      roundIndex += 1;
      const raw = emptyRound(plan);
      results.push(raw);
      const before = await wireSnapshot(pids);
      const spec: RoundSpec = {
        round: roundIndex,
        size: plan.size,
        perNode: plan.perNode,
        ...(plan.channel !== undefined ? { channel: plan.channel } : {}),
        ...(plan.intervalMs ? { intervalMs: plan.intervalMs } : {}),
        startAt: now() + START_LEAD_MS,
      };
      const windowStart = monotonicSeconds() + START_LEAD_MS / 1000;
      for (const p of procs) p.send({ type: 'round', spec });
      try {
        const done = await within(
          Promise.all(procs.map((p) => p.next('done'))),
          options.roundTimeoutMs,
          `${system} round of ${plan.perNode} x ${plan.size} B per node`,
        );
        raw.durationMs = Math.max(...done.map((d) => d.at)) - spec.startAt;
        raw.window = {
          monotonicStartS: windowStart,
          monotonicEndS: monotonicSeconds(),
          pids: [...pids],
        };
      } catch (err) {
        if (!(err instanceof RunStop)) throw err;
        raw.error = err.message;
      }
      await new Promise((r) => setTimeout(r, options.settleMs));
      const after = await wireSnapshot(pids);
      raw.wire = before && after ? wireDelta(before, after) : null;
      for (const p of procs) p.send({ type: 'report' });
      try {
        const reports = await within(
          Promise.all(procs.map((p) => p.next('report'))),
          30_000,
          `${system}: collecting reports`,
        );
        raw.reports = reports.map((r) => r.report);
      } catch (err) {
        if (!(err instanceof RunStop)) throw err;
        raw.error ??= err.message;
      }
      log(
        `${system}: ${plan.warmup ? 'warm-up, ' : ''}${plan.perNode} x ${plan.size} B per node${plan.channel ? ` (${plan.channel})` : ''}: ${
          raw.durationMs === null ? `incomplete (${raw.error})` : `${raw.durationMs.toFixed(0)} ms`
        }`,
      );
      if (raw.error !== undefined) break;
    }
  } catch (err) {
    if (!(err instanceof RunStop)) throw err;
    log(`${system}: ${err.message}`);
    const last = results.at(-1);
    if (last && last.error === undefined) last.error = err.message;
    for (const plan of rounds.slice(results.length)) results.push(notRun(plan, err.message));
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
  // Rounds not run after a failed one.
  for (const plan of rounds.slice(results.length)) {
    results.push(notRun(plan, 'not run: an earlier round failed'));
  }
  return results;
}
